//! The `#[event_log(...)]` and `#[events(...)]` attribute macros and the
//! `#[derive(PersonalData)]` of the events framework. Use them through
//! `events_core`, which re-exports them and documents every option; this crate
//! only converts between `proc_macro` and `proc_macro2`.
//!
//! Each macro is a pipeline in its own module: parse the attribute into plain
//! structs, check it into a model (every error collected, each spanned on the
//! token at fault), expand the model.

use proc_macro::TokenStream;

mod common;
mod event_log;
mod events;
mod options;
mod personal;
mod private;

/// Declares the central event log on a struct. See `events_core::EventLog`.
#[proc_macro_attribute]
pub fn event_log(args: TokenStream, item: TokenStream) -> TokenStream {
    event_log::expand(args.into(), item.into()).into()
}

/// Declares a resource's recorded actions on its inherent `impl` block: methods
/// marked `#[create]`, `#[update]` or `#[destroy]`, and bulk forms of them marked
/// `#[bulk(action)]`. See `events_core::Resource` and `events_core::call`.
#[proc_macro_attribute]
pub fn events(args: TokenStream, item: TokenStream) -> TokenStream {
    events::expand(args.into(), item.into()).into()
}

/// Declares which fields of a type are personal data and whose: see
/// `events_core::personal`. Field attributes `#[personal(encrypted)]` and
/// `#[personal(redacted)]` (with `erased = <expr>` for a non-`Option` field),
/// struct attribute `#[personal(subject = <field> | record_id | actor)]`.
#[proc_macro_derive(PersonalData, attributes(personal))]
pub fn personal_data(item: TokenStream) -> TokenStream {
    personal::expand(item.into()).into()
}
