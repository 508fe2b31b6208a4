//! The options of an attribute: one table per option list drives both which
//! names are accepted and the "expected one of" message, so the two cannot
//! drift; [`Once`] holds an option that may be given once; the helpers say which
//! form an option takes (`name = value`, `name(..)`) when it is written another way.

use darling::ast::NestedMeta;
use darling::error::Accumulator;
use darling::{Error, Result};
use quote::ToTokens;
use syn::spanned::Spanned;
use syn::{Expr, Meta, Path};

use crate::common::path_string;

/// One option of an attribute: its name and how it is read into `A`, the
/// attribute as written.
pub(crate) struct Opt<A> {
    /// The option's name.
    pub name: &'static str,
    /// Reads the option into the attribute, pushing its errors.
    pub parse: fn(&mut A, &Meta, &mut Accumulator),
}

/// A list of options, and the name of the list for messages
/// (`#[event_log] option`).
pub(crate) struct Options<A: 'static> {
    /// What an option of this list is called in messages.
    pub what: &'static str,
    /// The options, in the order the message lists them.
    pub table: &'static [Opt<A>],
    /// Names that are not options but common mistakes, with what to write instead.
    pub hints: &'static [(&'static str, &'static str)],
}

impl<A> Options<A> {
    /// The accepted names, in table order.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.table.iter().map(|o| o.name).collect()
    }

    /// Reads `meta` with its option, or reports it unknown (with a hint when it is
    /// a known mistake, else the accepted names and the closest one).
    pub(crate) fn parse(&self, out: &mut A, meta: &Meta, acc: &mut Accumulator) {
        let name = option_name(meta);
        if let Some(opt) = self.table.iter().find(|o| o.name == name) {
            (opt.parse)(out, meta, acc);
        } else if let Some((_, hint)) = self.hints.iter().find(|(n, _)| *n == name) {
            acc.push(Error::custom(*hint).with_span(meta.path()));
        } else {
            acc.push(unknown(self.what, &name, &self.names(), meta.path()));
        }
    }
}

/// An option that may be given once. The first value is kept; a second one is
/// reported on its own option name.
#[derive(Debug)]
pub(crate) struct Once<T>(Option<T>);

impl<T> Default for Once<T> {
    fn default() -> Self {
        Once(None)
    }
}

impl<T> Once<T> {
    /// Sets the value, or reports `name` as given twice.
    pub(crate) fn set(&mut self, value: T, name: &Path, acc: &mut Accumulator) {
        if self.0.is_some() {
            acc.push(
                Error::custom(format!(
                    "duplicate option `{}`; give it once",
                    path_string(name)
                ))
                .with_span(name),
            );
        } else {
            self.0 = Some(value);
        }
    }

    /// The value, if given.
    pub(crate) fn get(&self) -> Option<&T> {
        self.0.as_ref()
    }

    /// Whether the option was given (and well-formed).
    pub(crate) fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// The value, if given.
    pub(crate) fn into_inner(self) -> Option<T> {
        self.0
    }
}

/// Reads a `name = value` option with `parse` into `slot`: the usual body of an
/// [`Opt`]. `example` is a value to show when the option is written another way.
pub(crate) fn set_value<T>(
    slot: &mut Once<T>,
    meta: &Meta,
    example: &str,
    parse: impl FnOnce(&Expr) -> Result<T>,
    acc: &mut Accumulator,
) {
    let value = name_value(meta, &option_name(meta), example).and_then(parse);
    if let Some(value) = acc.handle(value) {
        slot.set(value, meta.path(), acc);
    }
}

/// One of a fixed set of words (`uuid | integer | string`): the table lists the
/// words and what each means, and is the list the error shows.
pub(crate) fn choose<T: Copy>(
    word: &syn::Ident,
    option: &str,
    table: &[(&'static str, T)],
) -> Result<T> {
    let name = word.to_string();
    match table.iter().find(|(w, _)| *w == name) {
        Some((_, value)) => Ok(*value),
        None => {
            let names: Vec<&str> = table.iter().map(|(w, _)| *w).collect();
            Err(unknown(option, &name, &names, word))
        }
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

#[cfg(test)]
mod tests {
    use quote::quote;

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

    #[derive(Default)]
    struct Attr {
        table: Once<syn::LitStr>,
    }

    const OPTIONS: Options<Attr> = Options {
        what: "#[test] option",
        table: &[Opt {
            name: "table",
            parse: |a, meta, acc| {
                set_value(
                    &mut a.table,
                    meta,
                    "\"events\"",
                    <syn::LitStr as darling::FromMeta>::from_expr,
                    acc,
                )
            },
        }],
        hints: &[("tables", "write one `table = \"..\"`")],
    };

    fn parse(args: proc_macro2::TokenStream) -> (Attr, String) {
        let mut acc = Error::accumulator();
        let mut attr = Attr::default();
        for item in NestedMeta::parse_meta_list(args).expect("parses") {
            if let NestedMeta::Meta(meta) = item {
                OPTIONS.parse(&mut attr, &meta, &mut acc);
            }
        }
        let errors = acc
            .finish()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        (attr, errors)
    }

    #[test]
    fn a_second_value_is_reported_and_the_first_kept() {
        let (attr, errors) = parse(quote!(table = "a", table = "b"));
        assert_eq!(errors, "duplicate option `table`; give it once");
        assert_eq!(
            attr.table.get().map(syn::LitStr::value).as_deref(),
            Some("a")
        );
    }

    #[test]
    fn the_table_is_the_list_in_the_message() {
        let (_, errors) = parse(quote!(tabel = "a"));
        assert_eq!(
            errors,
            "unknown #[test] option `tabel`; expected one of: table; did you mean `table`?"
        );
        let (_, errors) = parse(quote!(tables = "a"));
        assert_eq!(errors, "write one `table = \"..\"`");
    }
}
