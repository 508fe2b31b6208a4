//! Parsing pieces both macros share: bare-word options, `[a, b]` lists, integer
//! literals, key types, and "did you mean" hints.

use darling::ast::NestedMeta;
use darling::{Error, FromMeta, Result};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::spanned::Spanned;
use syn::{Expr, Ident, Lit, LitInt, Meta, Path};

/// A bare identifier as an option value: `primary_key_type = integer`.
#[derive(Debug, Clone)]
pub(crate) struct Word(pub Ident);

impl FromMeta for Word {
    fn from_expr(expr: &Expr) -> Result<Self> {
        match expr {
            Expr::Path(p) => match p.path.get_ident() {
                Some(ident) => Ok(Word(ident.clone())),
                None => Err(Error::custom("expected a single word, not a path").with_span(expr)),
            },
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) => s
                .parse::<Ident>()
                .map(Word)
                .map_err(|_| Error::custom("expected a single word").with_span(s)),
            Expr::Group(g) => Self::from_expr(&g.expr),
            _ => Err(Error::custom("expected a single word").with_span(expr)),
        }
    }
}

/// A bracketed list of identifiers: `ignore_actions = [create_v1, update_v1]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct IdentList(pub Vec<Ident>);

impl FromMeta for IdentList {
    fn from_expr(expr: &Expr) -> Result<Self> {
        let Expr::Array(array) = expr else {
            return Err(Error::custom(
                "expected a list of action names in brackets, like `[create_v1]`",
            )
            .with_span(expr));
        };
        let mut acc = Error::accumulator();
        let mut out = Vec::new();
        for elem in &array.elems {
            match elem {
                Expr::Path(p) if p.path.get_ident().is_some() => {
                    out.extend(p.path.get_ident().cloned());
                }
                _ => acc.push(Error::custom("expected an action name").with_span(elem)),
            }
        }
        acc.finish_with(IdentList(out))
    }
}

/// A bracketed list of integer literals: `versions = [1, 2]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct IntList(pub Vec<LitInt>);

impl FromMeta for IntList {
    fn from_expr(expr: &Expr) -> Result<Self> {
        let Expr::Array(array) = expr else {
            return Err(
                Error::custom("expected a list of versions in brackets, like `[1, 2]`")
                    .with_span(expr),
            );
        };
        let mut acc = Error::accumulator();
        let mut out = Vec::new();
        for elem in &array.elems {
            match elem {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Int(i), ..
                }) => out.push(i.clone()),
                _ => acc.push(Error::custom("expected a version number").with_span(elem)),
            }
        }
        acc.finish_with(IntList(out))
    }
}

/// Parses a version number: a positive integer that fits PostgreSQL's `integer`.
pub(crate) fn version(lit: &LitInt, what: &str) -> Result<u32> {
    match lit.base10_parse::<u32>() {
        Ok(0) => Err(
            Error::custom(format!("{what} must be 1 or more; versions start at 1")).with_span(lit),
        ),
        Ok(v) if v <= i32::MAX as u32 => Ok(v),
        _ => Err(
            Error::custom(format!("{what} must be an integer from 1 to {}", i32::MAX))
                .with_span(lit),
        ),
    }
}

/// A positional path argument, as in `persist_actor_primary_key(user_id, User)`.
pub(crate) fn positional_path<'a>(
    item: Option<&'a NestedMeta>,
    what: &str,
    span: Span,
) -> Result<&'a Path> {
    match item {
        Some(NestedMeta::Meta(Meta::Path(p))) => Ok(p),
        Some(other) => Err(Error::custom(format!("expected {what} here")).with_span(other)),
        None => Err(Error::custom(format!("missing {what}")).with_span(&span)),
    }
}

/// A positional identifier argument.
pub(crate) fn positional_ident(item: Option<&NestedMeta>, what: &str, span: Span) -> Result<Ident> {
    let path = positional_path(item, what, span)?;
    path.get_ident()
        .cloned()
        .ok_or_else(|| Error::custom(format!("expected {what}, a single name")).with_span(path))
}

/// Parses a `true`/`false` option value.
pub(crate) fn boolean(expr: &Expr) -> Result<syn::LitBool> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Bool(b), ..
        }) => Ok(b.clone()),
        _ => Err(Error::custom("expected `true` or `false`").with_span(expr)),
    }
}

/// The name of a `name = value` / `name(..)` / `name` item, for option dispatch.
pub(crate) fn option_name(meta: &Meta) -> String {
    meta.path()
        .get_ident()
        .map(ToString::to_string)
        .unwrap_or_else(|| meta.path().to_token_stream().to_string())
}

/// Suggests the closest of `known` to `name`, if any is close.
pub(crate) fn did_you_mean<'a>(name: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(name, k), *k))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// "unknown {what} `name`; expected one of: a, b (did you mean `a`?)" at `span`.
pub(crate) fn unknown(what: &str, name: &str, known: &[&str], span: &impl Spanned) -> Error {
    let hint = did_you_mean(name, known)
        .map(|k| format!("; did you mean `{k}`?"))
        .unwrap_or_default();
    Error::custom(format!(
        "unknown {what} `{name}`; expected one of: {}{hint}",
        known.join(", ")
    ))
    .with_span(&span.span())
}

/// A built-in lock scope (`advisory_lock_scope = global | tenant | record`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Global,
    Tenant,
    Record,
}

impl Scope {
    pub(crate) const NAMES: &'static [&'static str] = &["global", "tenant", "record"];

    /// Reads `global | tenant | record`.
    pub(crate) fn parse(word: &Ident) -> Result<Scope> {
        match word.to_string().as_str() {
            "global" => Ok(Scope::Global),
            "tenant" => Ok(Scope::Tenant),
            "record" => Ok(Scope::Record),
            other => Err(unknown("advisory_lock_scope", other, Self::NAMES, word)),
        }
    }

    /// `::events_core::__private::LockScope::X`.
    pub(crate) fn lock_scope(self) -> TokenStream {
        match self {
            Scope::Global => quote!(::events_core::__private::LockScope::Global),
            Scope::Tenant => quote!(::events_core::__private::LockScope::Tenant),
            Scope::Record => quote!(::events_core::__private::LockScope::Record),
        }
    }

    /// The generator implementing the scope, and its name for introspection.
    pub(crate) fn generator(self) -> (TokenStream, &'static str) {
        match self {
            Scope::Global => (
                quote!(::events_core::__private::GlobalLockKeyGenerator),
                "GlobalLockKeyGenerator",
            ),
            Scope::Tenant => (
                quote!(::events_core::__private::DefaultLockKeyGenerator),
                "DefaultLockKeyGenerator",
            ),
            Scope::Record => (
                quote!(::events_core::__private::RecordLockKeyGenerator),
                "RecordLockKeyGenerator",
            ),
        }
    }
}

/// The shape of a key column, as the macros see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyTy {
    Uuid,
    Integer,
    String,
}

impl KeyTy {
    pub(crate) const NAMES: &'static [&'static str] = &["uuid", "integer", "string"];

    /// Reads `uuid | integer | string`.
    pub(crate) fn parse(word: &Ident, option: &str) -> Result<KeyTy> {
        match word.to_string().as_str() {
            "uuid" => Ok(KeyTy::Uuid),
            "integer" => Ok(KeyTy::Integer),
            "string" => Ok(KeyTy::String),
            other => Err(unknown(option, other, Self::NAMES, word)),
        }
    }

    /// The option value that selects this shape.
    pub(crate) fn name(self) -> &'static str {
        match self {
            KeyTy::Uuid => "uuid",
            KeyTy::Integer => "integer",
            KeyTy::String => "string",
        }
    }

    /// `::events_core::__private::KeyType::X`.
    pub(crate) fn key_type(self) -> TokenStream {
        match self {
            KeyTy::Uuid => quote!(::events_core::__private::KeyType::Uuid),
            KeyTy::Integer => quote!(::events_core::__private::KeyType::Integer),
            KeyTy::String => quote!(::events_core::__private::KeyType::String),
        }
    }

    /// The Rust type of keys of this shape.
    pub(crate) fn rust_type(self) -> TokenStream {
        match self {
            KeyTy::Uuid => quote!(::events_core::__private::Uuid),
            KeyTy::Integer => quote!(::core::primitive::i64),
            KeyTy::String => quote!(::std::string::String),
        }
    }
}

/// Rejects a second occurrence of a single-valued option.
pub(crate) fn set_once<T>(
    slot: &mut Option<T>,
    value: T,
    name: &str,
    span: &impl Spanned,
    acc: &mut darling::error::Accumulator,
) {
    if slot.is_some() {
        acc.push(
            Error::custom(format!("duplicate option `{name}`; give it once"))
                .with_span(&span.span()),
        );
    } else {
        *slot = Some(value);
    }
}

/// Renders a path the way a user wrote it, for names in introspection.
pub(crate) fn path_string(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
}

/// The value of a `name = value` option, or an error saying to write it that way.
pub(crate) fn name_value<'a>(meta: &'a Meta, name: &str, example: &str) -> Result<&'a Expr> {
    match meta {
        Meta::NameValue(nv) => Ok(&nv.value),
        Meta::List(_) => Err(Error::custom(format!(
            "`{name}` takes a value, not a list: write `{name} = {example}`"
        ))
        .with_span(meta.path())),
        Meta::Path(_) => Err(Error::custom(format!(
            "`{name}` needs a value: write `{name} = {example}`"
        ))
        .with_span(meta.path())),
    }
}

/// The items of a `name(..)` option, or an error saying to write it that way.
pub(crate) fn list(meta: &Meta, name: &str, example: &str) -> Result<Vec<NestedMeta>> {
    match meta {
        Meta::List(l) => NestedMeta::parse_meta_list(l.tokens.clone()).map_err(Error::from),
        Meta::NameValue(_) => Err(Error::custom(format!(
            "`{name}` takes a list, not a value: write `{name}({example})`"
        ))
        .with_span(meta.path())),
        Meta::Path(_) => Err(Error::custom(format!(
            "`{name}` needs its arguments: write `{name}({example})`"
        ))
        .with_span(meta.path())),
    }
}

/// The meta of an option item, rejecting bare literals.
pub(crate) fn option_meta<'a>(item: &'a NestedMeta, example: &str) -> Result<&'a Meta> {
    match item {
        NestedMeta::Meta(m) => Ok(m),
        NestedMeta::Lit(l) => Err(Error::custom(format!(
            "expected an option like `{example}`, not a literal"
        ))
        .with_span(l)),
        NestedMeta::NameValueInvalidExpr(m) => {
            let at = m
                .value
                .clone()
                .into_iter()
                .next()
                .map_or_else(|| m.path.span(), |t| t.span());
            Err(Error::custom(format!(
                "the value of `{}` is not valid here; write a name, a number, a string or a `[..]` list",
                path_string(&m.path)
            ))
            .with_span(&at))
        }
    }
}

/// The span of the keyword that says what `item` is (`enum`, `fn`, ..), to point
/// at when the item is not a struct.
pub(crate) fn item_keyword(item: &TokenStream) -> proc_macro2::Span {
    use proc_macro2::TokenTree;
    const KEYWORDS: &[&str] = &[
        "enum",
        "union",
        "fn",
        "impl",
        "trait",
        "mod",
        "type",
        "const",
        "static",
        "use",
        "extern",
        "macro_rules",
        "struct",
    ];
    item.clone()
        .into_iter()
        .find_map(|t| match t {
            TokenTree::Ident(i) if KEYWORDS.iter().any(|k| i == k) => Some(i.span()),
            _ => None,
        })
        .unwrap_or_else(proc_macro2::Span::call_site)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names() {
        assert_eq!(
            did_you_mean("primary_key_typ", &["primary_key_type", "table"]),
            Some("primary_key_type")
        );
        assert_eq!(did_you_mean("zzz", &["primary_key_type"]), None);
    }

    #[test]
    fn rejects_version_zero() {
        let lit: LitInt = syn::parse_quote!(0);
        assert!(version(&lit, "version").is_err());
        let lit: LitInt = syn::parse_quote!(3);
        assert_eq!(version(&lit, "version").ok(), Some(3));
    }

    #[test]
    fn says_which_form_an_option_takes() {
        let meta: Meta = syn::parse_quote!(primary_key_type(integer));
        let err = name_value(&meta, "primary_key_type", "integer").expect_err("a list");
        assert_eq!(
            err.to_string(),
            "`primary_key_type` takes a value, not a list: write `primary_key_type = integer`"
        );
        let meta: Meta = syn::parse_quote!(primary_key_type);
        let err = name_value(&meta, "primary_key_type", "integer").expect_err("a bare word");
        assert!(err.to_string().contains("needs a value"), "{err}");
        let meta: Meta = syn::parse_quote!(route_to = User);
        let err = list(&meta, "route_to", "User, create_v1").expect_err("a value");
        assert_eq!(
            err.to_string(),
            "`route_to` takes a list, not a value: write `route_to(User, create_v1)`"
        );
    }

    #[test]
    fn rejects_a_literal_where_an_option_goes() {
        let items = NestedMeta::parse_meta_list(quote!("events", table = "x")).expect("parses");
        let err = option_meta(&items[0], "table = \"events\"").expect_err("a literal");
        assert!(err.to_string().contains("not a literal"), "{err}");
        assert!(option_meta(&items[1], "table = \"events\"").is_ok());
    }
}
