use events_core::personal::PersonalData;

#[derive(PersonalData)]
#[personal(redacted)]
struct Contact {
    #[personal(redacted)]
    password: Option<String>,
}

fn main() {}
