use events_core::personal::PersonalData;

#[derive(PersonalData)]
struct Contact {
    #[personal(encrypted)]
    email: Option<String>,
}

fn main() {}
