//! Reaching the database: the URL from `--database-url` or `DATABASE_URL`, a
//! small pool, and connection failures told apart (no server, no database, no
//! login) so the message says what to fix. Credentials never reach a message.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::error::{CliError, driver_reason};

/// How long connecting may take before the server counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the command is connected: `host:port/database`, never the password.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) database: String,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}/{}", self.host, self.port, self.database)
    }
}

/// The connect options of `url`, and where they lead.
pub(crate) fn options(url: Option<&str>) -> Result<(PgConnectOptions, Target), CliError> {
    let url = url
        .filter(|u| !u.trim().is_empty())
        .ok_or(CliError::NoDatabase)?;
    let scheme = url
        .trim()
        .split_once("://")
        .map(|(s, _)| s.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("postgres" | "postgresql")) {
        return Err(CliError::BadUrl {
            reason: "it does not start with postgres://".to_owned(),
        });
    }
    let opts = PgConnectOptions::from_str(url.trim()).map_err(|e| CliError::BadUrl {
        reason: match e {
            sqlx::Error::Configuration(inner) => crate::error::one_line(&inner.to_string()),
            other => driver_reason(&other),
        },
    })?;
    let opts = opts.application_name("events-cli");
    let target = Target {
        host: opts.get_host().to_owned(),
        port: opts.get_port(),
        database: opts
            .get_database()
            .unwrap_or_else(|| opts.get_username())
            .to_owned(),
    };
    Ok((opts, target))
}

/// A pool on `opts`, after one connection made now, so a bad URL or a down
/// server is reported (with the driver's reason, not a pool timeout) before
/// any work starts.
pub(crate) async fn pool(opts: PgConnectOptions, target: &Target) -> Result<PgPool, CliError> {
    match tokio::time::timeout(CONNECT_TIMEOUT, opts.connect()).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
        }
        Ok(Err(e)) => return Err(unreachable(&e, target)),
        Err(_) => return Err(unreachable(&sqlx::Error::PoolTimedOut, target)),
    }
    Ok(PgPoolOptions::new()
        .max_connections(4)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_lazy_with(opts))
}

/// A connection failure, with what to do for the common causes.
pub(crate) fn unreachable(e: &sqlx::Error, target: &Target) -> CliError {
    let reason = match e {
        sqlx::Error::Database(db) => match db.code().as_deref() {
            Some("3D000") => format!(
                "database `{}` does not exist (create it with `createdb {}`, or fix the URL)",
                target.database, target.database
            ),
            Some("28P01" | "28000") => format!(
                "the server refused the login ({}); check the user and password in the URL",
                db.message()
            ),
            _ => db.message().to_owned(),
        },
        other => driver_reason(other),
    };
    CliError::Unreachable {
        target: target.to_string(),
        reason,
    }
}

/// True for driver errors that mean the connection, not the statement, failed.
pub(crate) fn is_connection_error(e: &sqlx::Error) -> bool {
    matches!(
        e,
        sqlx::Error::Io(_)
            | sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_and_never_echo_a_password() {
        let (_, target) =
            options(Some("postgres://ops:s3cret@db.internal:6543/app")).expect("a URL");
        assert_eq!(target.to_string(), "db.internal:6543/app");
        assert!(matches!(options(None), Err(CliError::NoDatabase)));
        assert!(matches!(options(Some("  ")), Err(CliError::NoDatabase)));
        let err = options(Some("mysql://x")).expect_err("not postgres");
        assert!(matches!(err, CliError::BadUrl { .. }), "{err}");
        assert!(!err.to_string().contains('\n'));
    }
}
