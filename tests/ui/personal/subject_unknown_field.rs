use events_core::personal::PersonalData;

#[derive(PersonalData)]
#[personal(subject = user_idd)]
struct Contact {
    user_id: uuid::Uuid,
    #[personal(encrypted)]
    email: Option<String>,
}

fn main() {}
