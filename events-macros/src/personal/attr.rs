//! Parses `#[personal(..)]` on the struct and on each field, and the serde
//! names of the fields, into plain structs: syntax only.
//!
//! Every malformed or unknown option is reported; parsing goes on past errors
//! so the rules in `check.rs` still see everything that did parse.

use darling::ast::NestedMeta;
use darling::error::Accumulator;
use darling::{Error, FromMeta};
use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, Meta, Token, Type};

use crate::common::Word;
use crate::options::{self, Once, Opt, Options};

/// How a field is kept out of the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Treatment {
    /// `#[personal(encrypted)]`.
    Encrypted,
    /// `#[personal(redacted)]`.
    Redacted,
}

/// `#[personal(..)]` on the struct, and its `#[serde(rename_all)]`.
#[derive(Default)]
pub(crate) struct StructAttr {
    /// `subject = <field> | record_id | actor`.
    pub subject: Once<Ident>,
    /// The `rename_all` of a `#[serde(..)]`, if written.
    pub rename_all: Option<Span>,
    /// An option that may have been meant as the subject is unknown or
    /// malformed (reported): the subject is not known to be missing.
    pub subject_flawed: bool,
}

/// A named field as written: its ident, serialized name, type and `#[personal(..)]`.
pub(crate) struct FieldAttr {
    /// The field's ident.
    pub ident: Ident,
    /// Its serialized name: `#[serde(rename = "..")]`, else the ident.
    pub name: String,
    /// Its type.
    pub ty: Type,
    /// Every `encrypted` / `redacted` written, with the span of the word.
    pub treatments: Vec<(Treatment, Span)>,
    /// `erased = <expr>`.
    pub erased: Once<Expr>,
    /// The span of its first `#[personal(..)]`, if any.
    pub attr: Option<Span>,
    /// The span of the word `erased`, if written.
    pub erased_at: Option<Span>,
}

/// Options `#[personal(..)]` takes on the struct.
const STRUCT_OPTIONS: Options<StructAttr> = Options {
    what: "struct-level #[personal] option",
    table: &[Opt {
        name: "subject",
        parse: |a, m, acc| options::set_value(&mut a.subject, m, "user_id", subject_word, acc),
    }],
    hints: &[
        (
            "encrypted",
            "`encrypted` goes on a field, not on the struct: write `#[personal(encrypted)]` above the field",
        ),
        (
            "redacted",
            "`redacted` goes on a field, not on the struct: write `#[personal(redacted)]` above the field",
        ),
        (
            "erased",
            "`erased` goes on a field, not on the struct: write `#[personal(redacted, erased = <expr>)]` above the field",
        ),
    ],
};

/// Options `#[personal(..)]` takes on a field.
const FIELD_OPTIONS: Options<FieldAttr> = Options {
    what: "#[personal] option",
    table: &[
        Opt {
            name: "encrypted",
            parse: |a, m, acc| flag(a, m, Treatment::Encrypted, acc),
        },
        Opt {
            name: "redacted",
            parse: |a, m, acc| flag(a, m, Treatment::Redacted, acc),
        },
        Opt {
            name: "erased",
            parse: |a, m, acc| {
                a.erased_at.get_or_insert(m.path().span());
                options::set_value(&mut a.erased, m, "String::new()", |e| Ok(e.clone()), acc)
            },
        },
    ],
    hints: &[(
        "subject",
        "`subject` is declared on the struct, not on a field: write `#[personal(subject = <field>)]` above the struct",
    )],
};

/// The subject as a word: a field name, `record_id` or `actor`.
fn subject_word(expr: &Expr) -> darling::Result<Ident> {
    Word::from_expr(expr).map(|w| w.0)
}

/// A treatment word, which takes no value.
fn flag(a: &mut FieldAttr, meta: &Meta, treatment: Treatment, acc: &mut Accumulator) {
    let name = options::option_name(meta);
    if !matches!(meta, Meta::Path(_)) {
        acc.push(
            Error::custom(format!(
                "`{name}` takes no value: write `#[personal({name})]`"
            ))
            .with_span(meta.path()),
        );
    }
    a.treatments.push((treatment, meta.path().span()));
}

/// The items of a `#[personal(..)]`, or an error saying to write it that way.
fn items(attr: &Attribute, example: &str, acc: &mut Accumulator) -> Vec<NestedMeta> {
    let parsed = match &attr.meta {
        Meta::List(l) => NestedMeta::parse_meta_list(l.tokens.clone()).map_err(Error::from),
        _ => Err(Error::custom(format!(
            "`#[personal]` needs its options: write `#[personal({example})]`"
        ))
        .with_span(attr)),
    };
    acc.handle(parsed).unwrap_or_default()
}

/// Reads the struct's `#[personal(..)]` and `#[serde(rename_all)]`.
pub(crate) fn parse_struct(attrs: &[Attribute], acc: &mut Accumulator) -> StructAttr {
    let mut out = StructAttr::default();
    for attr in attrs {
        if attr.path().is_ident("personal") {
            if !matches!(attr.meta, Meta::List(_)) {
                out.subject_flawed = true;
            }
            for item in items(attr, "subject = user_id", acc) {
                let Some(meta) = acc.handle(options::option_meta(&item, "subject = user_id"))
                else {
                    out.subject_flawed = true;
                    continue;
                };
                let name = options::option_name(meta);
                let is_hint = STRUCT_OPTIONS.hints.iter().any(|(h, _)| *h == name);
                let was_set = out.subject.is_set();
                STRUCT_OPTIONS.parse(&mut out, meta, acc);
                if !is_hint && !was_set && !out.subject.is_set() {
                    out.subject_flawed = true;
                }
            }
        } else if attr.path().is_ident("serde") {
            serde_items(attr, |path, _| {
                if path.is_ident("rename_all") {
                    out.rename_all = Some(path.span());
                }
            });
        }
    }
    out
}

/// Reads a named field's serialized name and `#[personal(..)]`; `None` for a
/// tuple field (reported by the caller).
pub(crate) fn parse_field(field: &syn::Field, acc: &mut Accumulator) -> Option<FieldAttr> {
    let ident = field.ident.clone()?;
    let mut out = FieldAttr {
        name: syn::ext::IdentExt::unraw(&ident).to_string(),
        ident,
        ty: field.ty.clone(),
        treatments: Vec::new(),
        erased: Once::default(),
        attr: None,
        erased_at: None,
    };
    for attr in &field.attrs {
        if attr.path().is_ident("personal") {
            out.attr.get_or_insert(attr.span());
            for item in items(attr, "encrypted", acc) {
                if let Some(meta) = acc.handle(options::option_meta(&item, "encrypted")) {
                    FIELD_OPTIONS.parse(&mut out, meta, acc);
                }
            }
        } else if attr.path().is_ident("serde") {
            serde_items(attr, |path, value| {
                if path.is_ident("rename")
                    && let Some(Expr::Lit(syn::ExprLit {
                        lit: syn::Lit::Str(s),
                        ..
                    })) = value
                {
                    out.name = s.value();
                }
            });
        }
    }
    Some(out)
}

/// Calls `each` with every item of a `#[serde(..)]` (its path, and its value
/// when written `name = value`). A serde attribute serde itself would refuse
/// is left for serde to report.
fn serde_items(attr: &Attribute, mut each: impl FnMut(&syn::Path, Option<&Expr>)) {
    let _ = attr.parse_nested_meta(|meta| {
        if meta.input.peek(Token![=]) {
            let value: Expr = meta.value()?.parse()?;
            each(&meta.path, Some(&value));
        } else {
            if meta.input.peek(syn::token::Paren) {
                let _ = meta.input.parse::<proc_macro2::Group>()?;
            }
            each(&meta.path, None);
        }
        Ok(())
    });
}
