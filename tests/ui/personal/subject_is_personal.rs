use events_core::personal::PersonalData;

#[derive(PersonalData)]
#[personal(subject = email)]
struct Contact {
    #[personal(encrypted)]
    email: Option<String>,
}

fn main() {}
