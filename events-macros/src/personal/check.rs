//! `#[derive(PersonalData)]`: the parsed attributes checked into a model. Each
//! rule is its own function with its rule stated once; all run, every error is
//! kept.

use darling::Error;
use darling::error::Accumulator;
use syn::{Data, DeriveInput, Expr, Fields, Ident, Type};

use super::attr::{self, FieldAttr, StructAttr, Treatment};
use crate::options::did_you_mean;

/// Where the data subject comes from.
pub(crate) enum Subject {
    /// A field: its serialized name and type.
    Field(String, Box<Type>),
    /// `subject = record_id`.
    RecordId,
    /// `subject = actor`.
    Actor,
}

/// One personal field.
pub(crate) struct PersonalField {
    /// Its serialized name.
    pub(crate) name: String,
    /// Its type, which the placeholder must have.
    pub(crate) ty: Type,
    /// Encrypted or redacted.
    pub(crate) treatment: Treatment,
    /// The placeholder replay gives when the field is gone.
    pub(crate) erased: Option<Expr>,
}

/// The checked declaration.
#[derive(Default)]
pub(crate) struct Model {
    /// The data subject, if declared (and valid).
    pub(crate) subject: Option<Subject>,
    /// The personal fields, in declaration order.
    pub(crate) fields: Vec<PersonalField>,
}

/// Parses and checks `input`; every mistake is in the error.
pub(crate) fn check(input: &DeriveInput) -> darling::Result<Model> {
    let mut acc = Error::accumulator();
    let strukt = attr::parse_struct(&input.attrs, &mut acc);
    let fields: Vec<FieldAttr> = named_fields(input, &mut acc)
        .iter()
        .filter_map(|f| attr::parse_field(f, &mut acc))
        .collect();
    no_generics(input, &mut acc);
    no_rename_all(&strukt, &mut acc);
    let subject = strukt
        .subject
        .get()
        .and_then(|ident| subject_names_a_plain_field(ident, &fields, &mut acc));
    marks_a_field(input, &fields, &mut acc);
    for field in &fields {
        one_treatment(field, &mut acc);
        erased_needs_a_treatment(field, &mut acc);
        replay_needs_a_value(field, &mut acc);
        if !strukt.subject.is_set() && !strukt.subject_flawed {
            encrypted_needs_a_subject(field, &input.ident, &mut acc);
        }
    }
    let model = Model {
        subject,
        fields: fields
            .into_iter()
            .filter_map(|f| {
                let (treatment, _) = *f.treatments.first()?;
                Some(PersonalField {
                    name: f.name,
                    ty: f.ty,
                    treatment,
                    erased: f.erased.into_inner(),
                })
            })
            .collect(),
    };
    acc.finish_with(model)
}

/// Rule: the derive is for structs with named fields (their serialized form is
/// an object, whose fields the schema names).
fn named_fields<'a>(input: &'a DeriveInput, acc: &mut Accumulator) -> Vec<&'a syn::Field> {
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(named) => named.named.iter().collect(),
            _ => {
                acc.push(
                    Error::custom(format!(
                        "#[derive(PersonalData)] needs named fields, which the stored object is keyed by: write `struct {} {{ field: Type, .. }}`",
                        input.ident
                    ))
                    .with_span(&input.ident),
                );
                Vec::new()
            }
        },
        _ => {
            acc.push(
                Error::custom(format!(
                    "#[derive(PersonalData)] is for structs with named fields, not enums or unions: derive it on the struct that is the action's input, like `struct {} {{ email: String }}`",
                    input.ident
                ))
                .with_span(&input.ident),
            );
            Vec::new()
        }
    }
}

/// Rule: no generic parameters (the placeholders are plain functions).
fn no_generics(input: &DeriveInput, acc: &mut Accumulator) {
    if !input.generics.params.is_empty() {
        acc.push(
            Error::custom(
                "#[derive(PersonalData)] does not support generic types: derive it on a concrete input type",
            )
            .with_span(&input.generics),
        );
    }
}

/// Rule: fields are matched by their serialized names, so `rename_all` (which
/// renames them all out of sight of the derive) is refused.
fn no_rename_all(strukt: &StructAttr, acc: &mut Accumulator) {
    if let Some(span) = strukt.rename_all {
        acc.push(
            Error::custom(
                "#[derive(PersonalData)] matches fields by their serialized names and cannot follow `rename_all`: remove it and write `#[serde(rename = \"..\")]` on each renamed field",
            )
            .with_span(&span),
        );
    }
}

/// Rule: `subject = <name>` is `record_id`, `actor`, or a field of the struct
/// that is not personal itself (the subject id is stored in plaintext).
fn subject_names_a_plain_field(
    ident: &Ident,
    fields: &[FieldAttr],
    acc: &mut Accumulator,
) -> Option<Subject> {
    let name = ident.to_string();
    match name.as_str() {
        "record_id" => return Some(Subject::RecordId),
        "actor" => return Some(Subject::Actor),
        _ => {}
    }
    match fields.iter().find(|f| f.ident == *ident) {
        Some(f) if !f.treatments.is_empty() => {
            acc.push(
                Error::custom(format!(
                    "the subject `{name}` is personal itself, but a subject id is stored in plaintext to find its key: name the subject by an opaque id field (a UUID), or use `subject = record_id` / `subject = actor`"
                ))
                .with_span(ident),
            );
            None
        }
        Some(f) => Some(Subject::Field(f.name.clone(), Box::new(f.ty.clone()))),
        None => {
            let mut known: Vec<String> = fields.iter().map(|f| f.ident.to_string()).collect();
            let listed = known.join(", ");
            known.extend(["record_id".to_owned(), "actor".to_owned()]);
            let refs: Vec<&str> = known.iter().map(String::as_str).collect();
            let hint = did_you_mean(&name, &refs)
                .map(|k| format!("; did you mean `{k}`?"))
                .unwrap_or_default();
            acc.push(
                Error::custom(format!(
                    "unknown subject `{name}`: write a field of the struct, `record_id` or `actor`; fields here: {listed}{hint}"
                ))
                .with_span(ident),
            );
            None
        }
    }
}

/// Rule: a derive that marks no field declares nothing. (A field with a
/// `#[personal(..)]` that is wrong counts as marked: its error says enough.)
fn marks_a_field(input: &DeriveInput, fields: &[FieldAttr], acc: &mut Accumulator) {
    if !fields.is_empty() && fields.iter().all(|f| f.attr.is_none()) {
        acc.push(
            Error::custom(
                "#[derive(PersonalData)] marks no field: put `#[personal(encrypted)]` or `#[personal(redacted)]` on the personal ones",
            )
            .with_span(&input.ident),
        );
    }
}

/// Rule: a field is `encrypted` or `redacted`, once.
fn one_treatment(field: &FieldAttr, acc: &mut Accumulator) {
    for (_, span) in field.treatments.iter().skip(1) {
        acc.push(
            Error::custom(format!(
                "field `{}` is marked twice: a field is either `encrypted` or `redacted`; keep one",
                field.ident
            ))
            .with_span(span),
        );
    }
}

/// Rule: `erased = <expr>` is the placeholder of a personal field, so it comes
/// with `encrypted` or `redacted`.
fn erased_needs_a_treatment(field: &FieldAttr, acc: &mut Accumulator) {
    if field.treatments.is_empty()
        && let Some(span) = field.erased_at
    {
        acc.push(
            Error::custom(format!(
                "`erased` is the placeholder of a personal field, but `{}` is not marked: add `encrypted` or `redacted`",
                field.ident
            ))
            .with_span(&span),
        );
    }
}

/// True when `ty` is written `Option<..>` (its gone value is `None`).
fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

/// Rule: replay needs a value for a field that is gone (redacted, or its
/// subject erased): an `Option` gets `None`, any other type needs
/// `erased = <expr>`.
fn replay_needs_a_value(field: &FieldAttr, acc: &mut Accumulator) {
    if let Some(&(treatment, span)) = field.treatments.first()
        && !field.erased.is_set()
        && !is_option(&field.ty)
    {
        let how = match treatment {
            Treatment::Encrypted => "encrypted (and erased with its subject)",
            Treatment::Redacted => "redacted (never stored)",
        };
        acc.push(
            Error::custom(format!(
                "field `{}` is {how}, so replay needs a value for it when it is gone: add `erased = <expr>` (like `erased = String::new()`), or make it an `Option`",
                field.ident
            ))
            .with_span(&span),
        );
    }
}

/// Rule: an encrypted field needs the struct's data subject, whose key
/// encrypts it.
fn encrypted_needs_a_subject(field: &FieldAttr, strukt: &Ident, acc: &mut Accumulator) {
    if let Some(&(Treatment::Encrypted, span)) = field.treatments.first() {
        acc.push(
            Error::custom(format!(
                "field `{}` is encrypted with its data subject's key, but `{strukt}` names no subject: add `#[personal(subject = <field>)]` (or `record_id`, or `actor`) to the struct",
                field.ident
            ))
            .with_span(&span),
        );
    }
}

/// What the subject was written as, for tests.
#[cfg(test)]
pub(crate) fn subject_text(model: &Model) -> String {
    match &model.subject {
        None => "none".to_owned(),
        Some(Subject::Field(name, _)) => format!("field {name}"),
        Some(Subject::RecordId) => "record_id".to_owned(),
        Some(Subject::Actor) => "actor".to_owned(),
    }
}
