//! Generates the `EventLog` impl, the `PersistsActor` impls, the replay-override
//! routing table and the compile-time assertions from a checked model.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Ident, ItemStruct, Path};

use super::check::{ActorModel, EventLogModel, LockDefault, PkTy};
use crate::common;
use crate::private::{Private, action_name_type};

/// Expands the model into items placed after the struct.
pub(crate) fn expand(item: &ItemStruct, model: &EventLogModel) -> TokenStream {
    let ident = &item.ident;
    let p = Private::new();
    let record_id_ty = model.record_id_type.rust_type();
    let table = &model.table;
    let track_commit_time = model.track_commit_time;
    let pk = match model.primary_key_type {
        PkTy::Integer => quote!(#p::PrimaryKeyType::Integer),
        PkTy::UuidV7 => quote!(#p::PrimaryKeyType::UuidV7),
    };
    let lock_default = match model.lock_default {
        LockDefault::Single(k) => quote!(#p::LockKey::Single(#k)),
        LockDefault::Pair(a, b) => quote!(#p::LockKey::Pair(#a, #b)),
    };
    let (generator, generator_name, scope) = match (&model.lock_generator, model.lock_scope) {
        (Some(g), _) => (
            quote!(#g),
            common::path_string(g),
            quote!(#p::LockScope::Custom),
        ),
        (None, scope) => {
            let scope = scope.unwrap_or(common::Scope::Tenant);
            let (generator, name) = scope.generator();
            (generator, name.to_owned(), scope.lock_scope())
        }
    };
    let generator_span = model
        .lock_generator
        .as_ref()
        .map_or_else(Span::call_site, |l| l.span());
    let generate_key = {
        let p = Private::at(generator_span);
        quote_spanned! {generator_span=>
            <#generator as #p::AdvisoryLockKeyGenerator>::generate_key(__input, Self::ADVISORY_LOCK_KEY_DEFAULT)
        }
    };
    let (clear_name, clear_call) = match &model.clear_records {
        Some(c) => {
            let name = common::path_string(c);
            let p = Private::at(c.span());
            // The check and the call share a body and a span: a type that is not
            // `ClearRecords` is reported once, on the user's token.
            (
                quote!(::core::option::Option::Some(#name)),
                quote_spanned! {c.span()=>
                    #p::clear_records::<#c>();
                    ::core::option::Option::Some(::std::boxed::Box::pin(
                        <#c as #p::ClearRecords>::clear_records(__conn)
                    ))
                },
            )
        }
        None => (
            quote!(::core::option::Option::None),
            quote!(::core::option::Option::None),
        ),
    };

    let actor_columns = model.actors.iter().map(|a| {
        let name = a.name.to_string();
        let dest = common::path_string(&a.destination);
        let (allow_nil, public) = (a.allow_nil, a.public);
        let ty = a.attribute_type.key_type();
        quote!(#p::ActorColumn { name: #name, destination: #dest, allow_nil: #allow_nil, attribute_type: #ty, public: #public })
    });
    let persists = model.actors.iter().map(|a| {
        let name = a.name.to_string();
        let dest = &a.destination;
        let p = Private::at(dest.span());
        // Spanned on the actor type throughout, so "not an actor" lands on it.
        quote_spanned! {dest.span()=>
            #[automatically_derived]
            impl #p::PersistsActor<#dest> for #ident {
                const COLUMN: &'static str = #name;
            }
        }
    });

    // Each override's type checks sit in the REPLAY_OVERRIDES initializer next to the
    // uses they guard, on the same tokens, so rustc reports each problem once.
    let mut override_checks = Vec::new();
    let overrides = model
        .overrides
        .iter()
        .map(|o| {
            let resource = &o.resource;
            let action = o.action.to_string();
            let versions = &o.versions;
            let pr = Private::at(resource.span());
            override_checks.push(quote_spanned! {resource.span()=>
                #pr::resource::<#resource>();
            });
            let resource_name = quote_spanned! {resource.span()=>
                <#resource as #pr::Resource>::NAME
            };
            let routes = o
                .routes
                .iter()
                .map(|(target, target_action)| {
                    let name = target_action.to_string();
                    let pt = Private::at(target.span());
                    override_checks.push(quote_spanned! {target.span()=>
                        #pt::route_target::<#ident, #target>();
                    });
                    let target_name = quote_spanned! {target.span()=>
                        <#target as #pt::Resource>::NAME
                    };
                    let apply = route_apply(target, target_action);
                    quote!(#p::Route { resource: #target_name, action: #name, apply: #apply })
                })
                .collect::<Vec<_>>();
            quote! {
                #p::ReplayOverride {
                    resource: #resource_name,
                    action: #action,
                    versions: &[#(#versions),*],
                    routes: &[#(#routes),*],
                }
            }
        })
        .collect::<Vec<_>>();

    let actor_checks = model.actors.iter().map(actor_key_check);

    quote! {
        #[automatically_derived]
        impl #p::EventLog for #ident {
            type RecordId = #record_id_ty;
            const TABLE: &'static str = #table;
            const PRIMARY_KEY_TYPE: #p::PrimaryKeyType = #pk;
            const ADVISORY_LOCK_KEY_DEFAULT: #p::LockKey = #lock_default;
            const ADVISORY_LOCK_KEY_GENERATOR: &'static str = #generator_name;
            const ADVISORY_LOCK_SCOPE: #p::LockScope = #scope;
            const CLEAR_RECORDS_FOR_REPLAY: ::core::option::Option<&'static str> = #clear_name;
            const TRACK_COMMIT_TIME: bool = #track_commit_time;
            const ACTOR_COLUMNS: &'static [#p::ActorColumn] = &[#(#actor_columns),*];
            const REPLAY_OVERRIDES: &'static [#p::ReplayOverride] = {
                #(#override_checks)*
                &[#(#overrides),*]
            };

            fn advisory_lock_key(
                __input: &#p::LockKeyInput<'_>,
            ) -> ::core::result::Result<#p::LockKey, #p::Error> {
                #generate_key
            }

            fn clear_records(
                __conn: &mut #p::PgConnection,
            ) -> ::core::option::Option<#p::BoxFuture<'_, ::core::result::Result<(), #p::Error>>> {
                #clear_call
            }
        }

        #(#persists)*

        #(#actor_checks)*
    }
}

/// The replay function `route_to(target, action)` names: the one `#[events]`
/// registered as `ReplayAction<action>` of `target`.
///
/// The lookup goes through a local trait whose only impl needs that
/// `ReplayAction`: when `target` has no such action, rustc reports the local
/// trait as unimplemented (`do_not_recommend` keeps it from descending to the
/// runtime's trait), so the one error is in the user's words and on the user's
/// action token.
fn route_apply(target: &Path, action: &Ident) -> TokenStream {
    let at = action.span();
    let p = Private::at(at);
    let name = action_name_type(action, p);
    let resource = common::path_string(target);
    let message = format!("`{resource}` has no action `{action}` to route replayed events to");
    let label = format!("no action `{action}` in `{resource}`");
    let note = format!(
        "`route_to({resource}, {action})` names a method of `{resource}` marked #[create], #[update] or #[destroy] in its #[events] impl block (an ignored action counts): write one of those names, or add the action `{action}`"
    );
    quote_spanned! {at=>
        {
            #[diagnostic::on_unimplemented(message = #message, label = #label, note = #note)]
            trait RouteTargetHasAction {
                const APPLY: #p::ReplayFn;
            }
            type __Name = #name;
            #[diagnostic::do_not_recommend]
            impl<R: #p::ReplayAction<__Name>> RouteTargetHasAction for R {
                const APPLY: #p::ReplayFn = <R as #p::ReplayAction<__Name>>::REPLAY;
            }
            type __Target = #target;
            <__Target as RouteTargetHasAction>::APPLY
        }
    }
}

/// Checks that an actor's primary key type is its column's `attribute_type`.
///
/// When the actor type is not an `Actor` at all, the `PersistsActor` impl already
/// says so; this check then stays silent (autoref specialization picks the
/// fallback `__NotActor::__key`), so that mistake is reported once.
fn actor_key_check(a: &ActorModel) -> TokenStream {
    let dest = &a.destination;
    let key_ty = a.attribute_type.rust_type();
    let message = format!(
        "the primary key of actor `{}` is `{{Self}}`, but its column `{}` has attribute_type = {}",
        common::path_string(dest),
        a.name,
        a.attribute_type.name(),
    );
    let note = format!(
        "set `attribute_type` in `persist_actor_primary_key({}, ..)` to the type of `{}`'s `Actor::PrimaryKey`: `uuid` for `Uuid` (the default), `integer` for `i64`, `string` for `String`",
        a.name,
        common::path_string(dest),
    );
    let probe = quote_spanned! {dest.span()=>
        fn actor_key_matches_attribute_type<K: ActorKeyMatchesAttributeType>(_: ::core::marker::PhantomData<K>) {}
        fn __check() {
            actor_key_matches_attribute_type((&&__Probe::<#dest>(::core::marker::PhantomData)).__key());
        }
    };
    let p = Private::new();
    quote! {
        #[allow(dead_code)]
        const _: () = {
            struct __Probe<A>(::core::marker::PhantomData<A>);
            trait __IsActor {
                type Key;
                fn __key(&self) -> ::core::marker::PhantomData<Self::Key> {
                    ::core::marker::PhantomData
                }
            }
            impl<A: #p::Actor> __IsActor for &__Probe<A> {
                type Key = <A as #p::Actor>::PrimaryKey;
            }
            trait __NotActor {
                fn __key(&self) -> ::core::marker::PhantomData<#key_ty> {
                    ::core::marker::PhantomData
                }
            }
            impl<A> __NotActor for __Probe<A> {}
            #[diagnostic::on_unimplemented(message = #message, label = "primary key type does not match attribute_type", note = #note)]
            trait ActorKeyMatchesAttributeType {}
            impl ActorKeyMatchesAttributeType for #key_ty {}
            #probe
        };
    }
}
