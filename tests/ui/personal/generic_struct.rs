use events_core::personal::PersonalData;

#[derive(PersonalData)]
struct Contact<T> {
    #[personal(redacted)]
    value: Option<T>,
}

fn main() {}
