//! Generates the `EventLog` impl, the `PersistsActor` impls, the replay-override
//! routing table and the compile-time assertions from a checked model.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::ItemStruct;
use syn::spanned::Spanned;

use super::check::{EventLogModel, LockDefault, PkTy};
use crate::common;

/// Expands the model into items placed after the struct.
pub(crate) fn expand(item: &ItemStruct, model: &EventLogModel) -> TokenStream {
    let ident = &item.ident;
    let p = quote!(::events_core::__private);
    let record_id_ty = model.record_id_type.rust_type();
    let table = &model.table;
    let pk = match model.primary_key_type {
        PkTy::Integer => quote!(#p::PrimaryKeyType::Integer),
        PkTy::UuidV7 => quote!(#p::PrimaryKeyType::UuidV7),
    };
    let lock_default = match model.lock_default {
        LockDefault::Single(k) => quote!(#p::LockKey::Single(#k)),
        LockDefault::Pair(a, b) => quote!(#p::LockKey::Pair(#a, #b)),
    };
    let (generator, generator_name) = match &model.lock_generator {
        Some(g) => (quote!(#g), common::path_string(g)),
        None => (
            quote!(#p::DefaultLockKeyGenerator),
            "DefaultLockKeyGenerator".to_owned(),
        ),
    };
    let (clear_name, clear_call) = match &model.clear_records {
        Some(c) => {
            let name = common::path_string(c);
            (
                quote!(::core::option::Option::Some(#name)),
                quote!(::core::option::Option::Some(::std::boxed::Box::pin(
                    <#c as #p::ClearRecords>::clear_records(__conn)
                ))),
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
        quote_spanned! {dest.span()=>
            #[automatically_derived]
            impl #p::PersistsActor<#dest> for #ident {
                const COLUMN: &'static str = #name;
            }
        }
    });

    let overrides = model.overrides.iter().map(|o| {
        let resource = &o.resource;
        let action = o.action.to_string();
        let versions = &o.versions;
        let routes = o.routes.iter().map(|(target, target_action)| {
            let name = target_action.to_string();
            let replay = format_ident!("__events_replay_{}", target_action, span = target_action.span());
            quote!(#p::Route { resource: <#target as #p::Resource>::NAME, action: #name, apply: <#target>::#replay })
        });
        quote! {
            #p::ReplayOverride {
                resource: <#resource as #p::Resource>::NAME,
                action: #action,
                versions: &[#(#versions),*],
                routes: &[#(#routes),*],
            }
        }
    });

    let mut assertions = Vec::new();
    for a in &model.actors {
        let dest = &a.destination;
        let key_ty = a.attribute_type.rust_type();
        assertions.push(quote_spanned!(dest.span()=> #p::actor_column::<#dest, #key_ty>();));
    }
    if let Some(c) = &model.clear_records {
        assertions.push(quote_spanned!(c.span()=> #p::clear_records::<#c>();));
    }
    if let Some(g) = &model.lock_generator {
        assertions.push(quote_spanned!(g.span()=> #p::lock_key_generator::<#g>();));
    }
    for o in &model.overrides {
        let resource = &o.resource;
        assertions.push(quote_spanned!(resource.span()=> #p::resource::<#resource>();));
        for (target, _) in &o.routes {
            assertions.push(quote_spanned!(target.span()=> #p::route_target::<#ident, #target>();));
        }
    }

    quote! {
        #[automatically_derived]
        impl #p::EventLog for #ident {
            type RecordId = #record_id_ty;
            const TABLE: &'static str = #table;
            const PRIMARY_KEY_TYPE: #p::PrimaryKeyType = #pk;
            const ADVISORY_LOCK_KEY_DEFAULT: #p::LockKey = #lock_default;
            const ADVISORY_LOCK_KEY_GENERATOR: &'static str = #generator_name;
            const CLEAR_RECORDS_FOR_REPLAY: ::core::option::Option<&'static str> = #clear_name;
            const ACTOR_COLUMNS: &'static [#p::ActorColumn] = &[#(#actor_columns),*];
            const REPLAY_OVERRIDES: &'static [#p::ReplayOverride<Self::RecordId>] = &[#(#overrides),*];

            fn advisory_lock_key(
                __input: &#p::LockKeyInput<'_>,
            ) -> ::core::result::Result<#p::LockKey, #p::Error> {
                <#generator as #p::AdvisoryLockKeyGenerator>::generate_key(__input, Self::ADVISORY_LOCK_KEY_DEFAULT)
            }

            fn clear_records(
                __conn: &mut #p::PgConnection,
            ) -> ::core::option::Option<#p::BoxFuture<'_, ::core::result::Result<(), #p::Error>>> {
                #clear_call
            }
        }

        #(#persists)*

        const _: () = {
            #(#assertions)*
        };
    }
}
