//! The shape of an action or bulk method: `async fn name(ctx: &mut ActionCtx<'_>,
//! input: Input) -> Result<T, E>`, or with a `BulkCtx` and a `Vec` of inputs. Every
//! way a signature differs is reported at once, each on its own token.

use darling::Error;
use darling::error::Accumulator;
use syn::spanned::Spanned;
use syn::{FnArg, ImplItemFn, ReturnType, Type};

/// Which method shape [`signature`] checks.
#[derive(Clone, Copy)]
pub(super) enum Shape {
    /// `async fn name(ctx: &mut ActionCtx<'_>, input: Input) -> Result<T, E>`.
    Action,
    /// `async fn name(ctx: &mut BulkCtx<'_>, inputs: Vec<Input>) -> Result<T, E>`.
    Bulk,
}

// An action is `async fn name(ctx: &mut ActionCtx<'_>, input: Input) -> Result<T, E>`;
// a bulk action `async fn name(ctx: &mut BulkCtx<'_>, inputs: Vec<Input>) -> Result<T, E>`.
pub(super) fn signature(
    m: &ImplItemFn,
    what: Shape,
    acc: &mut Accumulator,
) -> Option<(Type, Type, Type)> {
    let sig = &m.sig;
    let ident = &sig.ident;
    let (label, shape, ctx, params) = match what {
        Shape::Action => (
            "action",
            format!("`async fn {ident}(ctx: &mut ActionCtx<'_>, input: Input) -> Result<T, E>`"),
            "`ctx: &mut ActionCtx<'_>`",
            "the context and the input",
        ),
        Shape::Bulk => (
            "bulk action",
            format!(
                "`async fn {ident}(ctx: &mut BulkCtx<'_>, inputs: Vec<Input>) -> Result<T, E>`"
            ),
            "`ctx: &mut BulkCtx<'_>`",
            "the context and the inputs",
        ),
    };
    let name = ident;
    let mut errs: Vec<Error> = Vec::new();
    if sig.asyncness.is_none() {
        errs.push(
            Error::custom(format!(
                "{label} `{name}` must be an `async fn`; write {shape}"
            ))
            .with_span(&sig.fn_token),
        );
    }
    if let Some(c) = &sig.constness {
        errs.push(Error::custom(format!("{label} `{name}` cannot be `const`")).with_span(c));
    }
    if let syn::Safety::Unsafe(u) = &sig.safety {
        errs.push(Error::custom(format!("{label} `{name}` cannot be `unsafe`")).with_span(u));
    }
    if let Some(abi) = &sig.abi {
        errs.push(
            Error::custom(format!("{label} `{name}` cannot have an `extern` ABI")).with_span(abi),
        );
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errs.push(
            Error::custom(format!(
                "{label} `{name}` cannot be generic: its input is stored and replayed as one type"
            ))
            .with_span(&sig.generics),
        );
    }
    let mut typed = Vec::new();
    for arg in &sig.inputs {
        match arg {
            FnArg::Receiver(r) => errs.push(
                Error::custom(format!("{label} `{name}` takes no `self`: it is called as `Type::{name}(..)`; write {shape}"))
                    .with_span(r),
            ),
            FnArg::Typed(t) => typed.push(t),
        }
    }
    if typed.len() != 2 && typed.len() == sig.inputs.len() {
        // Point at the first parameter too many, else at the parameters there are.
        let at = match (typed.get(2), typed.first()) {
            (Some(extra), _) => extra.span(),
            (None, Some(first)) => first.span(),
            (None, None) => sig.ident.span(),
        };
        errs.push(
            Error::custom(format!(
                "{label} `{name}` takes exactly two parameters, {params}, found {}; write {shape}",
                typed.len()
            ))
            .with_span(&at),
        );
    }
    if let Some(first) = typed.first()
        && !matches!(&*first.ty, Type::Reference(r) if r.mutability.is_some())
    {
        errs.push(
            Error::custom(format!(
                "the first parameter of {label} `{name}` is its context; write {ctx}"
            ))
            .with_span(&first.ty),
        );
    }
    if let Some(first) = typed.first()
        && let Type::Reference(r) = &*first.ty
        && let Type::Path(p) = &*r.elem
        && let Some(last) = p.path.segments.last()
    {
        let (wrong, right) = match what {
            Shape::Action => (
                "BulkCtx",
                "an `ActionCtx` (a `BulkCtx` is for `#[bulk(..)]` methods)",
            ),
            Shape::Bulk => ("ActionCtx", "a `BulkCtx`"),
        };
        if last.ident == wrong {
            errs.push(
                Error::custom(format!(
                    "the context of {label} `{name}` is {right}; write {ctx}"
                ))
                .with_span(&last.ident),
            );
        }
    }
    let ret = match &sig.output {
        ReturnType::Type(_, ty) => Some((**ty).clone()),
        ReturnType::Default => {
            errs.push(
                Error::custom(format!(
                    "{label} `{name}` must return a `Result`; write {shape}"
                ))
                .with_span(&sig.ident),
            );
            None
        }
    };
    if !errs.is_empty() {
        acc.push(Error::multiple(errs));
        return None;
    }
    match (typed.as_slice(), ret) {
        ([ctx, input], Some(ret)) => Some(((*ctx.ty).clone(), (*input.ty).clone(), ret)),
        _ => None,
    }
}

/// A type as written, for messages: `Vec<CreateUser>`, not `Vec < CreateUser >`.
pub(super) fn type_text(ty: &Type) -> String {
    quote::ToTokens::to_token_stream(ty)
        .to_string()
        .replace(" :: ", "::")
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" >", ">")
        .replace(" ,", ",")
        .replace("& ", "&")
}

/// `T` of a `Vec<T>` (any path ending in `Vec`).
pub(super) fn vec_element(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else {
        return None;
    };
    let last = p.path.segments.last()?;
    if last.ident != "Vec" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    match args.args.iter().collect::<Vec<_>>().as_slice() {
        [syn::GenericArgument::Type(t)] => Some(t.clone()),
        _ => None,
    }
}
