//! Test helper: a loopback HTTP server on 127.0.0.1:0, answering with a closure and recording
//! each request, run on the test's own tokio runtime.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use url::Url;

/// A request the server saw.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) body: String,
}

type Answer = dyn Fn(&Seen) -> (u16, String) + Send + Sync;

#[derive(Clone)]
struct Shared {
    answer: Arc<Answer>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

async fn handle(State(s): State<Shared>, method: Method, uri: Uri, body: Bytes) -> Response {
    let seen = Seen {
        method: method.to_string(),
        path: uri.path().to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let (status, text) = (s.answer)(&seen);
    s.seen
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(seen);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [("content-type", "application/json")], text).into_response()
}

/// Starts the server; returns its URL and the requests it records.
pub(crate) async fn serve(
    answer: impl Fn(&Seen) -> (u16, String) + Send + Sync + 'static,
) -> (Url, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let shared = Shared {
        answer: Arc::new(answer),
        seen: seen.clone(),
    };
    let app = axum::Router::new().fallback(handle).with_state(shared);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = Url::parse(&format!("http://{addr}")).unwrap_or_else(|e| panic!("{e}"));
    (url, seen)
}

/// What the server saw so far.
pub(crate) fn seen(log: &Mutex<Vec<Seen>>) -> Vec<Seen> {
    log.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}
