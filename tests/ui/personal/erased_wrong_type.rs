use events_core::personal::PersonalData;

#[derive(PersonalData)]
#[personal(subject = record_id)]
struct Contact {
    #[personal(encrypted, erased = 5)]
    email: String,
}

fn main() {}
