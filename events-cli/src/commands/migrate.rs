//! `migrate` (run or print the schema) and `grants` (print or apply the
//! least-privilege roles' grants).

use std::io::Write;

use events_core::EventLog;
use serde_json::json;

use super::Ctx;
use crate::Cli;
use crate::args::GrantsArgs;
use crate::error::CliError;

/// The migration's text: the event log's, then the application's tables.
fn migration_text<L: EventLog>(cli: &Cli<L>) -> String {
    let mut sql = events_postgres::schema::migration_sql::<L>();
    if let Some(app) = &cli.app_schema {
        sql.push_str("\n-- The application's tables (Cli::app_schema).\n");
        sql.push_str(app.trim_end());
        sql.push('\n');
    }
    sql
}

/// `migrate --print`.
pub(super) fn print<L: EventLog>(cli: &Cli<L>) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    write!(out, "{}", migration_text(cli))?;
    Ok(())
}

/// `migrate`: the event log's migration, then the application's tables, each
/// re-runnable.
pub(super) async fn run<L: EventLog>(ctx: &Ctx<'_, L>) -> Result<(), CliError> {
    let existed = ctx.store.is_migrated().await.map_err(|e| ctx.error(e))?;
    ctx.store.migrate().await.map_err(|e| ctx.error(e))?;
    if let Some(app) = &ctx.cli.app_schema {
        sqlx::raw_sql(sqlx::AssertSqlSafe(app.clone()))
            .execute(ctx.store.pool())
            .await
            .map_err(|e| {
                ctx.error(events_core::Error::from_sqlx(
                    "creating the application's tables (Cli::app_schema)",
                    e,
                ))
            })?;
    }
    let what = if existed {
        "was set up already; brought up to date"
    } else {
        "created"
    };
    let app = if ctx.cli.app_schema.is_some() {
        ", with the application's tables"
    } else {
        ""
    };
    ctx.report(
        &format!("event log `{}` in {}: {what}{app}", L::TABLE, ctx.target),
        json!({
            "table": L::TABLE,
            "database": ctx.target.to_string(),
            "created": !existed,
            "app_schema": ctx.cli.app_schema.is_some(),
        }),
    )
}

/// `grants`: the SQL, printed.
pub(super) fn print_grants<L: EventLog>(_cli: &Cli<L>, args: &GrantsArgs) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    write!(
        out,
        "{}",
        events_postgres::schema::grants_sql::<L>(&args.app, &args.retention)
    )?;
    Ok(())
}

/// `grants --apply`: run as the tables' owner.
pub(super) async fn apply_grants<L: EventLog>(
    ctx: &Ctx<'_, L>,
    args: &GrantsArgs,
) -> Result<(), CliError> {
    let sql = ctx.store.grants_sql(&args.app, &args.retention);
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(ctx.store.pool())
        .await
        .map_err(|e| ctx.error(events_core::Error::from_sqlx("granting the roles", e)))?;
    ctx.report(
        &format!(
            "granted the application role `{}` and the retention role `{}` their privileges on `{}`",
            args.app,
            args.retention,
            L::TABLE
        ),
        json!({ "table": L::TABLE, "app": args.app, "retention": args.retention }),
    )
}
