//! `#[events(...)]`: parse (`attr`) → check (`check`) → expand (`expand`).

mod attr;
mod check;
mod expand;

use darling::Error;
use darling::ast::NestedMeta;
use proc_macro2::TokenStream;
use quote::quote;
use syn::ItemImpl;

use crate::common;

/// Expands `#[events(args)]` on an impl block. Never panics: on errors the impl
/// block is still emitted (markers removed, well-formed actions wrapped) next to
/// the `compile_error!`s, so code using it keeps type-checking; a missing or
/// malformed `event_log` is replaced by a stand-in event log for the same reason.
/// On anything but an impl block, the item is re-emitted unchanged.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let mut acc = Error::accumulator();
    let items = acc
        .handle(NestedMeta::parse_meta_list(args).map_err(Error::from))
        .unwrap_or_default();
    let parsed = attr::parse(&items, &mut acc);
    let output = match syn::parse2::<ItemImpl>(item.clone()) {
        Ok(mut block) => {
            let actions = attr::take_actions(&mut block, &mut acc);
            let bulks = attr::take_bulks(&mut block, &mut acc);
            let model = check::check(&block, &parsed, &actions, &bulks, &mut acc);
            if block.trait_.is_none() && block.generics.params.is_empty() {
                expand::expand(block, &model)
            } else {
                quote!(#block)
            }
        }
        Err(_) => {
            acc.push(
                Error::custom(
                    "#[events] goes on the resource's inherent impl block, like `#[events(event_log = EventLog)] impl User { .. }`",
                )
                .with_span(&common::item_keyword(&item)),
            );
            item
        }
    };
    let errors = acc.finish().err().map(Error::write_errors);
    quote!(#output #errors)
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

    #[test]
    fn a_malformed_event_log_is_not_also_missing() {
        let out = expand(quote!(event_log(EventLog)), user()).to_string();
        assert!(out.contains("takes a value, not a list"), "{out}");
        assert!(!out.contains("needs the event log"), "{out}");
        // The actions still get a `Resource` impl, on a stand-in event log.
        assert!(out.contains("__EventsMissingEventLog"), "{out}");
        assert!(out.contains("fn create"), "{out}");
    }

    #[test]
    fn a_missing_event_log_is_reported() {
        let out = errors(quote!(ignore_actions = [create_v1]), user());
        assert!(out.contains("needs the event log"), "{out}");
    }

    #[test]
    fn a_struct_is_reported_not_panicked_on() {
        let out = expand(
            quote!(event_log = EventLog, colour = 1),
            quote!(
                pub struct User;
            ),
        )
        .to_string();
        assert!(
            out.contains("goes on the resource's inherent impl block"),
            "{out}"
        );
        assert!(out.contains("unknown #[events] option `colour`"), "{out}");
        assert!(out.contains("pub struct User"), "{out}");
    }

    #[test]
    fn a_trait_impl_is_one_error() {
        let out = errors(
            quote!(event_log = EventLog),
            quote!(
                impl Default for User {
                    fn default() -> Self {
                        User
                    }
                }
            ),
        );
        assert!(out.contains("not on a trait impl"), "{out}");
        assert!(!out.contains("found no action"), "{out}");
    }

    #[test]
    fn a_second_marker_is_reported_on_its_name() {
        let out = errors(
            quote!(event_log = EventLog),
            quote!(
                impl User {
                    #[create]
                    #[update]
                    async fn upsert(ctx: &mut ActionCtx<'_>, input: ()) -> Result<User, Error> {
                        todo!()
                    }
                }
            ),
        );
        assert!(out.contains("a method is one action"), "{out}");
    }

    #[test]
    fn an_action_defined_twice_is_one_error_and_expanded_once() {
        let out = expand(
            quote!(event_log = EventLog),
            quote!(
                impl User {
                    #[create]
                    async fn create(ctx: &mut ActionCtx<'_>, input: ()) -> Result<User, Error> {
                        todo!()
                    }
                    #[bulk(create)]
                    async fn create(ctx: &mut BulkCtx<'_>, inputs: Vec<()>) -> Result<(), Error> {
                        todo!()
                    }
                    #[update]
                    async fn create(ctx: &mut ActionCtx<'_>, input: u32) -> Result<User, Error> {
                        todo!()
                    }
                }
            ),
        )
        .to_string();
        let errors: Vec<&str> = out.split("compile_error").skip(1).collect();
        assert_eq!(errors.len(), 2, "{out}");
        assert!(
            errors[0].contains("bulk action `create` has the name of the action `create` above"),
            "{out}"
        );
        assert!(
            errors[1].contains(
                "action `create` is defined twice in this impl block; rename or remove one"
            ),
            "{out}"
        );
        assert_eq!(out.matches("fn __events_body_create").count(), 1, "{out}");
        assert_eq!(out.matches("fn __events_replay_create").count(), 1, "{out}");
        assert_eq!(out.matches("fn __events_duplicate_").count(), 2, "{out}");
    }

    /// What a user gets for one action: a reviewer reads this diff when the
    /// expansion changes.
    #[test]
    fn expansion_of_one_action() {
        let out = expand(
            quote!(event_log = EventLog),
            quote! {
                impl Note {
                    /// Writes a note.
                    #[create]
                    pub async fn write(ctx: &mut ActionCtx<'_>, input: String) -> Result<Note, Error> {
                        todo!()
                    }
                }
            },
        );
        let file: syn::File = syn::parse2(out).expect("the expansion is a list of items");
        let expected = expect_test::expect![[r#"
            impl Note {
                #[doc(hidden)]
                #[allow(clippy::needless_lifetimes)]
                async fn __events_body_write(
                    ctx: &mut ActionCtx<'_>,
                    input: String,
                ) -> Result<Note, Error> {
                    todo!()
                }
                /// Writes a note.
                ///
                /// Recorded as an event at version 1: configure with the builder methods, then `.run(&store)`.
                #[allow(clippy::type_complexity)]
                pub fn write(
                    input: String,
                ) -> ::events_core::__private::ActionCall<Self, String, Result<Note, Error>> {
                    ::events_core::__private::action_call(
                        ::events_core::__private::ActionInfo {
                            name: "write",
                            kind: ::events_core::__private::ActionKind::Create,
                            version: 1u32,
                            recorded: true,
                        },
                        input,
                        ::core::option::Option::None,
                        Self::__events_call_write,
                        {
                            #[allow(unused_imports)]
                            use ::events_core::__private::{
                                DeclaresNothing as _, DeclaresPersonal as _,
                            };
                            (&&::events_core::__private::PersonalProbe::<String>::NEW)
                                .personal_schema()
                        },
                    )
                }
                #[doc(hidden)]
                #[allow(clippy::type_complexity)]
                fn __events_call_write<'__a, '__b>(
                    __ctx: &'__a mut ::events_core::__private::ActionCtx<
                        '__b,
                        ::events_core::__private::RecordIdOf<Self>,
                    >,
                    __input: String,
                ) -> ::events_core::__private::BoxFuture<'__a, Result<Note, Error>> {
                    ::std::boxed::Box::pin(Self::__events_body_write(__ctx, __input))
                }
                #[doc(hidden)]
                #[allow(clippy::type_complexity)]
                fn __events_replay_write<'__a>(
                    __conn: &'__a mut ::events_core::__private::PgConnection,
                    __event: &'__a ::events_core::__private::Event,
                ) -> ::events_core::__private::BoxFuture<
                    '__a,
                    ::core::result::Result<(), ::events_core::__private::Error>,
                > {
                    ::events_core::__private::action_input::<String>();
                    ::std::boxed::Box::pin(async move {
                        let mut __ctx = ::events_core::__private::replay_ctx::<
                            Self,
                        >(
                            __conn,
                            __event,
                            ::events_core::__private::ActionInfo {
                                name: "write",
                                kind: ::events_core::__private::ActionKind::Create,
                                version: 1u32,
                                recorded: true,
                            },
                        )?;
                        let __input: String = ::events_core::__private::decode_input::<
                            String,
                        >(
                            __event,
                            <Self as ::events_core::__private::Resource>::NAME,
                            "write",
                            {
                                #[allow(unused_imports)]
                                use ::events_core::__private::{
                                    DeclaresNothing as _, DeclaresPersonal as _,
                                };
                                (&&::events_core::__private::PersonalProbe::<String>::NEW)
                                    .personal_schema()
                            },
                        )?;
                        let __ret = Self::__events_call_write(&mut __ctx, __input).await;
                        ::events_core::__private::replay_result::<
                            Result<Note, Error>,
                        >(
                            __event,
                            <Self as ::events_core::__private::Resource>::NAME,
                            "write",
                            __ret,
                        )
                    })
                }
            }
            #[automatically_derived]
            #[allow(clippy::type_complexity)]
            impl ::events_core::__private::Resource for Note {
                type Log = EventLog;
                const NAME: &'static str = "Note";
                const ACTIONS: &'static [::events_core::__private::ActionInfo] = &[
                    ::events_core::__private::ActionInfo {
                        name: "write",
                        kind: ::events_core::__private::ActionKind::Create,
                        version: 1u32,
                        recorded: true,
                    },
                ];
                const IGNORED_ACTIONS: &'static [&'static str] = &[];
                const CURRENT_ACTION_VERSIONS: &'static [(&'static str, u32)] = &[];
                fn replay_fn(
                    __name: &str,
                ) -> ::core::option::Option<::events_core::__private::ReplayFn> {
                    match __name {
                        "write" => {
                            ::core::option::Option::Some(
                                Self::__events_replay_write as ::events_core::__private::ReplayFn,
                            )
                        }
                        _ => ::core::option::Option::None,
                    }
                }
            }
            #[automatically_derived]
            impl ::events_core::__private::ReplayAction<
                (
                    ::events_core::__private::NameChar<'w'>,
                    ::events_core::__private::NameChar<'r'>,
                    ::events_core::__private::NameChar<'i'>,
                    ::events_core::__private::NameChar<'t'>,
                    ::events_core::__private::NameChar<'e'>,
                ),
            > for Note {
                const REPLAY: ::events_core::__private::ReplayFn = Self::__events_replay_write;
            }
            const _: () = {
                ::events_core::__private::inventory::submit! {
                    ::events_core::__private::ResourceEntry { log :
                    ::events_core::__private::type_id_of:: < EventLog >, name : < Note as
                    ::events_core::__private::Resource > ::NAME, actions : < Note as
                    ::events_core::__private::Resource > ::ACTIONS, replay_fn : < Note as
                    ::events_core::__private::Resource > ::replay_fn, }
                }
            };
        "#]];
        expected.assert_eq(&prettyplease::unparse(&file));
    }

    /// What a bulk form adds: the wrapper taking `(record_id, input)` pairs, the
    /// call adapter and the input check; no `Resource` entry of its own.
    #[test]
    fn expansion_of_a_bulk_update() {
        let out = expand(
            quote!(event_log = EventLog),
            quote! {
                impl Note {
                    #[update]
                    pub async fn edit(ctx: &mut ActionCtx<'_>, input: String) -> Result<(), Error> {
                        todo!()
                    }
                    /// Edits many notes.
                    #[bulk(edit)]
                    pub async fn edit_many(ctx: &mut BulkCtx<'_>, inputs: Vec<String>) -> Result<u64, Error> {
                        todo!()
                    }
                }
            },
        );
        let file: syn::File = syn::parse2(out).expect("the expansion is a list of items");
        let text = prettyplease::unparse(&file);
        let start = text
            .find("/// Edits many notes.")
            .expect("the bulk wrapper");
        let end = text
            .find("impl ::events_core::__private::Resource")
            .expect("the Resource impl");
        let expected = expect_test::expect![[r#"
            /// Edits many notes.
                ///
                /// Bulk form of `edit`: updates one record per `(record_id, input)` pair, writing one `edit` event (version 1) per input in one statement. Configure with the builder methods, then `.run(&store)`.
                #[allow(clippy::type_complexity)]
                pub fn edit_many(
                    inputs: impl ::core::iter::IntoIterator<
                        Item = (::events_core::__private::RecordIdOf<Self>, String),
                    >,
                ) -> ::events_core::__private::BulkCall<Self, String, Result<u64, Error>> {
                    let (__ids, __inputs): (::std::vec::Vec<_>, ::std::vec::Vec<_>) = ::core::iter::Iterator::unzip(
                        ::core::iter::IntoIterator::into_iter(inputs),
                    );
                    ::events_core::__private::bulk_call(
                        ::events_core::__private::ActionInfo {
                            name: "edit",
                            kind: ::events_core::__private::ActionKind::Update,
                            version: 1u32,
                            recorded: true,
                        },
                        __inputs,
                        ::core::option::Option::Some(__ids),
                        Self::__events_call_edit_many,
                        {
                            #[allow(unused_imports)]
                            use ::events_core::__private::{
                                DeclaresNothing as _, DeclaresPersonal as _,
                            };
                            (&&::events_core::__private::PersonalProbe::<String>::NEW)
                                .personal_schema()
                        },
                    )
                }
                #[doc(hidden)]
                #[allow(clippy::type_complexity)]
                fn __events_call_edit_many<'__a, '__b>(
                    __ctx: &'__a mut ::events_core::__private::BulkCtx<
                        '__b,
                        ::events_core::__private::RecordIdOf<Self>,
                    >,
                    __inputs: ::std::vec::Vec<String>,
                ) -> ::events_core::__private::BoxFuture<'__a, Result<u64, Error>> {
                    ::std::boxed::Box::pin(Self::__events_body_edit_many(__ctx, __inputs))
                }
                #[doc(hidden)]
                #[allow(dead_code)]
                fn __events_bulk_input_edit_many() {
                    ::events_core::__private::same_input::<String, String>();
                }
            }
            #[automatically_derived]
            #[allow(clippy::type_complexity)]
        "#]];
        expected.assert_eq(&text[start..end]);
    }
}
