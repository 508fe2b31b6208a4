//! How generated code reaches the runtime: every item it names lives under
//! `::events_core::__private`, written once here and interpolated as
//! `#private::Item`.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote_spanned};

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

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    #[test]
    fn the_path_is_the_runtime_s_private_module() {
        let private = Private::new();
        assert_eq!(
            quote!(#private::Uuid).to_string(),
            ":: events_core :: __private :: Uuid"
        );
    }
}
