//! `#[derive(PersonalData)]`: the checked model expanded into the
//! `PersonalData` impl, a spanned assertion that the subject field's type names
//! a subject, and each placeholder type-checked against its field.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::DeriveInput;
use syn::spanned::Spanned;

use super::attr::Treatment;
use super::check::{Model, Subject};
use crate::private::Private;

/// The `PersonalData` impl of `model` for `input`.
pub(crate) fn expand(input: &DeriveInput, model: &Model) -> TokenStream {
    let p = Private::new();
    let ident = &input.ident;
    let type_name = ident.to_string();
    let subject = match &model.subject {
        None => quote!(::core::option::Option::None),
        Some(Subject::Field(name, _)) => {
            quote!(::core::option::Option::Some(#p::SubjectSource::Field(#name)))
        }
        Some(Subject::RecordId) => {
            quote!(::core::option::Option::Some(#p::SubjectSource::RecordId))
        }
        Some(Subject::Actor) => quote!(::core::option::Option::Some(#p::SubjectSource::Actor)),
    };
    // The assertion carries the span of the field's type, so rustc's
    // `SubjectKey` error (which says what to write) lands on it.
    let subject_check = match &model.subject {
        Some(Subject::Field(_, ty)) => {
            let at = Private::at(ty.span());
            quote_spanned!(ty.span()=> #at::subject_key::<#ty>();)
        }
        _ => quote!(),
    };
    let fields = model.fields.iter().map(|f| {
        let name = &f.name;
        let treatment = match f.treatment {
            Treatment::Encrypted => quote!(#p::Treatment::Encrypted),
            Treatment::Redacted => quote!(#p::Treatment::Redacted),
        };
        let erased = match &f.erased {
            None => quote!(::core::option::Option::None),
            Some(expr) => {
                let ty = &f.ty;
                // A placeholder of the wrong type is reported on the expression.
                let value = quote_spanned!(expr.span()=> let __value: #ty = #expr;);
                quote!(::core::option::Option::Some({
                    fn __erased() -> #p::JsonValue {
                        #value
                        #p::erased_json(&__value)
                    }
                    __erased
                }))
            }
        };
        quote!(#p::PersonalField { name: #name, treatment: #treatment, erased: #erased })
    });
    quote! {
        const _: () = {
            #[automatically_derived]
            impl #p::PersonalData for #ident {
                const SCHEMA: &'static #p::PersonalSchema = &#p::PersonalSchema {
                    type_name: #type_name,
                    subject: #subject,
                    fields: &[#(#fields),*],
                };
            }
            #[allow(dead_code)]
            fn __events_personal_checks() {
                #subject_check
            }
        };
    }
}
