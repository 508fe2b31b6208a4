use events_core::personal::PersonalData;

#[derive(PersonalData)]
struct Contact {
    #[personal(redacted = true)]
    password: Option<String>,
}

fn main() {}
