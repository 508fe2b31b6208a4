//! Values both macros parse: bare words, `[a, b]` lists, integer literals,
//! positional arguments, lock scopes and key types.

use darling::ast::NestedMeta;
use darling::{Error, FromMeta, Result};
use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};
use syn::{Expr, Ident, Lit, LitInt, Meta, Path};

use crate::options::choose;
use crate::private::Private;

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

/// A built-in lock scope (`advisory_lock_scope = global | tenant | record`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Global,
    Tenant,
    Record,
}

impl Scope {
    /// The words `advisory_lock_scope` takes.
    const WORDS: &'static [(&'static str, Scope)] = &[
        ("global", Scope::Global),
        ("tenant", Scope::Tenant),
        ("record", Scope::Record),
    ];

    /// Reads `global | tenant | record`.
    pub(crate) fn parse(word: &Ident) -> Result<Scope> {
        choose(word, "advisory_lock_scope", Self::WORDS)
    }

    /// `LockScope::X` of the runtime.
    pub(crate) fn lock_scope(self) -> TokenStream {
        let private = Private::new();
        match self {
            Scope::Global => quote!(#private::LockScope::Global),
            Scope::Tenant => quote!(#private::LockScope::Tenant),
            Scope::Record => quote!(#private::LockScope::Record),
        }
    }

    /// The generator implementing the scope, and its name for introspection.
    pub(crate) fn generator(self) -> (TokenStream, &'static str) {
        let private = Private::new();
        let name = match self {
            Scope::Global => "GlobalLockKeyGenerator",
            Scope::Tenant => "DefaultLockKeyGenerator",
            Scope::Record => "RecordLockKeyGenerator",
        };
        let ident = Ident::new(name, Span::call_site());
        (quote!(#private::#ident), name)
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
    /// The words `record_id_type` and `attribute_type` take.
    const WORDS: &'static [(&'static str, KeyTy)] = &[
        ("uuid", KeyTy::Uuid),
        ("integer", KeyTy::Integer),
        ("string", KeyTy::String),
    ];

    /// Reads `uuid | integer | string` as the value of `option`.
    pub(crate) fn parse(word: &Ident, option: &str) -> Result<KeyTy> {
        choose(word, option, Self::WORDS)
    }

    /// The option value that selects this shape.
    pub(crate) fn name(self) -> &'static str {
        Self::WORDS
            .iter()
            .find(|(_, k)| *k == self)
            .map_or("uuid", |(w, _)| w)
    }

    /// `KeyType::X` of the runtime.
    pub(crate) fn key_type(self) -> TokenStream {
        let private = Private::new();
        match self {
            KeyTy::Uuid => quote!(#private::KeyType::Uuid),
            KeyTy::Integer => quote!(#private::KeyType::Integer),
            KeyTy::String => quote!(#private::KeyType::String),
        }
    }

    /// The Rust type of keys of this shape.
    pub(crate) fn rust_type(self) -> TokenStream {
        let private = Private::new();
        match self {
            KeyTy::Uuid => quote!(#private::Uuid),
            KeyTy::Integer => quote!(::core::primitive::i64),
            KeyTy::String => quote!(::std::string::String),
        }
    }
}

/// Renders a path the way a user wrote it, for names in introspection.
pub(crate) fn path_string(path: &Path) -> String {
    path.to_token_stream().to_string().replace(' ', "")
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
    fn rejects_version_zero() {
        let lit: LitInt = syn::parse_quote!(0);
        assert!(version(&lit, "version").is_err());
        let lit: LitInt = syn::parse_quote!(3);
        assert_eq!(version(&lit, "version").ok(), Some(3));
    }
}
