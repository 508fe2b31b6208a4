use events_core::personal::PersonalData;

#[derive(PersonalData)]
struct Contact {
    #[personal(subject)]
    user_id: uuid::Uuid,
    #[personal(redacted)]
    password: Option<String>,
}

fn main() {}
