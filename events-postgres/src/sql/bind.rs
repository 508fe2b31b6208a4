//! Binding values whose SQL type depends on the configuration: keys (record
//! ids, actor keys, tenants) and event ids, alone or as arrays, checked against
//! the shape of their column once, here, for every statement.
//!
//! [`Param`] and [`Params`] encode as `uuid`, `int8` or `text` (or arrays of
//! them) according to their value, so one binder serves the fixed statements
//! ([`PgQuery::bind`](sqlx::query::Query::bind)) and the query builder
//! ([`Sql::bind`](super::Sql::bind)) alike.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo};
use sqlx::{Encode, Postgres, Type};
use uuid::Uuid;

use events_core::{Error, EventId, EventLog, Key, KeyType, PrimaryKeyType};

/// One key or event id (or a typed `NULL`) as the SQL type of its column.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Param<'a> {
    /// A `uuid` value.
    Uuid(Option<Uuid>),
    /// An `int8` value.
    Integer(Option<i64>),
    /// A `text` value.
    Text(Option<&'a str>),
}

/// Keys or event ids as one array of their column's SQL type (`NULL` elements
/// allowed).
#[derive(Debug, Clone)]
pub(crate) enum Params<'a> {
    /// A `uuid[]` value.
    Uuid(Vec<Option<Uuid>>),
    /// An `int8[]` value.
    Integer(Vec<Option<i64>>),
    /// A `text[]` value.
    Text(Vec<Option<&'a str>>),
}

/// `key` for a column holding `ty` keys, named `column` in errors: a key of
/// another shape, or a string with a NUL character (which `text` cannot hold),
/// is [`Error::InvalidValue`].
pub(crate) fn key<'a>(column: &str, ty: KeyType, key: &'a Key) -> Result<Param<'a>, Error> {
    match (ty, key) {
        (KeyType::Uuid, Key::Uuid(u)) => Ok(Param::Uuid(Some(*u))),
        (KeyType::Integer, Key::Integer(i)) => Ok(Param::Integer(Some(*i))),
        (KeyType::String, Key::String(s)) if s.contains('\0') => Err(nul_key(column)),
        (KeyType::String, Key::String(s)) => Ok(Param::Text(Some(s))),
        _ => Err(key_mismatch(column, ty, key)),
    }
}

/// [`key`], or a `NULL` of the column's type.
pub(crate) fn opt_key<'a>(
    column: &str,
    ty: KeyType,
    value: Option<&'a Key>,
) -> Result<Param<'a>, Error> {
    match (ty, value) {
        (_, Some(value)) => key(column, ty, value),
        (KeyType::Uuid, None) => Ok(Param::Uuid(None)),
        (KeyType::Integer, None) => Ok(Param::Integer(None)),
        (KeyType::String, None) => Ok(Param::Text(None)),
    }
}

/// Keys (`None`: `NULL`) as one array for a column holding `ty` keys, each
/// checked as [`key`] does.
pub(crate) fn keys<'a>(
    column: &str,
    ty: KeyType,
    values: impl IntoIterator<Item = Option<&'a Key>>,
) -> Result<Params<'a>, Error> {
    let values = values.into_iter();
    let mismatch = |key: &Key| key_mismatch(column, ty, key);
    Ok(match ty {
        KeyType::Uuid => Params::Uuid(
            values
                .map(|value| match value {
                    None => Ok(None),
                    Some(Key::Uuid(u)) => Ok(Some(*u)),
                    Some(other) => Err(mismatch(other)),
                })
                .collect::<Result<_, _>>()?,
        ),
        KeyType::Integer => Params::Integer(
            values
                .map(|value| match value {
                    None => Ok(None),
                    Some(Key::Integer(i)) => Ok(Some(*i)),
                    Some(other) => Err(mismatch(other)),
                })
                .collect::<Result<_, _>>()?,
        ),
        KeyType::String => Params::Text(
            values
                .map(|value| match value {
                    None => Ok(None),
                    Some(Key::String(s)) if s.contains('\0') => Err(nul_key(column)),
                    Some(Key::String(s)) => Ok(Some(s.as_str())),
                    Some(other) => Err(mismatch(other)),
                })
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// An event id (a cursor, a bound), as log `L`'s `id` column holds it; an id
/// of the other kind is [`Error::InvalidValue`] naming `column`.
pub(crate) fn event_id<L: EventLog>(column: &str, id: EventId) -> Result<Param<'static>, Error> {
    match (id, L::PRIMARY_KEY_TYPE) {
        (EventId::Integer(i), PrimaryKeyType::Integer) => Ok(Param::Integer(Some(i))),
        (EventId::Uuid(u), PrimaryKeyType::UuidV7) => Ok(Param::Uuid(Some(u))),
        (other, expected) => Err(Error::InvalidValue {
            column: column.to_owned(),
            message: format!(
                "cursor `{other}` is not an id of this log, whose primary_key_type is {}",
                expected.as_str()
            ),
        }),
    }
}

/// Event ids as one array of log `L`'s `id` type, each checked as [`event_id`]
/// does.
pub(crate) fn event_ids<L: EventLog>(
    column: &str,
    ids: &[EventId],
) -> Result<Params<'static>, Error> {
    let params = ids.iter().map(|id| event_id::<L>(column, *id));
    Ok(match L::PRIMARY_KEY_TYPE {
        PrimaryKeyType::Integer => Params::Integer(
            params
                .map(|p| p.map(|p| if let Param::Integer(i) = p { i } else { None }))
                .collect::<Result<_, _>>()?,
        ),
        PrimaryKeyType::UuidV7 => Params::Uuid(
            params
                .map(|p| p.map(|p| if let Param::Uuid(u) = p { u } else { None }))
                .collect::<Result<_, _>>()?,
        ),
    })
}

/// A string key with a NUL character, which a `text` column cannot hold.
pub(crate) fn nul_key(column: &str) -> Error {
    Error::InvalidValue {
        column: column.to_owned(),
        message: "the key contains a NUL character, which PostgreSQL text cannot hold; remove it"
            .to_owned(),
    }
}

/// A key whose shape does not fit the column it is meant for.
pub(crate) fn key_mismatch(column: &str, expected: KeyType, key: &Key) -> Error {
    Error::InvalidValue {
        column: column.to_owned(),
        message: format!(
            "{} key `{key}` does not fit this column, which holds {expected} keys (SQL type {})",
            key.key_type(),
            expected.sql_type(),
        ),
    }
}

/// An actor column that log `L` does not have, naming those it has.
pub(crate) fn unknown_actor_column<L: EventLog>(column: &str) -> Error {
    let known: Vec<&str> = L::ACTOR_COLUMNS.iter().map(|c| c.name).collect();
    Error::InvalidValue {
        column: column.to_owned(),
        message: format!(
            "not an actor column of event table `{}`; its actor columns: {}",
            L::TABLE,
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        ),
    }
}

/// The `integer` column's value of an action version.
pub(crate) fn version(version: u32) -> Result<i32, Error> {
    match i32::try_from(version) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(Error::InvalidValue {
            column: "version".to_owned(),
            message: format!("action version {version} is outside 1..={}", i32::MAX),
        }),
    }
}

impl Type<Postgres> for Param<'_> {
    /// Unused: [`Encode::produces`] gives each value's own type.
    fn type_info() -> PgTypeInfo {
        <&str as Type<Postgres>>::type_info()
    }
}

impl<'q> Encode<'q, Postgres> for Param<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match self {
            Param::Uuid(v) => <Option<Uuid> as Encode<Postgres>>::encode_by_ref(v, buf),
            Param::Integer(v) => <Option<i64> as Encode<Postgres>>::encode_by_ref(v, buf),
            Param::Text(v) => <Option<&str> as Encode<Postgres>>::encode_by_ref(v, buf),
        }
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(match self {
            Param::Uuid(_) => <Uuid as Type<Postgres>>::type_info(),
            Param::Integer(_) => <i64 as Type<Postgres>>::type_info(),
            Param::Text(_) => <&str as Type<Postgres>>::type_info(),
        })
    }
}

impl Type<Postgres> for Params<'_> {
    /// Unused: [`Encode::produces`] gives each value's own type.
    fn type_info() -> PgTypeInfo {
        <Vec<&str> as Type<Postgres>>::type_info()
    }
}

impl<'q> Encode<'q, Postgres> for Params<'_> {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        match self {
            Params::Uuid(v) => <Vec<Option<Uuid>> as Encode<Postgres>>::encode_by_ref(v, buf),
            Params::Integer(v) => <Vec<Option<i64>> as Encode<Postgres>>::encode_by_ref(v, buf),
            Params::Text(v) => <Vec<Option<&str>> as Encode<Postgres>>::encode_by_ref(v, buf),
        }
    }

    fn produces(&self) -> Option<PgTypeInfo> {
        Some(match self {
            Params::Uuid(_) => <Vec<Uuid> as Type<Postgres>>::type_info(),
            Params::Integer(_) => <Vec<i64> as Type<Postgres>>::type_info(),
            Params::Text(_) => <Vec<&str> as Type<Postgres>>::type_info(),
        })
    }
}
