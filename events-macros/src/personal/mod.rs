//! `#[derive(PersonalData)]`: parse (`attr`) → check (`check`) → expand
//! (`expand`).

mod attr;
mod check;
mod expand;

use proc_macro2::TokenStream;
use quote::quote;
use syn::DeriveInput;

/// Expands `#[derive(PersonalData)]` on `input`. Never panics: on errors, the
/// `compile_error!`s and, for a non-generic type, an impl with an empty schema,
/// so code using the type does not drown in follow-on errors.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    match check::check(&input) {
        Ok(model) => expand::expand(&input, &model),
        Err(errors) => {
            let errors = errors.write_errors();
            if input.generics.params.is_empty() {
                let fallback = expand::expand(&input, &check::Model::default());
                quote!(#errors #fallback)
            } else {
                errors
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(input: TokenStream) -> String {
        let text = expand(input).to_string();
        text.split("compile_error")
            .skip(1)
            .collect::<Vec<_>>()
            .join("|")
    }

    fn model(input: TokenStream) -> check::Model {
        let input: DeriveInput = syn::parse2(input).expect("a struct");
        match check::check(&input) {
            Ok(model) => model,
            Err(e) => panic!("unexpected errors: {e}"),
        }
    }

    #[test]
    fn reads_subject_fields_and_serde_names() {
        let m = model(quote!(
            #[personal(subject = user_id)]
            struct Contact {
                user_id: Uuid,
                #[serde(rename = "mail")]
                #[personal(encrypted, erased = String::new())]
                email: String,
                #[personal(redacted)]
                r#note: Option<String>,
                age: u32,
            }
        ));
        assert_eq!(check::subject_text(&m), "field user_id");
        let names: Vec<&str> = m.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["mail", "note"]);
        assert_eq!(
            check::subject_text(&model(quote!(
                #[personal(subject = actor)]
                struct A {
                    #[personal(encrypted)]
                    x: Option<String>,
                }
            ))),
            "actor"
        );
    }

    #[test]
    fn reports_every_mistake_at_once() {
        let out = errors(quote!(
            #[personal(subject = user_idd)]
            struct Contact {
                user_id: Uuid,
                #[personal(encrypt)]
                email: Option<String>,
                #[personal(redacted)]
                password: String,
                #[personal(encrypted, redacted)]
                phone: Option<String>,
            }
        ));
        for needle in [
            "unknown subject `user_idd`",
            "did you mean `user_id`?",
            "unknown #[personal] option `encrypt`",
            "did you mean `encrypted`?",
            "field `password` is redacted (never stored)",
            "field `phone` is marked twice",
        ] {
            assert!(out.contains(needle), "missing {needle:?} in {out}");
        }
        // A subject was declared (though misspelled): no "names no subject" on top.
        assert!(!out.contains("names no subject"), "{out}");
    }

    #[test]
    fn a_misspelled_subject_is_not_also_reported_missing() {
        let out = errors(quote!(
            #[personal(subjet = user_id)]
            struct Contact {
                user_id: Uuid,
                #[personal(encrypted)]
                email: Option<String>,
            }
        ));
        assert!(out.contains("did you mean `subject`?"), "{out}");
        assert!(!out.contains("names no subject"), "{out}");
        let out = errors(quote!(
            #[personal(redacted)]
            struct Contact {
                #[personal(encrypted)]
                email: Option<String>,
            }
        ));
        assert!(out.contains("goes on a field"), "{out}");
        assert!(out.contains("names no subject"), "{out}");
    }

    #[test]
    fn an_error_still_gets_an_empty_impl() {
        let out = expand(quote!(
            struct Contact {
                #[personal(encrypted)]
                email: Option<String>,
            }
        ))
        .to_string();
        assert!(out.contains("names no subject"), "{out}");
        assert!(
            out.contains("impl :: events_core :: __private :: PersonalData for Contact"),
            "{out}"
        );
    }

    #[test]
    fn never_panics_on_odd_input() {
        for input in [
            quote!(
                struct Unit;
            ),
            quote!(
                struct Tuple(#[personal(encrypted)] String);
            ),
            quote!(
                enum E {
                    A,
                }
            ),
            quote!(
                struct G<T> {
                    #[personal(redacted)]
                    t: Option<T>,
                }
            ),
            quote!(
                #[personal]
                struct S {
                    #[personal]
                    a: String,
                }
            ),
            quote!(
                #[personal(subject = "a b")]
                struct S {
                    #[personal(redacted = 1, erased)]
                    a: String,
                }
            ),
        ] {
            let _ = expand(input);
        }
    }

    /// What a user gets for a subject field, an encrypted field with a
    /// placeholder and a redacted `Option`.
    #[test]
    fn expansion_of_a_contact() {
        let out = expand(quote!(
            #[personal(subject = user_id)]
            struct Contact {
                user_id: Uuid,
                #[personal(encrypted, erased = String::new())]
                #[serde(rename = "mail")]
                email: String,
                #[personal(redacted)]
                password: Option<String>,
            }
        ));
        let file: syn::File = syn::parse2(out).expect("the expansion is a list of items");
        let expected = expect_test::expect![[r#"
            const _: () = {
                #[automatically_derived]
                impl ::events_core::__private::PersonalData for Contact {
                    const SCHEMA: &'static ::events_core::__private::PersonalSchema = &::events_core::__private::PersonalSchema {
                        type_name: "Contact",
                        subject: ::core::option::Option::Some(
                            ::events_core::__private::SubjectSource::Field("user_id"),
                        ),
                        fields: &[
                            ::events_core::__private::PersonalField {
                                name: "mail",
                                treatment: ::events_core::__private::Treatment::Encrypted,
                                erased: ::core::option::Option::Some({
                                    fn __erased() -> ::events_core::__private::JsonValue {
                                        let __value: String = String::new();
                                        ::events_core::__private::erased_json(&__value)
                                    }
                                    __erased
                                }),
                            },
                            ::events_core::__private::PersonalField {
                                name: "password",
                                treatment: ::events_core::__private::Treatment::Redacted,
                                erased: ::core::option::Option::None,
                            },
                        ],
                    };
                }
                #[allow(dead_code)]
                fn __events_personal_checks() {
                    ::events_core::__private::subject_key::<Uuid>();
                }
            };
        "#]];
        expected.assert_eq(&prettyplease::unparse(&file));
    }
}
