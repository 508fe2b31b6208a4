//! The query builder: a statement's text and its arguments, numbered as they
//! are bound.
//!
//! Text comes only from fixed fragments and from names the event log's
//! compile-time configuration gives (quoted, see [`super::names`]); every value
//! is a bound parameter. So a statement's text depends on which clauses a call
//! uses, never on its values, and sqlx prepares each shape once per connection.
//! [`Sql::query`] is the one place a built text becomes a query.

use sqlx::postgres::PgArguments;
use sqlx::{Arguments, AssertSqlSafe, Encode, Postgres, Type};

use super::PgQuery;
use events_core::Error;

/// A statement under construction.
#[derive(Default)]
pub(crate) struct Sql {
    text: String,
    args: PgArguments,
}

impl Sql {
    /// A statement starting with `text`.
    pub(crate) fn new(text: impl Into<String>) -> Self {
        Sql {
            text: text.into(),
            args: PgArguments::default(),
        }
    }

    /// The length of the text so far: where a fragment about to be pushed starts.
    pub(crate) fn text_len(&self) -> usize {
        self.text.len()
    }

    /// Takes the text pushed since `start` back out, keeping its arguments
    /// bound: a fragment to place (once or more) elsewhere in the statement.
    pub(crate) fn take_text_from(&mut self, start: usize) -> String {
        self.text.split_off(start)
    }

    /// Appends a fixed fragment.
    pub(crate) fn push(&mut self, fragment: &str) -> &mut Self {
        self.text.push_str(fragment);
        self
    }

    /// Binds `value` and returns its placeholder (`$n`), without appending it;
    /// `field` names the value in an error.
    pub(crate) fn arg<'q, T>(&mut self, field: &str, value: T) -> Result<String, Error>
    where
        T: Encode<'q, Postgres> + Type<Postgres>,
    {
        self.args.add(value).map_err(|e| Error::InvalidValue {
            column: field.to_owned(),
            message: format!("cannot be sent to PostgreSQL: {e}"),
        })?;
        Ok(format!("${}", self.args.len()))
    }

    /// Binds `value` and appends its placeholder.
    pub(crate) fn bind<'q, T>(&mut self, field: &str, value: T) -> Result<&mut Self, Error>
    where
        T: Encode<'q, Postgres> + Type<Postgres>,
    {
        let placeholder = self.arg(field, value)?;
        self.text.push_str(&placeholder);
        Ok(self)
    }

    /// Appends one fragment per item, separated by `separator`, each written by
    /// `each` (which may bind): `a AND b AND c`, `x, y, z`.
    pub(crate) fn list<I>(
        &mut self,
        separator: &str,
        items: impl IntoIterator<Item = I>,
        mut each: impl FnMut(&mut Self, I) -> Result<(), Error>,
    ) -> Result<&mut Self, Error> {
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(separator);
            }
            each(self, item)?;
        }
        Ok(self)
    }

    /// The statement's text so far.
    #[cfg(test)]
    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The executable query.
    pub(crate) fn query(self) -> PgQuery {
        // Fixed fragments and quoted configuration names only; see the module docs.
        sqlx::query_with(AssertSqlSafe(self.text), self.args)
    }

    /// The query prefixed with `prefix` (`EXPLAIN ...`).
    pub(crate) fn query_prefixed(self, prefix: &str) -> PgQuery {
        Sql {
            text: format!("{prefix}{}", self.text),
            args: self.args,
        }
        .query()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_follow_binding_order() -> Result<(), Error> {
        let mut s = Sql::new("SELECT 1 WHERE ");
        s.list(" AND ", ["a", "b", "c"], |s, column| {
            s.push(column).push(" = ").bind(column, 1_i64).map(drop)
        })?;
        assert_eq!(s.text(), "SELECT 1 WHERE a = $1 AND b = $2 AND c = $3");
        Ok(())
    }
}
