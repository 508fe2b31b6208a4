//! `#[events(...)]`: parse (`attr`) → check (`check`) → expand (`expand`).

mod attr;
mod check;
mod expand;

use darling::Error;
use darling::ast::NestedMeta;
use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemImpl;

/// Expands `#[events(args)]` on an impl block. Never panics: on errors the impl
/// block is still emitted (markers removed, well-formed actions wrapped) next to
/// the `compile_error!`s, so code using it keeps type-checking.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut acc = Error::accumulator();
    let mut block: ItemImpl = match syn::parse2(item.clone()) {
        Ok(b) => b,
        Err(e) => {
            let err = syn::Error::new(
                e.span(),
                "#[events] goes on the resource's inherent impl block, like `#[events(event_log = EventLog)] impl User { .. }`",
            )
            .to_compile_error();
            return quote!(#err #item);
        }
    };
    let items = acc
        .handle(NestedMeta::parse_meta_list(args).map_err(Error::from))
        .unwrap_or_default();
    let parsed = attr::parse(&items, &mut acc);
    let actions = attr::take_actions(&mut block, &mut acc);
    let model = check::check(&block, &parsed, &actions, &mut acc);
    let generated = if block.trait_.is_none() && block.generics.params.is_empty() {
        expand::expand(block, &model)
    } else {
        quote!(#block)
    };
    let errors = acc.finish().err().map(Error::write_errors);
    quote!(#generated #errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(args: TokenStream, item: TokenStream) -> String {
        let text = expand(args, item).to_string();
        text.split("compile_error")
            .skip(1)
            .collect::<Vec<_>>()
            .join("|")
    }

    fn user() -> TokenStream {
        quote! {
            impl User {
                #[create]
                async fn create(ctx: &mut ActionCtx<'_>, input: CreateUser) -> Result<User, Error> { todo!() }
                #[update]
                async fn update(ctx: &mut ActionCtx<'_>, input: UpdateUser) -> Result<User, Error> { todo!() }
                #[create]
                async fn create_v1(ctx: &mut ActionCtx<'_>, input: CreateUserV1) -> Result<User, Error> { todo!() }
            }
        }
    }

    #[test]
    fn accepts_the_design_sketch() {
        let out = errors(
            quote!(
                event_log = EventLog,
                ignore_actions = [create_v1],
                current_action_versions(create = 2, update = 3)
            ),
            user(),
        );
        assert_eq!(out, "");
    }

    #[test]
    fn reports_every_error_of_one_attribute() {
        let out = errors(
            quote!(
                event_log = EventLog,
                ignore_actions = [crate_v1],
                current_action_versions(create = 0, create_v1 = 2),
                colour = 1
            ),
            user(),
        );
        for needle in [
            "unknown action `crate_v1` in ignore_actions; actions here: create, update, create_v1; did you mean `create_v1`?",
            "must be 1 or more",
            "unknown #[events] option `colour`",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in {out}");
        }
    }

    #[test]
    fn version_on_ignored_action() {
        let out = errors(
            quote!(
                event_log = EventLog,
                ignore_actions = [create_v1],
                current_action_versions(create_v1 = 2)
            ),
            user(),
        );
        assert!(out.contains("action `create_v1` is ignored"), "{out}");
    }
}
