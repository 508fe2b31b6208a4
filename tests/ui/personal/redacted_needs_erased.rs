use events_core::personal::PersonalData;

#[derive(PersonalData)]
struct Signup {
    name: String,
    #[personal(redacted)]
    password: String,
}

fn main() {}
