//! Every mistake of one declaration is reported at once.
use events_core::personal::PersonalData;

#[derive(PersonalData)]
#[personal(subjet = user_id)]
struct Contact {
    user_id: uuid::Uuid,
    #[personal(encrypted)]
    email: String,
    #[personal(redacted, encrypted)]
    phone: Option<String>,
    #[personal(redact)]
    password: String,
}

fn main() {}
