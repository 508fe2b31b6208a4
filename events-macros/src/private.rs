//! How generated code reaches the runtime: every item it names lives under
//! `::events_core::__private`, written once here and interpolated as
//! `#private::Item`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::Ident;
use syn::ext::IdentExt;

/// The path `::events_core::__private`, spanned where it is interpolated.
///
/// Inside `quote_spanned!(span=> ..)`, interpolate [`Private::at`]`(span)` so the
/// path's tokens carry the same span as the tokens around it: rustc reports an
/// error in the expression on the user's token, not on the attribute.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Private(Span);

impl Private {
    /// The path at the macro's call site, for code no error points into.
    pub(crate) fn new() -> Self {
        Private(Span::call_site())
    }

    /// The path spanned on `span`.
    pub(crate) fn at(span: Span) -> Self {
        Private(span)
    }
}

impl ToTokens for Private {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        tokens.extend(quote_spanned!(self.0=> ::events_core::__private));
    }
}

/// An action's name as a type, `(NameChar<'c'>, NameChar<'r'>, ..,)`: the key of
/// `ReplayAction<Name>`, which `#[events]` implements for each action and
/// `route_to(Resource, action)` looks up, exact and without a generated name.
pub(crate) fn action_name_type(action: &Ident, private: Private) -> TokenStream {
    let chars = action.unraw().to_string().chars().collect::<Vec<_>>();
    quote!((#(#private::NameChar<#chars>,)*))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_path_is_the_runtime_s_private_module() {
        let private = Private::new();
        assert_eq!(
            quote!(#private::Uuid).to_string(),
            ":: events_core :: __private :: Uuid"
        );
    }

    #[test]
    fn an_action_name_is_spelled_as_a_type() {
        let raw: Ident = syn::parse_quote!(r#type);
        let plain: Ident = syn::parse_quote!(type_v1);
        let private = Private::new();
        let spelled = |i: &Ident| action_name_type(i, private).to_string();
        assert_eq!(
            spelled(&raw),
            "(:: events_core :: __private :: NameChar < 't' > , :: events_core :: __private :: NameChar < 'y' > , :: events_core :: __private :: NameChar < 'p' > , :: events_core :: __private :: NameChar < 'e' > ,)"
        );
        assert_ne!(spelled(&raw), spelled(&plain));
    }
}
