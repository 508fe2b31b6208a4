//! The console served for real: the router mounted under `/admin/activity` in
//! an app, on 127.0.0.1 at a free port, for a policy that lets everyone read
//! everything. Stopped when dropped.

use axum::http::request::Parts;
use events_core::audit::Scope;
use events_http::{Denied, EventsHttp, ReadPolicy};
use events_postgres::PgEventStore;
use tokio::task::JoinHandle;

use crate::app::TestLog;

/// Where the console is mounted in the test app.
pub const MOUNT: &str = "/admin/activity";

/// Everyone reads everything.
struct Everyone;

impl ReadPolicy for Everyone {
    async fn scope(&self, _request: &Parts) -> Result<Scope, Denied> {
        Ok(Scope::everything())
    }
}

/// A running server.
pub struct Server {
    /// The console's URL (`http://127.0.0.1:<port>/admin/activity`).
    pub console: String,
    task: JoinHandle<()>,
}

impl Server {
    /// Serves the console over `store`.
    pub async fn start(store: PgEventStore<TestLog>) -> std::io::Result<Server> {
        let app = axum::Router::new().nest(MOUNT, EventsHttp::new(store).policy(Everyone).router());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("test server stopped: {e}");
            }
        });
        Ok(Server {
            console: format!("http://{address}{MOUNT}"),
            task,
        })
    }

    /// A URL under the console (`path` starts with `/` or `?`, or is empty).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.console)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
