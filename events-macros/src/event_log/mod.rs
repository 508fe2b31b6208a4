//! `#[event_log(...)]`: parse (`attr`) → check (`check`) → expand (`expand`).

mod attr;
mod check;
mod expand;

use darling::Error;
use darling::ast::NestedMeta;
use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemStruct;

use crate::common;

/// Expands `#[event_log(args)]` on `item`. Never panics: errors become
/// `compile_error!`s next to the re-emitted item and, when the item is a plain
/// struct, a best-effort impl built from the valid options.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut acc = Error::accumulator();
    let items = acc
        .handle(NestedMeta::parse_meta_list(args).map_err(Error::from))
        .unwrap_or_default();
    let parsed = attr::parse(&items, &mut acc);
    let model = check::check(parsed, &mut acc);
    let output = match syn::parse2::<ItemStruct>(item.clone()) {
        Ok(strukt) if strukt.generics.params.is_empty() => {
            let generated = expand::expand(&strukt, &model);
            quote!(#strukt #generated)
        }
        Ok(strukt) => {
            acc.push(
                Error::custom(
                    "an event log cannot be generic; declare a plain struct like `pub struct EventLog;`",
                )
                .with_span(&strukt.generics),
            );
            quote!(#strukt)
        }
        Err(_) => {
            acc.push(
                Error::custom(
                    "#[event_log] goes on a struct, like `#[event_log(..)] pub struct EventLog;`",
                )
                .with_span(&common::item_keyword(&item)),
            );
            item
        }
    };
    let errors = acc.finish().err().map(Error::write_errors);
    quote!(#output #errors)
}

/// A stand-in event log with every option at its default and record ids of type
/// `record_id`: `#[events]` records into it when its `event_log` is missing or
/// malformed (already reported), so nothing else fails because of it.
pub(crate) fn fallback(ident: &syn::Ident, record_id: common::KeyTy) -> TokenStream {
    let mut acc = Error::accumulator();
    let mut model = check::check(attr::EventLogAttr::default(), &mut acc);
    // The defaults are valid; finishing only keeps the accumulator from panicking.
    let _ = acc.finish();
    model.record_id_type = record_id;
    let strukt: ItemStruct = syn::parse_quote!(
        #[doc(hidden)]
        pub struct #ident;
    );
    let generated = expand::expand(&strukt, &model);
    quote!(#strukt #generated)
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
            "found a list of 3",
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
    fn reports_options_and_the_item_when_not_on_a_struct() {
        let out = expand(
            quote!(primary_key_type = bigint),
            quote!(
                pub enum EventLog {
                    A,
                }
            ),
        )
        .to_string();
        assert!(out.contains("goes on a struct"), "{out}");
        assert!(out.contains("unknown primary_key_type `bigint`"), "{out}");
        assert!(out.contains("pub enum EventLog"), "{out}");
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

    #[test]
    fn says_what_is_wrong_with_a_lock_key() {
        for (value, needle) in [
            (quote!("2147483647"), "is a number, not a string"),
            (quote!(1.5), "must be an integer, not a float"),
            (quote!(9223372036854775808), "out of range for an i64"),
            (
                quote!([1337, 2147483648]),
                "`2147483648` is out of range for an i32",
            ),
            (quote!([1, 2, 3]), "found a list of 3"),
        ] {
            let out = errors(quote!(advisory_lock_key_default = #value));
            assert!(out.contains(needle), "missing {needle:?} in {out}");
        }
        assert_eq!(errors(quote!(advisory_lock_key_default = -5)), "");
        assert_eq!(
            errors(quote!(
                advisory_lock_key_default = [-2147483648, 2147483647]
            )),
            ""
        );
    }

    #[test]
    fn a_malformed_override_is_reported_once() {
        let out = errors(quote!(replay_override(
            User,
            create,
            version = [1],
            route_to(User, create_v1)
        )));
        assert!(out.contains("did you mean `versions`?"), "{out}");
        assert!(!out.contains("needs `versions"), "{out}");
        let out = errors(quote!(replay_override(
            User,
            create,
            versions = [1],
            route_to(User)
        )));
        assert!(out.contains("missing the target action"), "{out}");
        assert!(!out.contains("needs at least one `route_to"), "{out}");
    }

    #[test]
    fn a_repeated_actor_type_gets_one_impl() {
        let out = expand(
            quote!(
                persist_actor_primary_key(admin_id, Admin),
                persist_actor_primary_key(other_admin_id, Admin)
            ),
            quote!(
                pub struct EventLog;
            ),
        )
        .to_string();
        assert!(out.contains("already has column `admin_id`"), "{out}");
        assert_eq!(out.matches("PersistsActor < Admin >").count(), 1, "{out}");
    }

    #[test]
    fn a_fallback_log_is_an_event_log() {
        let out = fallback(
            &syn::Ident::new("Missing", proc_macro2::Span::call_site()),
            common::KeyTy::Integer,
        )
        .to_string();
        assert!(
            out.contains("impl :: events_core :: __private :: EventLog for Missing"),
            "{out}"
        );
        assert!(
            out.contains("type RecordId = :: core :: primitive :: i64"),
            "{out}"
        );
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn a_route_names_its_action_in_its_error() {
        let out = expand(
            quote!(replay_override(
                User,
                create,
                versions = [1],
                route_to(User, create_v0)
            )),
            quote!(
                pub struct EventLog;
            ),
        )
        .to_string();
        assert!(
            out.contains("\"`User` has no action `create_v0` to route replayed events to\""),
            "{out}"
        );
        assert!(!out.contains("__events_replay"), "{out}");
    }

    /// What a user gets for one actor column and one replay override.
    #[test]
    fn expansion_of_an_actor_and_an_override() {
        let out = expand(
            quote!(
                persist_actor_primary_key(user_id, Admin),
                replay_override(User, create, versions = [1], route_to(User, create_v1))
            ),
            quote!(
                pub struct EventLog;
            ),
        );
        let file: syn::File = syn::parse2(out).expect("the expansion is a list of items");
        let expected = expect_test::expect![[r#"
            pub struct EventLog;
            #[automatically_derived]
            impl ::events_core::__private::EventLog for EventLog {
                type RecordId = ::events_core::__private::Uuid;
                const TABLE: &'static str = "events";
                const PRIMARY_KEY_TYPE: ::events_core::__private::PrimaryKeyType = ::events_core::__private::PrimaryKeyType::Integer;
                const ADVISORY_LOCK_KEY_DEFAULT: ::events_core::__private::LockKey = ::events_core::__private::LockKey::Single(
                    2147483647i64,
                );
                const ADVISORY_LOCK_KEY_GENERATOR: &'static str = "DefaultLockKeyGenerator";
                const ADVISORY_LOCK_SCOPE: ::events_core::__private::LockScope = ::events_core::__private::LockScope::Tenant;
                const CLEAR_RECORDS_FOR_REPLAY: ::core::option::Option<&'static str> = ::core::option::Option::None;
                const TRACK_COMMIT_TIME: bool = false;
                const ACTOR_COLUMNS: &'static [::events_core::__private::ActorColumn] = &[
                    ::events_core::__private::ActorColumn {
                        name: "user_id",
                        destination: "Admin",
                        allow_nil: true,
                        attribute_type: ::events_core::__private::KeyType::Uuid,
                        public: false,
                    },
                ];
                const REPLAY_OVERRIDES: &'static [::events_core::__private::ReplayOverride] = {
                    ::events_core::__private::resource::<User>();
                    ::events_core::__private::route_target::<EventLog, User>();
                    &[
                        ::events_core::__private::ReplayOverride {
                            resource: <User as ::events_core::__private::Resource>::NAME,
                            action: "create",
                            versions: &[1u32],
                            routes: &[
                                ::events_core::__private::Route {
                                    resource: <User as ::events_core::__private::Resource>::NAME,
                                    action: "create_v1",
                                    apply: {
                                        #[diagnostic::on_unimplemented(
                                            message = "`User` has no action `create_v1` to route replayed events to",
                                            label = "no action `create_v1` in `User`",
                                            note = "`route_to(User, create_v1)` names a method of `User` marked #[create], #[update] or #[destroy] in its #[events] impl block (an ignored action counts): write one of those names, or add the action `create_v1`"
                                        )]
                                        trait RouteTargetHasAction {
                                            const APPLY: ::events_core::__private::ReplayFn;
                                        }
                                        type __Name = (
                                            ::events_core::__private::NameChar<'c'>,
                                            ::events_core::__private::NameChar<'r'>,
                                            ::events_core::__private::NameChar<'e'>,
                                            ::events_core::__private::NameChar<'a'>,
                                            ::events_core::__private::NameChar<'t'>,
                                            ::events_core::__private::NameChar<'e'>,
                                            ::events_core::__private::NameChar<'_'>,
                                            ::events_core::__private::NameChar<'v'>,
                                            ::events_core::__private::NameChar<'1'>,
                                        );
                                        #[diagnostic::do_not_recommend]
                                        impl<
                                            R: ::events_core::__private::ReplayAction<__Name>,
                                        > RouteTargetHasAction for R {
                                            const APPLY: ::events_core::__private::ReplayFn = <R as ::events_core::__private::ReplayAction<
                                                __Name,
                                            >>::REPLAY;
                                        }
                                        type __Target = User;
                                        <__Target as RouteTargetHasAction>::APPLY
                                    },
                                },
                            ],
                        },
                    ]
                };
                fn advisory_lock_key(
                    __input: &::events_core::__private::LockKeyInput<'_>,
                ) -> ::core::result::Result<
                    ::events_core::__private::LockKey,
                    ::events_core::__private::Error,
                > {
                    <::events_core::__private::DefaultLockKeyGenerator as ::events_core::__private::AdvisoryLockKeyGenerator>::generate_key(
                        __input,
                        Self::ADVISORY_LOCK_KEY_DEFAULT,
                    )
                }
                fn clear_records(
                    __conn: &mut ::events_core::__private::PgConnection,
                ) -> ::core::option::Option<
                    ::events_core::__private::BoxFuture<
                        '_,
                        ::core::result::Result<(), ::events_core::__private::Error>,
                    >,
                > {
                    ::core::option::Option::None
                }
            }
            #[automatically_derived]
            impl ::events_core::__private::PersistsActor<Admin> for EventLog {
                const COLUMN: &'static str = "user_id";
            }
            #[allow(dead_code)]
            const _: () = {
                struct __Probe<A>(::core::marker::PhantomData<A>);
                trait __IsActor {
                    type Key;
                    fn __key(&self) -> ::core::marker::PhantomData<Self::Key> {
                        ::core::marker::PhantomData
                    }
                }
                impl<A: ::events_core::__private::Actor> __IsActor for &__Probe<A> {
                    type Key = <A as ::events_core::__private::Actor>::PrimaryKey;
                }
                trait __NotActor {
                    fn __key(&self) -> ::core::marker::PhantomData<::events_core::__private::Uuid> {
                        ::core::marker::PhantomData
                    }
                }
                impl<A> __NotActor for __Probe<A> {}
                #[diagnostic::on_unimplemented(
                    message = "the primary key of actor `Admin` is `{Self}`, but its column `user_id` has attribute_type = uuid",
                    label = "primary key type does not match attribute_type",
                    note = "set `attribute_type` in `persist_actor_primary_key(user_id, ..)` to the type of `Admin`'s `Actor::PrimaryKey`: `uuid` for `Uuid` (the default), `integer` for `i64`, `string` for `String`"
                )]
                trait ActorKeyMatchesAttributeType {}
                impl ActorKeyMatchesAttributeType for ::events_core::__private::Uuid {}
                fn actor_key_matches_attribute_type<K: ActorKeyMatchesAttributeType>(
                    _: ::core::marker::PhantomData<K>,
                ) {}
                fn __check() {
                    actor_key_matches_attribute_type(
                        (&&__Probe::<Admin>(::core::marker::PhantomData)).__key(),
                    );
                }
            };
        "#]];
        expected.assert_eq(&prettyplease::unparse(&file));
    }
}
