//! A custom advisory lock key generator, used by the event log's `advisory_lock_key`.

use events_core::{
    AdvisoryLockKeyGenerator, Error, EventLog as _, Key, LockKey, LockKeyInput, event_log,
};

/// One lock per resource name length: simple enough to predict.
pub struct PerResource;

impl AdvisoryLockKeyGenerator for PerResource {
    fn generate_key(input: &LockKeyInput<'_>, _default: LockKey) -> Result<LockKey, Error> {
        Ok(LockKey::Pair(input.resource.len() as i32, 0))
    }
}

#[event_log(record_id_type = string, advisory_lock_key_generator = PerResource)]
pub struct TaggedLog;

fn main() {
    let record = Key::from("a");
    let input = LockKeyInput {
        resource: "Tag",
        action: "add",
        record_id: &record,
        tenant: None,
    };
    let key = TaggedLog::advisory_lock_key(&input).expect("the generator never fails");
    assert_eq!(key, LockKey::Pair(3, 0));
    assert_eq!(TaggedLog::ADVISORY_LOCK_KEY_GENERATOR, "PerResource");
}
