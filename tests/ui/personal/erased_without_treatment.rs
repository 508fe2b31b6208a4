use events_core::personal::PersonalData;

#[derive(PersonalData)]
struct Contact {
    #[personal(erased = String::new())]
    name: String,
    #[personal(redacted)]
    password: Option<String>,
}

fn main() {}
