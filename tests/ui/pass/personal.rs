//! `#[derive(PersonalData)]` as documented: a subject field, encrypted and
//! redacted fields, placeholders, serde renames; and the schema it declares.

use events_core::personal::{PersonalData, SubjectSource, Treatment};
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, PersonalData)]
#[personal(subject = user_id)]
pub struct Contact {
    pub user_id: uuid::Uuid,
    #[personal(encrypted, erased = String::from("[erased]"))]
    #[serde(rename = "mail")]
    pub email: String,
    #[personal(encrypted)]
    pub phone: Option<String>,
    #[personal(redacted, erased = String::new())]
    pub password: String,
}

#[derive(Serialize, PersonalData)]
#[personal(subject = record_id)]
pub struct Rename {
    #[personal(encrypted)]
    pub name: Option<String>,
}

#[derive(Serialize, PersonalData)]
pub struct OnlyRedacted {
    #[personal(redacted)]
    pub note: Option<String>,
}

fn main() {
    let schema = Contact::SCHEMA;
    assert_eq!(schema.subject, Some(SubjectSource::Field("user_id")));
    let names: Vec<&str> = schema.fields.iter().map(|f| f.name).collect();
    assert_eq!(names, ["mail", "phone", "password"]);
    assert_eq!(schema.fields[2].treatment, Treatment::Redacted);
    assert_eq!(schema.placeholder(&schema.fields[0]), serde_json::json!("[erased]"));
    assert_eq!(schema.placeholder(&schema.fields[1]), serde_json::Value::Null);
    assert_eq!(Rename::SCHEMA.subject, Some(SubjectSource::RecordId));
    assert!(!OnlyRedacted::SCHEMA.encrypts());
}
