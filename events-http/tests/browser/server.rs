//! The console served for real: the router mounted under `/admin/activity` in
//! an app, on 127.0.0.1 at a free port, for a policy that lets everyone read
//! everything (or another router). Stopped when dropped. Also a bare HTTP/1.1
//! GET, for what a browser does not show: statuses and headers.

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
    /// Serves the console over `store`, everything readable.
    pub async fn start(store: PgEventStore<TestLog>) -> std::io::Result<Server> {
        Server::router(EventsHttp::new(store).policy(Everyone).router()).await
    }

    /// Serves `router` under [`MOUNT`].
    pub async fn router(router: axum::Router) -> std::io::Result<Server> {
        let app = axum::Router::new().nest(MOUNT, router);
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

/// A response, as read off the wire.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Header lines, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Reply {
    /// The value of header `name` (lowercase), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET url` with `headers`, over a fresh connection closed after the reply;
/// gives up on the body after `wait` (a stream never ends by itself).
pub async fn get(
    url: &str,
    headers: &[(&str, &str)],
    wait: std::time::Duration,
) -> Result<Reply, Box<dyn std::error::Error + Send + Sync>> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let rest = url.strip_prefix("http://").ok_or("not an http:// URL")?;
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = tokio::net::TcpStream::connect(host).await?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    let _ = tokio::time::timeout(wait, stream.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").ok_or("no end of headers")?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .ok_or("no status line")?
        .parse()?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Reply {
        status,
        headers,
        body: body.to_owned(),
    })
}
