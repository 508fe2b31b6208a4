use events_core::personal::PersonalData;

#[derive(PersonalData)]
#[personal(subject = actor)]
struct Contact {
    #[personal(encrypted, redacted)]
    email: Option<String>,
}

fn main() {}
