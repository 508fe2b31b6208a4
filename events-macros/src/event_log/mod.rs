//! `#[event_log(...)]`: parse (`attr`) → check (`check`) → expand (`expand`).

mod attr;
mod check;
mod expand;

use darling::Error;
use darling::ast::NestedMeta;
use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemStruct;

/// Expands `#[event_log(args)]` on `item`. Never panics: errors become
/// `compile_error!`s next to the re-emitted struct and a best-effort impl.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut acc = Error::accumulator();
    let strukt: ItemStruct = match syn::parse2(item.clone()) {
        Ok(s) => s,
        Err(e) => {
            let err = syn::Error::new(
                e.span(),
                "#[event_log] goes on a struct, like `#[event_log(..)] pub struct EventLog;`",
            )
            .to_compile_error();
            return quote!(#err #item);
        }
    };
    if !strukt.generics.params.is_empty() {
        acc.push(
            Error::custom("an event log cannot be generic; declare a plain struct like `pub struct EventLog;`")
                .with_span(&strukt.generics),
        );
    }
    let items = acc
        .handle(NestedMeta::parse_meta_list(args).map_err(Error::from))
        .unwrap_or_default();
    let parsed = attr::parse(&items, &mut acc);
    let model = check::check(parsed, &mut acc);
    let generated = if strukt.generics.params.is_empty() {
        expand::expand(&strukt, &model)
    } else {
        TokenStream::new()
    };
    let errors = acc.finish().err().map(Error::write_errors);
    quote!(#strukt #generated #errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(args: TokenStream) -> String {
        let out = expand(
            args,
            quote!(
                pub struct EventLog;
            ),
        );
        let text = out.to_string();
        text.split("compile_error")
            .skip(1)
            .collect::<Vec<_>>()
            .join("|")
    }

    #[test]
    fn accepts_the_full_design_sketch() {
        let out = errors(quote!(
            clear_records_for_replay = ClearAll,
            primary_key_type = integer,
            record_id_type = uuid,
            advisory_lock_key_default = 2147483647,
            advisory_lock_key_generator = MyKeys,
            persist_actor_primary_key(user_id, User),
            persist_actor_primary_key(system_actor, SystemActor, attribute_type = string),
            replay_override(User, create, versions = [1], route_to(User, create_v1)),
        ));
        assert_eq!(out, "");
    }

    #[test]
    fn reports_every_error_of_one_attribute() {
        let out = errors(quote!(
            primary_key_type = bigint,
            record_id_type = float,
            advisory_lock_key_default = [1, 2, 3],
            colour = blue,
            persist_actor_primary_key(user_id, User, allow_nil = false),
            persist_actor_primary_key(user_id, Admin),
            replay_override(User, create),
        ));
        for needle in [
            "unknown primary_key_type `bigint`",
            "unknown record_id_type `float`",
            "expected exactly two keys",
            "unknown #[event_log] option `colour`",
            "cannot have allow_nil = false",
            "duplicate actor column `user_id`",
            "needs `versions = [..]`",
            "needs at least one `route_to",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in {out}");
        }
    }

    #[test]
    fn a_single_actor_may_forbid_nil() {
        assert_eq!(
            errors(quote!(persist_actor_primary_key(
                user_id,
                User,
                allow_nil = false
            ))),
            ""
        );
    }
}
