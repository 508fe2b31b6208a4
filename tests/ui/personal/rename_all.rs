use events_core::personal::PersonalData;

#[derive(serde::Serialize, PersonalData)]
#[serde(rename_all = "camelCase")]
#[personal(subject = user_id)]
struct Contact {
    user_id: uuid::Uuid,
    #[personal(encrypted)]
    email_address: Option<String>,
}

fn main() {}
