use events_core::personal::PersonalData;

#[derive(PersonalData)]
#[personal(subject = user_id)]
struct Contact {
    user_id: uuid::Uuid,
    email: String,
}

fn main() {}
