//! Advisory lock keys: what an action locks before it writes.
//!
//! Every recorded action takes `pg_advisory_xact_lock` in the statement that
//! appends its event: its transaction's first statement, or its savepoint's for
//! an action nested with `run_in` (a create of a generated record id under
//! [`LockScope::Record`] takes none). The key comes from the event log's
//! `advisory_lock_key_generator` (default [`DefaultLockKeyGenerator`],
//! AshEvents' behaviour) given the `advisory_lock_key_default`.

use std::fmt;

use crate::{Error, Key};

/// A PostgreSQL advisory lock key: one `bigint`, or two `integer`s.
///
/// In `pg_locks` a single key `k` shows as `classid = k >> 32`, `objid = k & 0xffffffff`,
/// `objsubid = 1`; a pair `(a, b)` as `classid = a`, `objid = b`, `objsubid = 2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LockKey {
    /// `pg_advisory_xact_lock(bigint)`.
    Single(i64),
    /// `pg_advisory_xact_lock(integer, integer)`.
    Pair(i32, i32),
}

impl LockKey {
    /// AshEvents' default key, `2147483647`.
    pub const DEFAULT: LockKey = LockKey::Single(2_147_483_647);
}

impl fmt::Display for LockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LockKey::Single(k) => write!(f, "{k}"),
            LockKey::Pair(a, b) => write!(f, "[{a}, {b}]"),
        }
    }
}

/// Which actions wait for each other: the scope of the advisory lock an action takes
/// (`advisory_lock_scope` on `#[event_log]`, overridable per resource in `#[events]`).
///
/// The lock is what makes the order of events match the order their state changes
/// committed in, which replay relies on. **Actions whose writes can conflict (or
/// whose bodies read what another writes) must share a key**; actions with
/// different keys run concurrently and replay may apply them in either order.
///
/// | scope | key | replay is equivalent when |
/// | --- | --- | --- |
/// | `global` | `advisory_lock_key_default` always | always: every recorded action is serialized |
/// | `tenant` (default, AshEvents') | the tenant (integer, or a UUID as two `i32`), else the default | actions of different tenants never touch the same rows |
/// | `record` | a hash of resource and record id; none for a create whose record id the framework generates | an action only reads and writes its own record |
/// | custom | `advisory_lock_key_generator = Type` | the generator gives conflicting actions one key |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockScope {
    /// One key for the whole log: [`GlobalLockKeyGenerator`].
    Global,
    /// One key per tenant, the default key without one: [`DefaultLockKeyGenerator`].
    Tenant,
    /// One key per record: [`RecordLockKeyGenerator`]. A create whose record id
    /// the framework generates (single or bulk) takes no lock: no other action
    /// can name that record before the create commits, and any action that names
    /// it afterwards gets a later transaction id, so replay order holds.
    Record,
    /// A user-supplied [`AdvisoryLockKeyGenerator`].
    Custom,
}

impl LockScope {
    /// The option value that selects this scope.
    pub const fn as_str(self) -> &'static str {
        match self {
            LockScope::Global => "global",
            LockScope::Tenant => "tenant",
            LockScope::Record => "record",
            LockScope::Custom => "custom",
        }
    }
}

/// What a lock key generator sees of the action about to run.
#[derive(Debug, Clone, Copy)]
pub struct LockKeyInput<'a> {
    /// Resource name, as stored in events.
    pub resource: &'static str,
    /// Action name.
    pub action: &'static str,
    /// The record the action writes.
    pub record_id: &'a Key,
    /// The tenant the action runs for, if any.
    pub tenant: Option<&'a Key>,
}

/// Chooses the advisory lock key for an action (AshEvents'
/// `AdvisoryLockKeyGenerator` behaviour).
///
/// Actions whose writes can conflict must get the same key: the lock is what makes
/// the order of events match the order their state changes committed in.
///
/// ```
/// use events_core::{AdvisoryLockKeyGenerator, Error, LockKey, LockKeyInput};
///
/// /// One lock per resource type.
/// pub struct PerResource;
/// impl AdvisoryLockKeyGenerator for PerResource {
///     fn generate_key(input: &LockKeyInput<'_>, _default: LockKey) -> Result<LockKey, Error> {
///         let hash = input.resource.bytes().fold(0_i64, |h, b| h.wrapping_mul(31).wrapping_add(b.into()));
///         Ok(LockKey::Single(hash))
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not an advisory lock key generator",
    label = "used as `advisory_lock_key_generator` here",
    note = "implement `events_core::AdvisoryLockKeyGenerator` for `{Self}`"
)]
pub trait AdvisoryLockKeyGenerator {
    /// The key to lock for this action; `default` is the event log's
    /// `advisory_lock_key_default`.
    fn generate_key(input: &LockKeyInput<'_>, default: LockKey) -> Result<LockKey, Error>;
}

/// AshEvents' default generator: the default key without a tenant, an integer tenant
/// as the key itself, a UUID tenant as two `i32` taken from its first and last four
/// bytes; any other tenant is [`Error::UnsupportedTenant`].
///
/// ```
/// use events_core::{AdvisoryLockKeyGenerator, DefaultLockKeyGenerator, Key, LockKey, LockKeyInput};
/// let record = Key::Integer(1);
/// let tenant = Key::Integer(42);
/// let input = LockKeyInput { resource: "User", action: "create", record_id: &record, tenant: Some(&tenant) };
/// assert_eq!(DefaultLockKeyGenerator::generate_key(&input, LockKey::DEFAULT).unwrap(), LockKey::Single(42));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultLockKeyGenerator;

impl AdvisoryLockKeyGenerator for DefaultLockKeyGenerator {
    fn generate_key(input: &LockKeyInput<'_>, default: LockKey) -> Result<LockKey, Error> {
        match input.tenant {
            None => Ok(default),
            Some(Key::Integer(t)) => Ok(LockKey::Single(*t)),
            Some(Key::Uuid(u)) => {
                let b = u.as_bytes();
                let first = i32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                let last = i32::from_be_bytes([b[12], b[13], b[14], b[15]]);
                Ok(LockKey::Pair(first, last))
            }
            Some(other @ Key::String(_)) => Err(Error::UnsupportedTenant {
                tenant: other.to_string(),
            }),
        }
    }
}

/// The `global` scope: every recorded action locks `advisory_lock_key_default`,
/// whatever its tenant, so all of them are serialized.
#[derive(Debug, Clone, Copy, Default)]
pub struct GlobalLockKeyGenerator;

impl AdvisoryLockKeyGenerator for GlobalLockKeyGenerator {
    fn generate_key(_input: &LockKeyInput<'_>, default: LockKey) -> Result<LockKey, Error> {
        Ok(default)
    }
}

/// The `record` scope: the key is a 64-bit FNV-1a hash of the resource name and
/// the record id, so actions on different records run concurrently. A hash
/// collision only makes two unrelated actions wait for each other.
///
/// ```
/// use events_core::{AdvisoryLockKeyGenerator, Key, LockKey, LockKeyInput, RecordLockKeyGenerator};
/// let (a, b) = (Key::Integer(1), Key::Integer(2));
/// let key = |record_id| RecordLockKeyGenerator::generate_key(
///     &LockKeyInput { resource: "User", action: "update", record_id, tenant: None }, LockKey::DEFAULT);
/// assert_ne!(key(&a).unwrap(), key(&b).unwrap());
/// assert_eq!(key(&a).unwrap(), key(&a).unwrap());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct RecordLockKeyGenerator;

impl AdvisoryLockKeyGenerator for RecordLockKeyGenerator {
    fn generate_key(input: &LockKeyInput<'_>, _default: LockKey) -> Result<LockKey, Error> {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let mut hash = OFFSET;
        let mut eat = |bytes: &[u8]| {
            for b in bytes {
                hash ^= u64::from(*b);
                hash = hash.wrapping_mul(PRIME);
            }
        };
        eat(input.resource.as_bytes());
        eat(&[0]);
        match input.record_id {
            Key::Uuid(u) => eat(u.as_bytes()),
            Key::Integer(i) => eat(&i.to_be_bytes()),
            Key::String(s) => eat(s.as_bytes()),
        }
        Ok(LockKey::Single(i64::from_ne_bytes(hash.to_ne_bytes())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn key(tenant: Option<Key>) -> Result<LockKey, Error> {
        let record = Key::Integer(1);
        let input = LockKeyInput {
            resource: "R",
            action: "a",
            record_id: &record,
            tenant: tenant.as_ref(),
        };
        DefaultLockKeyGenerator::generate_key(&input, LockKey::Pair(1337, 31337))
    }

    #[test]
    fn record_keys_depend_on_resource_and_record_only() {
        let key = |resource, record: Key, tenant: Option<Key>| {
            RecordLockKeyGenerator::generate_key(
                &LockKeyInput {
                    resource,
                    action: "a",
                    record_id: &record,
                    tenant: tenant.as_ref(),
                },
                LockKey::DEFAULT,
            )
            .ok()
        };
        assert_eq!(
            key("User", Key::Integer(1), None),
            key("User", Key::Integer(1), Some(Key::Integer(9)))
        );
        assert_ne!(
            key("User", Key::Integer(1), None),
            key("Post", Key::Integer(1), None)
        );
        assert_ne!(
            key("User", Key::Integer(1), None),
            key("User", Key::Integer(2), None)
        );
        let global = GlobalLockKeyGenerator::generate_key(
            &LockKeyInput {
                resource: "R",
                action: "a",
                record_id: &Key::Integer(1),
                tenant: Some(&Key::Integer(5)),
            },
            LockKey::Pair(1, 2),
        );
        assert_eq!(
            global.ok(),
            Some(LockKey::Pair(1, 2)),
            "global ignores the tenant"
        );
    }

    #[test]
    fn default_generator_follows_ash_events() {
        assert_eq!(key(None).ok(), Some(LockKey::Pair(1337, 31337)));
        assert_eq!(key(Some(Key::Integer(-9))).ok(), Some(LockKey::Single(-9)));
        let u = Uuid::parse_str("80000001-0000-0000-0000-0000fffffffe").expect("literal uuid");
        assert_eq!(
            key(Some(Key::Uuid(u))).ok(),
            Some(LockKey::Pair(i32::MIN + 1, -2))
        );
        let err = key(Some(Key::from("acme"))).expect_err("string tenants need a custom generator");
        assert!(err.to_string().contains("advisory_lock_key_generator"));
    }
}
