use events_core::personal::PersonalData;

#[derive(PersonalData)]
struct Email(#[personal(redacted)] Option<String>);

fn main() {}
