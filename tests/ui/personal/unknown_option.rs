use events_core::personal::PersonalData;

#[derive(PersonalData)]
#[personal(subject = user_id)]
struct Contact {
    user_id: uuid::Uuid,
    #[personal(encrypt)]
    email: Option<String>,
}

fn main() {}
