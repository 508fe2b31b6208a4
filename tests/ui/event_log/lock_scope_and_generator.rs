//! A custom `advisory_lock_key_generator` is a scope of its own: it excludes `advisory_lock_scope`.

use events_core::{AdvisoryLockKeyGenerator, Error, LockKey, LockKeyInput, event_log};

pub struct MyKeys;

impl AdvisoryLockKeyGenerator for MyKeys {
    fn generate_key(_input: &LockKeyInput<'_>, default: LockKey) -> Result<LockKey, Error> {
        Ok(default)
    }
}

#[event_log(advisory_lock_key_generator = MyKeys, advisory_lock_scope = record)]
pub struct EventLog;

fn main() {}
