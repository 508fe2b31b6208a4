//! A route_to target must be recorded by the same event log.

use events_core::{ActionCtx, Error, event_log, events};

#[event_log(replay_override(User, create, versions = [1], route_to(Audit, create)))]
pub struct EventLog;

#[event_log(table = "audit_events")]
pub struct AuditLog;

pub struct User;

#[events(event_log = EventLog)]
impl User {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<User, Error> {
        Ok(User)
    }
}

pub struct Audit;

#[events(event_log = AuditLog)]
impl Audit {
    #[create]
    async fn create(_ctx: &mut ActionCtx<'_>, _input: ()) -> Result<Audit, Error> {
        Ok(Audit)
    }
}

fn main() {}
