//! Generates, for each action, the hidden body, the public wrapper and the call
//! and replay adapters; and the `Resource` impl with the introspection items.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ImplItem, ItemImpl};

use super::attr::Kind;
use super::check::{ActionModel, EventsModel};

/// Rewrites the impl block: bodies hidden under `__events_body_<name>`, wrappers
/// under the action names, adapters; then the `Resource` impl.
pub(crate) fn expand(mut item: ItemImpl, model: &EventsModel) -> TokenStream {
    let p = quote!(::events_core::__private);
    let mut extra: Vec<ImplItem> = Vec::new();
    for action in &model.actions {
        let Some(ImplItem::Fn(method)) = item.items.get_mut(action.index) else {
            continue;
        };
        let body_ident = format_ident!("__events_body_{}", action.ident);
        let (docs, others): (Vec<_>, Vec<_>) = method
            .attrs
            .drain(..)
            .partition(|a| a.path().is_ident("doc"));
        method.attrs = others;
        method.attrs.push(syn::parse_quote!(#[doc(hidden)]));
        method
            .attrs
            .push(syn::parse_quote!(#[allow(clippy::needless_lifetimes)]));
        let vis = std::mem::replace(&mut method.vis, syn::Visibility::Inherited);
        method.sig.ident = body_ident.clone();
        extra.extend(adapters(action, &body_ident, &docs, &vis));
    }
    item.items.extend(extra);

    let self_ty = &item.self_ty;
    let name = &model.name;
    let infos = model.actions.iter().map(info);
    let ignored = model
        .actions
        .iter()
        .filter(|a| !a.recorded)
        .map(|a| a.ident.to_string());
    let versions = model
        .configured_versions
        .iter()
        .map(|(a, v)| quote!((#a, #v)));
    let arms = model.actions.iter().map(|a| {
        let n = a.ident.to_string();
        let replay = format_ident!("__events_replay_{}", a.ident);
        quote!(#n => ::core::option::Option::Some(Self::#replay as #p::ReplayFn<#p::RecordIdOf<Self>>),)
    });
    let input_checks = model.actions.iter().map(|a| {
        let ty = &a.input_ty;
        quote_spanned!(ty.span()=> #p::action_input::<#ty>();)
    });
    let resource_impl = model.event_log.as_ref().map(|log| {
        let log_ty = quote_spanned!(log.span()=> #log);
        quote! {
            #[automatically_derived]
            impl #p::Resource for #self_ty {
                type Log = #log_ty;
                const NAME: &'static str = #name;
                const ACTIONS: &'static [#p::ActionInfo] = &[#(#infos),*];
                const IGNORED_ACTIONS: &'static [&'static str] = &[#(#ignored),*];
                const CURRENT_ACTION_VERSIONS: &'static [(&'static str, u32)] = &[#(#versions),*];

                fn replay_fn(__name: &str) -> ::core::option::Option<#p::ReplayFn<#p::RecordIdOf<Self>>> {
                    match __name {
                        #(#arms)*
                        _ => ::core::option::Option::None,
                    }
                }
            }
        }
    });
    quote! {
        #item
        #resource_impl
        const _: () = {
            #(#input_checks)*
        };
    }
}

/// `ActionInfo { .. }` for an action.
fn info(a: &ActionModel) -> TokenStream {
    let p = quote!(::events_core::__private);
    let name = a.ident.to_string();
    let kind = match a.kind {
        Kind::Create => quote!(#p::ActionKind::Create),
        Kind::Update => quote!(#p::ActionKind::Update),
        Kind::Destroy => quote!(#p::ActionKind::Destroy),
    };
    let (version, recorded) = (a.version, a.recorded);
    quote!(#p::ActionInfo { name: #name, kind: #kind, version: #version, recorded: #recorded })
}

/// The wrapper and the two adapters of one action.
fn adapters(
    a: &ActionModel,
    body: &syn::Ident,
    docs: &[syn::Attribute],
    vis: &syn::Visibility,
) -> Vec<ImplItem> {
    let p = quote!(::events_core::__private);
    let name = &a.ident;
    let call = format_ident!("__events_call_{}", a.ident);
    let replay = format_ident!("__events_replay_{}", a.ident);
    let (input_ty, ret_ty, ctx_ty) = (&a.input_ty, &a.ret_ty, &a.ctx_ty);
    let info = info(a);
    let (record_param, record_arg) = match a.kind {
        Kind::Create => (quote!(), quote!(::core::option::Option::None)),
        Kind::Update | Kind::Destroy => (
            quote!(record_id: impl ::core::convert::Into<#p::RecordIdOf<Self>>,),
            quote!(::core::option::Option::Some(::core::convert::Into::into(
                record_id
            ))),
        ),
    };
    let kind_doc = match a.kind {
        Kind::Create => "creates a record",
        Kind::Update => "updates the record `record_id`",
        Kind::Destroy => "destroys the record `record_id`",
    };
    let recorded_doc = if a.recorded {
        format!(
            "Recorded as an event at version {}: configure with the builder methods, then `.run(&store)`.",
            a.version
        )
    } else {
        "Ignored: runs in a transaction without an event. Configure with the builder methods, then `.run(&store)`.".to_owned()
    };
    let summary = if docs.is_empty() {
        let line = format!(" Action `{name}`: {kind_doc}.");
        quote!(#[doc = #line])
    } else {
        quote!(#(#docs)*)
    };
    let call_body = quote_spanned!(ctx_ty.span()=> Self::#body(__ctx, __input));
    let wrapper: ImplItem = syn::parse_quote! {
        #summary
        #[doc = ""]
        #[doc = #recorded_doc]
        #vis fn #name(#record_param input: #input_ty) -> #p::ActionCall<Self, #input_ty, #ret_ty> {
            #p::ActionCall::__new(#info, input, #record_arg, Self::#call)
        }
    };
    let call_fn: ImplItem = syn::parse_quote! {
        #[doc(hidden)]
        fn #call<'__a, '__b>(
            __ctx: &'__a mut #p::ActionCtx<'__b, #p::RecordIdOf<Self>>,
            __input: #input_ty,
        ) -> #p::BoxFuture<'__a, #ret_ty> {
            ::std::boxed::Box::pin(#call_body)
        }
    };
    let replay_fn: ImplItem = syn::parse_quote! {
        #[doc(hidden)]
        pub fn #replay<'__a, '__b>(
            __ctx: &'__a mut #p::ActionCtx<'__b, #p::RecordIdOf<Self>>,
            __data: #p::Value,
        ) -> #p::BoxFuture<'__a, ::core::result::Result<(), #p::Error>> {
            ::std::boxed::Box::pin(async move {
                let __input: #input_ty = #p::decode_input(&*__ctx, __data)?;
                let __ret = Self::#body(&mut *__ctx, __input).await;
                #p::replay_result(&*__ctx, __ret)
            })
        }
    };
    vec![wrapper, call_fn, replay_fn]
}
