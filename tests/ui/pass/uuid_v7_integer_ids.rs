//! UUIDv7 event ids with integer record ids: bodies take `ActionCtx<'_, i64>` and
//! update wrappers take an `i64` record id.

use events_core::{
    ActionCtx, Error, EventLog as _, KeyType, LockKey, PrimaryKeyType, event_log, events,
};
use serde::{Deserialize, Serialize};

#[event_log(
    primary_key_type = uuid_v7,
    record_id_type = integer,
    advisory_lock_key_default = [1337, 31337],
)]
pub struct CounterLog;

pub struct Counter {
    pub id: i64,
    pub value: i64,
}

#[derive(Serialize, Deserialize)]
pub struct Add {
    pub by: i64,
}

#[events(event_log = CounterLog)]
impl Counter {
    #[create]
    pub async fn open(ctx: &mut ActionCtx<'_, i64>, start: i64) -> Result<Counter, Error> {
        Ok(Counter {
            id: ctx.record_id(),
            value: start,
        })
    }

    #[update]
    pub async fn add(ctx: &mut ActionCtx<'_, i64>, input: Add) -> Result<Counter, Error> {
        Ok(Counter {
            id: ctx.record_id(),
            value: input.by,
        })
    }
}

fn main() {
    let _open = Counter::open(0).record_id(7_i64);
    let _add = Counter::add(7_i64, Add { by: 2 });

    assert_eq!(CounterLog::PRIMARY_KEY_TYPE, PrimaryKeyType::UuidV7);
    assert_eq!(CounterLog::RECORD_ID_TYPE, KeyType::Integer);
    assert_eq!(
        CounterLog::ADVISORY_LOCK_KEY_DEFAULT,
        LockKey::Pair(1337, 31337)
    );
}
