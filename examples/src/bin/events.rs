//! The example application's `events` command line: the whole file an
//! application needs for its own (see the `events-cli` crate docs).
//!
//! It names the event log (whose resources are compiled into this binary, so
//! `replay` and `verify` can route every event), creates the application's
//! tables with `migrate`, and sets the retention period `prune` applies.
//!
//! ```sh
//! export DATABASE_URL=postgres://postgres@127.0.0.1:5432/shop
//! cargo run -p events-examples --bin events -- migrate
//! cargo run -p events-examples --example seed
//! cargo run -p events-examples --bin events -- status
//! ```

fn main() -> std::process::ExitCode {
    events_cli::Cli::<events_examples::app::EventLog>::new()
        .app_schema(events_examples::app::SCHEMA)
        .retention(chrono::Duration::days(365))
        .run()
}
