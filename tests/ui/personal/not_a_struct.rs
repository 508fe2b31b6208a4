use events_core::personal::PersonalData;

#[derive(PersonalData)]
enum Contact {
    Email(String),
}

fn main() {}
