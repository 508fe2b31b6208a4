//! What can go wrong, as one line that says what to do, and the exit code a
//! script can rely on.

use std::process::ExitCode;

use events_core::{AuditError, Error, ReplayError};

/// Exit code of success.
pub const EXIT_OK: u8 = 0;
/// Exit code of a failure: the database, the log, a replay, a missing migration.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code of a usage error: an unknown flag, a malformed value, an unknown
/// resource, a missing database URL.
pub const EXIT_USAGE: u8 = 2;
/// Exit code after Ctrl-C (128 + SIGINT, as shells report it).
pub const EXIT_INTERRUPTED: u8 = 130;

/// Why a command failed. Its message is one line saying what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// A value on the command line is malformed or names nothing.
    #[error("{message}")]
    Usage {
        /// What is wrong and what fits.
        message: String,
    },

    /// No database URL was given.
    #[error(
        "no database given: set DATABASE_URL or pass --database-url postgres://user@host:5432/dbname"
    )]
    NoDatabase,

    /// The database URL does not parse.
    #[error(
        "the database URL is not a PostgreSQL URL ({reason}); write it as \
         postgres://user[:password]@host[:port]/dbname"
    )]
    BadUrl {
        /// The driver's reason.
        reason: String,
    },

    /// No connection could be made.
    #[error(
        "cannot connect to PostgreSQL at {target}: {reason}; check that the server is running \
         and --database-url / DATABASE_URL"
    )]
    Unreachable {
        /// `host:port/database`, without credentials.
        target: String,
        /// Why, in the driver's words.
        reason: String,
    },

    /// The event table does not exist yet.
    #[error(
        "the event log is not set up in database `{database}` (no table `{table}`): run `{bin} migrate` first"
    )]
    NotMigrated {
        /// The database connected to.
        database: String,
        /// The event table.
        table: &'static str,
        /// The binary's name.
        bin: String,
    },

    /// The log refused or failed.
    #[error("{}", one_line(&.0.to_string()))]
    Log(#[from] Error),

    /// A check the command runs failed (the replay preflight, a resume with nothing to resume).
    #[error("{message}")]
    Failed {
        /// What failed and what to do.
        message: String,
    },

    /// Ctrl-C stopped the command.
    #[error("interrupted: {message}")]
    Interrupted {
        /// What state the work was left in.
        message: String,
    },

    /// Writing the output failed.
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

impl CliError {
    /// A usage error with this message.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        CliError::Usage {
            message: message.into(),
        }
    }

    /// A failure with this message.
    pub(crate) fn failed(message: impl Into<String>) -> Self {
        CliError::Failed {
            message: message.into(),
        }
    }

    /// The exit code: [`EXIT_USAGE`] for what the operator typed,
    /// [`EXIT_INTERRUPTED`] after Ctrl-C, [`EXIT_FAILURE`] otherwise.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage { .. } | CliError::NoDatabase | CliError::BadUrl { .. } => EXIT_USAGE,
            CliError::Log(Error::Audit(AuditError::InvalidFilter { .. }))
            | CliError::Log(Error::Replay(ReplayError::UnknownEvent { .. })) => EXIT_USAGE,
            CliError::Interrupted { .. } => EXIT_INTERRUPTED,
            _ => EXIT_FAILURE,
        }
    }

    /// True when the output went to a closed pipe (`events query | head`):
    /// not an error worth a message.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        matches!(self, CliError::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }

    /// The process exit code.
    pub(crate) fn exit(&self) -> ExitCode {
        ExitCode::from(self.exit_code())
    }
}

/// A message on one line: line breaks and the indentation after them become `; `.
pub(crate) fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// What the driver's error says, without its variant's prefix.
pub(crate) fn driver_reason(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Io(io) => io.to_string(),
        sqlx::Error::Database(db) => db.message().to_owned(),
        sqlx::Error::PoolTimedOut => "no connection within 10 s".to_owned(),
        other => one_line(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_one_line_and_codes_follow_the_cause() {
        let e = CliError::Log(Error::Replay(ReplayError::MissingRoutes {
            missing: vec![events_core::replay::MissingRoute {
                resource: "User".into(),
                action: "create".into(),
                version: 1,
                events: 3,
                reason: "no action `create` on `User`".into(),
            }],
        }));
        let text = e.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("; User.create v1 (3 events)"), "{text}");
        assert_eq!(e.exit_code(), EXIT_FAILURE);
        assert_eq!(CliError::NoDatabase.exit_code(), EXIT_USAGE);
        assert_eq!(
            CliError::Interrupted {
                message: String::new()
            }
            .exit_code(),
            EXIT_INTERRUPTED
        );
    }
}
