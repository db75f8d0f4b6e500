//! The router: one route per path and method, and what every request goes through on its
//! way to a route (in-flight count, latency, request id, faults, authentication, the project
//! check, the record, the log), plus the DCS-style 404 for everything else.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde_json::{Value, json};

use super::data::EmuInstance;
use super::faults::{self, Kind, Target};
use super::{Inner, Shared, ces, iam, instances, tags};
use crate::api::sign;

/// A request as a route sees it.
pub(super) struct Req {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// The decoded query pairs, in order.
    pub query: Vec<(String, String)>,
    /// The decoded path segments; `segments[2]` is the project id of DCS and Cloud Eye paths.
    pub segments: Vec<String>,
    pub request_id: String,
}

impl Req {
    /// The first value of query parameter `key`.
    pub fn param(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Path segment `i` (0 is the empty one before the first `/`).
    pub fn segment(&self, i: usize) -> &str {
        self.segments.get(i).map_or("", String::as_str)
    }
}

/// A response body.
pub(super) enum Reply {
    /// A JSON value.
    Json(Value),
    /// JSON already serialised.
    Raw(Vec<u8>),
    /// Plain text.
    Text(String),
    /// No body (204).
    Empty,
}

/// What a route answers, and what the record should note about it.
pub(super) struct Answer {
    pub status: StatusCode,
    pub reply: Reply,
    pub note: Note,
}

/// The parts of a [`super::RequestRecord`] a route fills in.
#[derive(Default)]
pub(super) struct Note {
    pub delete_ids: Vec<String>,
    pub is_recycle: Option<bool>,
    pub recycled: Vec<String>,
    pub destroyed: Vec<String>,
}

impl Answer {
    /// `status` with a JSON body.
    pub fn json(status: StatusCode, value: Value) -> Answer {
        Answer {
            status,
            reply: Reply::Json(value),
            note: Note::default(),
        }
    }

    /// 200 with a JSON body.
    pub fn ok(value: Value) -> Answer {
        Answer::json(StatusCode::OK, value)
    }

    /// `status` with a DCS error body.
    pub fn dcs_error(status: StatusCode, code: &str, msg: &str) -> Answer {
        Answer::json(status, dcs_error(code, msg))
    }

    /// 204 without a body.
    pub fn no_content() -> Answer {
        Answer {
            status: StatusCode::NO_CONTENT,
            reply: Reply::Empty,
            note: Note::default(),
        }
    }
}

/// An error body in the DCS format.
pub(super) fn dcs_error(code: &str, msg: &str) -> Value {
    json!({ "error_code": code, "error_msg": msg, "error_ext_msg": null })
}

/// 404 `DCS.3022` for an instance id the emulator does not know.
pub(super) fn no_such_instance() -> Answer {
    Answer::dcs_error(
        StatusCode::NOT_FOUND,
        "DCS.3022",
        "This DCS instance does not exist.",
    )
}

/// Which service a route belongs to: how it authenticates, checks the project and fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Api {
    /// DCS: signed, project id in the path.
    Dcs,
    /// Cloud Eye: signed, project id in the path, its own error bodies.
    Ces,
    /// IAM: signed, no project in the path.
    Iam,
    /// The metadata service: no authentication.
    Meta,
    /// No route: signed, then 404 `DCS.4001`.
    Unknown,
}

/// A route's work, on the locked state, once the request passed faults and authentication.
type Handler = fn(&mut Inner, &Req) -> Answer;

/// The emulator's router.
pub(super) fn router(shared: Arc<Shared>) -> Router {
    let instances = || {
        get(on(Target::List, Api::Dcs, instances::list))
            .delete(on(Target::Delete, Api::Dcs, instances::batch_delete))
            .fallback(on(Target::Any, Api::Unknown, not_found))
    };
    let projects = || {
        get(on(Target::List, Api::Iam, iam::projects)).fallback(on(
            Target::Any,
            Api::Unknown,
            not_found,
        ))
    };
    Router::new()
        .route("/v2/{project_id}/instances", instances())
        .route("/v2/{project_id}/instances/", instances())
        .route(
            "/v2/{project_id}/instances/{instance_id}",
            get(on(Target::List, Api::Dcs, instances::show))
                .delete(on(Target::Delete, Api::Dcs, instances::delete_one))
                .fallback(on(Target::Any, Api::Unknown, not_found)),
        )
        .route(
            "/v2/{project_id}/instances/{instance_id}/tags",
            get(on(Target::List, Api::Dcs, tags::list)).fallback(on(
                Target::Any,
                Api::Unknown,
                not_found,
            )),
        )
        .route(
            "/v2/{project_id}/dcs/{instance_id}/tags/action",
            post(on(Target::Tag, Api::Dcs, tags::action)).fallback(on(
                Target::Any,
                Api::Unknown,
                not_found,
            )),
        )
        .route(
            "/V1.0/{project_id}/batch-query-metric-data",
            post(on(Target::Ces, Api::Ces, ces::batch_query)).fallback(on(
                Target::Any,
                Api::Unknown,
                not_found,
            )),
        )
        .route(
            "/V1.0/{project_id}/metric-data",
            get(on(Target::Ces, Api::Ces, ces::metric_data)).fallback(on(
                Target::Any,
                Api::Unknown,
                not_found,
            )),
        )
        .route("/v3/projects", projects())
        .route("/v3/projects/", projects())
        .route(
            "/meta-data/latest/api/token",
            put(on(Target::Meta, Api::Meta, iam::metadata_token)).fallback(on(
                Target::Any,
                Api::Unknown,
                not_found,
            )),
        )
        .route(
            "/openstack/latest/securitykey",
            get(on(Target::Meta, Api::Meta, iam::security_key)).fallback(on(
                Target::Any,
                Api::Unknown,
                not_found,
            )),
        )
        .fallback(on(Target::Any, Api::Unknown, not_found))
        .with_state(shared)
}

/// The DCS-style 404 for paths and methods the emulator does not serve.
fn not_found(_: &mut Inner, _: &Req) -> Answer {
    Answer::dcs_error(
        StatusCode::NOT_FOUND,
        "DCS.4001",
        "The requested URL was not found.",
    )
}

/// An axum handler running `handler` behind everything every request goes through.
#[allow(clippy::type_complexity)]
fn on(
    target: Target,
    api: Api,
    handler: Handler,
) -> impl Fn(
    State<Arc<Shared>>,
    Method,
    Uri,
    HeaderMap,
    Bytes,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>
+ Clone
+ Send
+ Sync
+ 'static {
    move |State(shared), method, uri, headers, body| {
        Box::pin(async move {
            let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
            // Counted out even when the client goes away and the answer is dropped unfinished.
            let _in_flight = InFlight(&shared.in_flight);
            let _gauge = shared.gauge.as_ref().map(|g| {
                let now = g.now.fetch_add(1, Ordering::SeqCst) + 1;
                g.max.fetch_max(now, Ordering::SeqCst);
                InFlight(&g.now)
            });
            answer(&shared, target, api, handler, method, uri, headers, body).await
        })
    }
}

/// Records its request when dropped: when the answer is about to be written, or when the
/// client went away while the answer waited out its latency.
struct RecordOnDrop<'a>(&'a Shared, Option<super::RequestRecord>);

impl Drop for RecordOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(record) = self.1.take() {
            self.0.lock().requests.push(record);
        }
    }
}

/// Decrements the in-flight count when dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[allow(clippy::too_many_arguments)]
async fn answer(
    shared: &Shared,
    target: Target,
    api: Api,
    handler: Handler,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The answer leaves `latency` after the request arrived: it is read and built at once,
    // then held back for what remains of that time, so building a large page does not add
    // to the latency (as a server's response time includes its own work).
    let arrived = tokio::time::Instant::now();
    let (latency, req, fault, status, reply, summary, record) = {
        let mut inner = shared.lock();
        let latency = inner.config.latency;
        inner.counter = inner.counter.wrapping_add(1);
        let request_id = format!("{:016x}{:016x}", inner.seed, inner.counter);
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let req = Req {
            segments: uri.path().split('/').map(sign::decode).collect(),
            method,
            uri,
            headers,
            body,
            query,
            request_id,
        };
        let offset = req
            .param("offset")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        // A path no route serves takes the faults of its method, as before the routes existed.
        let target = match (api, &req.method) {
            (Api::Unknown, &Method::GET) => Target::List,
            (Api::Unknown, &Method::DELETE) => Target::Delete,
            _ => target,
        };
        let fault = faults::take(&mut inner.config.faults, target, offset);
        let answer = match fault {
            Some(Kind::Status(code)) => faults::injected(api, code, &req.request_id),
            Some(Kind::Html | Kind::Close | Kind::Garbage) => {
                Answer::json(StatusCode::BAD_GATEWAY, Value::Null)
            }
            Some(Kind::Insert) => {
                let n = inner.counter;
                inner.instances.insert(
                    0,
                    EmuInstance::new(
                        &format!("00000000-0000-4000-8000-{n:012x}"),
                        &format!("inserted-{n}"),
                    ),
                );
                inner.dispatch(api, handler, &req)
            }
            Some(Kind::LoseAnswer) | None => inner.dispatch(api, handler, &req),
        };
        let Answer {
            status,
            reply,
            note,
        } = answer;
        let summary = summary(&note);
        let record = super::RequestRecord {
            method: req.method.to_string(),
            path: req.uri.path().to_owned(),
            query: req.uri.query().unwrap_or("").to_owned(),
            status: status.as_u16(),
            delete_ids: note.delete_ids,
            header_names: req.headers.keys().map(|k| k.as_str().to_owned()).collect(),
            signed_headers: req
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(sign::parse_authorization)
                .map(|a| a.signed_headers)
                .unwrap_or_default(),
            body: String::from_utf8_lossy(&req.body).into_owned(),
            is_recycle: note.is_recycle,
            recycled: note.recycled,
            destroyed: note.destroyed,
        };
        (latency, req, fault, status, reply, summary, record)
    };
    let response = response_of(reply, status, fault, &req);
    // Recorded just before the answer is written, as a client would see it; and, since the
    // state already changed, also when the client goes away during the wait.
    let record = RecordOnDrop(shared, Some(record));
    if !latency.is_zero() {
        tokio::time::sleep_until(arrived + latency).await;
    }
    drop(record);
    tracing::info!(
        "{} {} -> {} (request id {}){}{summary}",
        req.method,
        req.uri,
        status.as_u16(),
        req.request_id,
        fault
            .map(|k| format!(" [fault: {k:?}]"))
            .unwrap_or_default()
    );
    response
}

/// The HTTP answer of `reply`, or the broken one `fault` asks for.
fn response_of(reply: Reply, status: StatusCode, fault: Option<Kind>, req: &Req) -> Response {
    match fault {
        Some(Kind::Close | Kind::LoseAnswer) => return faults::cut_off(),
        Some(kind @ (Kind::Html | Kind::Garbage)) => return faults::broken_answer(kind),
        _ => {}
    }
    let json_type = "application/json;charset=UTF-8";
    let mut response = match reply {
        Reply::Json(v) => (
            status,
            [(axum::http::header::CONTENT_TYPE, json_type)],
            serde_json::to_vec(&v).unwrap_or_default(),
        )
            .into_response(),
        Reply::Raw(bytes) => (
            status,
            [(axum::http::header::CONTENT_TYPE, json_type)],
            bytes,
        )
            .into_response(),
        Reply::Text(text) => (
            status,
            [(axum::http::header::CONTENT_TYPE, "text/plain")],
            text,
        )
            .into_response(),
        Reply::Empty => status.into_response(),
    };
    if let Ok(v) = HeaderValue::from_str(&req.request_id) {
        if req.uri.path().starts_with("/v3/") {
            response.headers_mut().insert("x-iam-trace-id", v.clone());
        }
        response.headers_mut().insert("x-request-id", v);
    }
    if fault == Some(Kind::Status(429)) {
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            HeaderValue::from_static("1"),
        );
    }
    response
}

/// What a delete did, for the log.
fn summary(note: &Note) -> String {
    let mut out = String::new();
    if !note.recycled.is_empty() {
        out.push_str(&format!(
            " [to the recycle bin: {}]",
            note.recycled.join(", ")
        ));
    }
    if note.is_recycle == Some(true) && !note.destroyed.is_empty() {
        out.push_str(&format!(
            " [destroyed, not recycled: {}]",
            note.destroyed.join(", ")
        ));
    }
    out
}

impl Inner {
    /// Authenticates the request (not for the metadata service), checks the project id of
    /// DCS and Cloud Eye paths, then runs the route.
    fn dispatch(&mut self, api: Api, handler: Handler, req: &Req) -> Answer {
        if api != Api::Meta
            && let Err(why) = self.authenticate(req)
        {
            return Answer::json(
                StatusCode::UNAUTHORIZED,
                json!({
                    "error_code": "APIGW.0301",
                    "error_msg": format!("Incorrect IAM authentication information: {why}"),
                    "request_id": req.request_id,
                }),
            );
        }
        if matches!(api, Api::Dcs | Api::Ces)
            && let Some(want) = &self.config.project_id
            && want != req.segment(2)
        {
            return Answer::dcs_error(
                StatusCode::UNAUTHORIZED,
                "DCS.1004",
                "The project ID does not match the token.",
            );
        }
        handler(self, req)
    }
}
