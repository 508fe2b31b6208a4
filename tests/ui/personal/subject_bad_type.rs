use events_core::personal::PersonalData;

#[derive(PersonalData)]
#[personal(subject = score)]
struct Contact {
    score: f64,
    #[personal(encrypted)]
    email: Option<String>,
}

fn main() {}
