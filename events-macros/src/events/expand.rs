//! Generates, for each action, the hidden body, the public wrapper and the call
//! and replay adapters; and the `Resource` impl with the introspection items.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{GenericArgument, ImplItem, ItemImpl, PathArguments, Type};

use super::attr::Kind;
use super::check::{ActionModel, BulkModel, EventsModel};
use crate::common::KeyTy;
use crate::private::{Private, action_name_type};

/// Rewrites the impl block: bodies hidden under `__events_body_<name>`, wrappers
/// under the action names, adapters; then the `Resource` impl.
pub(crate) fn expand(mut item: ItemImpl, model: &EventsModel) -> TokenStream {
    let p = Private::new();
    // Every mention of the record id type is spanned on the `event_log = X` value:
    // when X is not an event log, rustc's errors about it all land on X.
    let log_span = model
        .event_log
        .as_ref()
        .map_or_else(Span::call_site, |l| l.span());
    let pl = Private::at(log_span);
    let record_id = quote_spanned!(log_span=> #pl::RecordIdOf<Self>);
    let mut extra: Vec<ImplItem> = Vec::new();
    for action in &model.actions {
        let Some(ImplItem::Fn(method)) = item.items.get_mut(action.index) else {
            continue;
        };
        let (body_ident, docs, vis) = hide_body(method, &action.ident);
        extra.extend(adapters(
            action,
            &body_ident,
            &docs,
            &vis,
            &record_id,
            log_span,
        ));
    }
    for bulk in &model.bulks {
        let Some(target) = model.actions.get(bulk.target) else {
            continue;
        };
        let Some(ImplItem::Fn(method)) = item.items.get_mut(bulk.index) else {
            continue;
        };
        let (body_ident, docs, vis) = hide_body(method, &bulk.ident);
        extra.extend(bulk_adapters(
            bulk,
            target,
            &body_ident,
            &docs,
            &vis,
            &record_id,
            log_span,
        ));
    }
    for &index in &model.duplicates {
        if let Some(ImplItem::Fn(method)) = item.items.get_mut(index) {
            set_aside(method, index);
        }
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
        let replay = format_ident!("__events_replay_{}", a.ident, span = log_span);
        quote_spanned!(log_span=> #n => ::core::option::Option::Some(Self::#replay as #pl::ReplayFn),)
    });
    let (log_ty, fallback_log) = match &model.event_log {
        Some(log) => (quote_spanned!(log.span()=> #log), None),
        None => {
            // `event_log` is missing or malformed (already reported): record into a
            // stand-in event log so the wrappers and the caller's code still check
            // without a cascade of "not a resource" errors.
            let ident = format_ident!("__EventsMissingEventLog");
            let log = crate::event_log::fallback(&ident, fallback_record_id(model));
            (quote!(#ident), Some(log))
        }
    };
    let replay_fn_sig = quote_spanned! {log_span=>
        fn replay_fn(__name: &str) -> ::core::option::Option<#pl::ReplayFn>
    };
    let replay_fn = quote_spanned! {log_span=>
        #replay_fn_sig {
            match __name {
                #(#arms)*
                _ => ::core::option::Option::None,
            }
        }
    };
    // `advisory_lock_scope` on the resource replaces the event log's generator for
    // its actions, keeping the log's default key.
    let lock_override = model.lock_scope.map(|scope| {
        let (generator, _) = scope.generator();
        let lock_scope = scope.lock_scope();
        quote! {
            const ADVISORY_LOCK_SCOPE: #p::LockScope = #lock_scope;
            fn advisory_lock_key(
                __input: &#p::LockKeyInput<'_>,
            ) -> ::core::result::Result<#p::LockKey, #p::Error> {
                <#generator as #p::AdvisoryLockKeyGenerator>::generate_key(
                    __input,
                    <<Self as #p::Resource>::Log as #p::EventLog>::ADVISORY_LOCK_KEY_DEFAULT,
                )
            }
        }
    });
    // `route_to(Resource, action)` finds an action's replay function by its name
    // through these impls, so a name that is no action here is one error in the
    // user's words (see the event log's expansion).
    let replay_actions = model.actions.iter().map(|a| {
        let name = action_name_type(&a.ident, p);
        let replay = format_ident!("__events_replay_{}", a.ident, span = log_span);
        quote! {
            #[automatically_derived]
            impl #p::ReplayAction<#name> for #self_ty {
                const REPLAY: #p::ReplayFn = Self::#replay;
            }
        }
    });
    let resource_impl = quote! {
        #[automatically_derived]
        #[allow(clippy::type_complexity)]
        impl #p::Resource for #self_ty {
            type Log = #log_ty;
            const NAME: &'static str = #name;
            const ACTIONS: &'static [#p::ActionInfo] = &[#(#infos),*];
            const IGNORED_ACTIONS: &'static [&'static str] = &[#(#ignored),*];
            const CURRENT_ACTION_VERSIONS: &'static [(&'static str, u32)] = &[#(#versions),*];
            #lock_override

            #replay_fn
        }
    };
    match fallback_log {
        // Registered with its event log at link time, so replay finds it.
        None => quote! {
            #item
            #resource_impl
            #(#replay_actions)*
            const _: () = {
                #p::inventory::submit! {
                    #p::ResourceEntry {
                        log: #p::type_id_of::<#log_ty>,
                        name: <#self_ty as #p::Resource>::NAME,
                        actions: <#self_ty as #p::Resource>::ACTIONS,
                        replay_fn: <#self_ty as #p::Resource>::replay_fn,
                    }
                }
            };
        },
        Some(log) => quote! {
            #item
            const _: () = {
                #log
                #resource_impl
                #(#replay_actions)*
            };
        },
    }
}

/// Renames the method `name` to `__events_body_<name>`, private and hidden;
/// returns that name, and the doc comments and visibility its wrapper takes over.
fn hide_body(
    method: &mut syn::ImplItemFn,
    name: &syn::Ident,
) -> (syn::Ident, Vec<syn::Attribute>, syn::Visibility) {
    let body_ident = format_ident!("__events_body_{}", name);
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
    (body_ident, docs, vis)
}

/// Renames a method that repeats an action's name (reported) out of the way, so
/// rustc sees no second definition of the generated items; its body still
/// type-checks.
fn set_aside(method: &mut syn::ImplItemFn, index: usize) {
    method.sig.ident = format_ident!("__events_duplicate_{}_{}", index, method.sig.ident);
    method.vis = syn::Visibility::Inherited;
    method.attrs.push(syn::parse_quote!(#[doc(hidden)]));
    method.attrs.push(syn::parse_quote!(#[allow(dead_code)]));
}

/// The record id type of the stand-in event log: what the first action's context
/// says (`ActionCtx<'_, i64>`), else the default, a UUID.
fn fallback_record_id(model: &EventsModel) -> KeyTy {
    let Some(Type::Reference(r)) = model.actions.first().map(|a| &a.ctx_ty) else {
        return KeyTy::Uuid;
    };
    let Type::Path(ctx) = &*r.elem else {
        return KeyTy::Uuid;
    };
    let Some(PathArguments::AngleBracketed(args)) = ctx.path.segments.last().map(|s| &s.arguments)
    else {
        return KeyTy::Uuid;
    };
    let id = args.args.iter().find_map(|a| match a {
        GenericArgument::Type(Type::Path(t)) => t.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    });
    match id.as_deref() {
        Some("i64") => KeyTy::Integer,
        Some("String") => KeyTy::String,
        _ => KeyTy::Uuid,
    }
}

/// The personal data schema of `input_ty`: `Some(SCHEMA)` when it derives
/// `PersonalData`, `None` otherwise (autoref specialization on the concrete
/// type; see `__private::PersonalProbe`).
fn personal_schema(input_ty: &syn::Type) -> TokenStream {
    let p = Private::at(input_ty.span());
    quote_spanned! {input_ty.span()=> {
        #[allow(unused_imports)]
        use #p::{DeclaresNothing as _, DeclaresPersonal as _};
        (&&#p::PersonalProbe::<#input_ty>::NEW).personal_schema()
    }}
}

/// `ActionInfo { .. }` for an action.
fn info(a: &ActionModel) -> TokenStream {
    let p = Private::new();
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
    record_id: &TokenStream,
    log_span: Span,
) -> Vec<ImplItem> {
    let name = &a.ident;
    let call = format_ident!("__events_call_{}", a.ident, span = log_span);
    let replay = format_ident!("__events_replay_{}", a.ident, span = log_span);
    let (input_ty, ret_ty, ctx_ty) = (&a.input_ty, &a.ret_ty, &a.ctx_ty);
    let (pl, pi, pr) = (
        Private::at(log_span),
        Private::at(input_ty.span()),
        Private::at(ret_ty.span()),
    );
    // Every signature that mentions the record id type sits on the event log token,
    // the replay adapter's (which `route_to(Resource, action)` names) included: rustc
    // then reports a bad `event_log = X` on X and nowhere else.
    let replay_sig = quote_spanned! {log_span=>
        fn #replay<'__a>(
            __conn: &'__a mut #pl::PgConnection,
            __event: &'__a #pl::Event,
        ) -> #pl::BoxFuture<'__a, ::core::result::Result<(), #pl::Error>>
    };
    let action_name = a.ident.to_string();
    let action_info = info(a);
    let replay_ctx = quote_spanned! {log_span=>
        #pl::replay_ctx::<Self>(__conn, __event, #action_info)?
    };
    let info = info(a);
    let (record_param, record_arg) = match a.kind {
        Kind::Create => (
            quote!(),
            quote_spanned!(log_span=> ::core::option::Option::None),
        ),
        Kind::Update | Kind::Destroy => (
            quote_spanned!(log_span=> record_id: impl ::core::convert::Into<#record_id>,),
            quote_spanned!(log_span=> ::core::option::Option::Some(::core::convert::Into::into(record_id))),
        ),
    };
    let kind_doc = match a.kind {
        Kind::Create => "creates a record",
        Kind::Update => "updates the record `record_id`",
        Kind::Destroy => "destroys the record `record_id`",
    };
    let recorded_doc = if a.recorded {
        format!(
            " Recorded as an event at version {}: configure with the builder methods, then `.run(&store)`.",
            a.version
        )
    } else {
        " Ignored: runs in a transaction without an event. Configure with the builder methods, then `.run(&store)`.".to_owned()
    };
    let summary = if docs.is_empty() {
        let line = format!(" Action `{name}`: {kind_doc}.");
        quote!(#[doc = #line])
    } else {
        quote!(#(#docs)*)
    };
    // The body is called in one place only, with its errors (a context of the wrong
    // record id type) on the user's context parameter.
    let call_body = quote_spanned!(ctx_ty.span()=> Self::#body(__ctx, __input));
    // The input check and the decoding share a body and a span, so rustc reports a
    // missing `Deserialize` once, on the user's input type.
    let input_check = quote_spanned!(input_ty.span()=> #pi::action_input::<#input_ty>(););
    let personal = personal_schema(input_ty);
    let decode = quote_spanned!(input_ty.span()=> #pi::decode_input::<#input_ty>(
        __event, <Self as #pi::Resource>::NAME, #action_name, #personal)?);
    let result = quote_spanned!(ret_ty.span()=> #pr::replay_result::<#ret_ty>(
        __event, <Self as #pr::Resource>::NAME, #action_name, __ret));
    let call_ty = quote_spanned! {log_span=>
        #pl::ActionCall<Self, #input_ty, #ret_ty>
    };
    let new_call = quote_spanned! {log_span=>
        #pl::action_call(#info, input, #record_arg, Self::#call, #personal)
    };
    let wrapper: ImplItem = syn::parse_quote! {
        #summary
        #[doc = ""]
        #[doc = #recorded_doc]
        #[allow(clippy::type_complexity)]
        #vis fn #name(#record_param input: #input_ty) -> #call_ty {
            #new_call
        }
    };
    let call_fn: ImplItem = syn::parse_quote_spanned! {log_span=>
        #[doc(hidden)]
        #[allow(clippy::type_complexity)]
        fn #call<'__a, '__b>(
            __ctx: &'__a mut #pl::ActionCtx<'__b, #record_id>,
            __input: #input_ty,
        ) -> #pl::BoxFuture<'__a, #ret_ty> {
            ::std::boxed::Box::pin(#call_body)
        }
    };
    let replay_fn: ImplItem = syn::parse_quote_spanned! {log_span=>
        #[doc(hidden)]
        #[allow(clippy::type_complexity)]
        #replay_sig {
            #input_check
            ::std::boxed::Box::pin(async move {
                let mut __ctx = #replay_ctx;
                let __input: #input_ty = #decode;
                let __ret = Self::#call(&mut __ctx, __input).await;
                #result
            })
        }
    };
    vec![wrapper, call_fn, replay_fn]
}

/// The wrapper, the call adapter and the input check of one bulk method.
fn bulk_adapters(
    b: &BulkModel,
    target: &ActionModel,
    body: &syn::Ident,
    docs: &[syn::Attribute],
    vis: &syn::Visibility,
    record_id: &TokenStream,
    log_span: Span,
) -> Vec<ImplItem> {
    let name = &b.ident;
    let call = format_ident!("__events_call_{}", b.ident, span = log_span);
    let check = format_ident!("__events_bulk_input_{}", b.ident);
    let (input_ty, ret_ty, ctx_ty) = (&b.input_ty, &b.ret_ty, &b.ctx_ty);
    let (pl, pi) = (Private::at(log_span), Private::at(input_ty.span()));
    let target_input = &target.input_ty;
    let personal = personal_schema(input_ty);
    let info = info(target);
    let target_name = target.ident.to_string();
    let (param, inputs, record_ids) = match target.kind {
        Kind::Create => (
            quote!(inputs: impl ::core::iter::IntoIterator<Item = #input_ty>),
            quote!(::core::iter::Iterator::collect(
                ::core::iter::IntoIterator::into_iter(inputs)
            )),
            quote!(::core::option::Option::None),
        ),
        Kind::Update | Kind::Destroy => (
            quote_spanned!(log_span=> inputs: impl ::core::iter::IntoIterator<Item = (#record_id, #input_ty)>),
            quote!(__inputs),
            quote!(::core::option::Option::Some(__ids)),
        ),
    };
    let unzip = match target.kind {
        Kind::Create => quote!(),
        Kind::Update | Kind::Destroy => quote! {
            let (__ids, __inputs): (::std::vec::Vec<_>, ::std::vec::Vec<_>) =
                ::core::iter::Iterator::unzip(::core::iter::IntoIterator::into_iter(inputs));
        },
    };
    let what = match target.kind {
        Kind::Create => "creates one record per input",
        Kind::Update => "updates one record per `(record_id, input)` pair",
        Kind::Destroy => "destroys one record per `(record_id, input)` pair",
    };
    let recorded_doc = if target.recorded {
        format!(
            " Bulk form of `{target_name}`: {what}, writing one `{target_name}` event (version {}) per input in one statement. Configure with the builder methods, then `.run(&store)`.",
            target.version
        )
    } else {
        format!(
            " Bulk form of `{target_name}`, which is ignored: {what} in one transaction, without events. Configure with the builder methods, then `.run(&store)`."
        )
    };
    let summary = if docs.is_empty() {
        let line = format!(" Bulk action `{name}`.");
        quote!(#[doc = #line])
    } else {
        quote!(#(#docs)*)
    };
    let call_body = quote_spanned!(ctx_ty.span()=> Self::#body(__ctx, __inputs));
    // The events are `target`'s and replay decodes them as its input: same type.
    let same_input = quote_spanned!(input_ty.span()=>
        #pi::same_input::<#input_ty, #target_input>();
    );
    let call_ty = quote_spanned! {log_span=>
        #pl::BulkCall<Self, #input_ty, #ret_ty>
    };
    let new_call = quote_spanned! {log_span=>
        #pl::bulk_call(#info, #inputs, #record_ids, Self::#call, #personal)
    };
    let wrapper: ImplItem = syn::parse_quote! {
        #summary
        #[doc = ""]
        #[doc = #recorded_doc]
        #[allow(clippy::type_complexity)]
        #vis fn #name(#param) -> #call_ty {
            #unzip
            #new_call
        }
    };
    let call_fn: ImplItem = syn::parse_quote_spanned! {log_span=>
        #[doc(hidden)]
        #[allow(clippy::type_complexity)]
        fn #call<'__a, '__b>(
            __ctx: &'__a mut #pl::BulkCtx<'__b, #record_id>,
            __inputs: ::std::vec::Vec<#input_ty>,
        ) -> #pl::BoxFuture<'__a, #ret_ty> {
            ::std::boxed::Box::pin(#call_body)
        }
    };
    let check_fn: ImplItem = syn::parse_quote! {
        #[doc(hidden)]
        #[allow(dead_code)]
        fn #check() {
            #same_input
        }
    };
    vec![wrapper, call_fn, check_fn]
}
