//! The built-in DCS emulator: a real HTTP server on a loopback address that implements
//! `GET /v2/{project_id}/instances` and `DELETE /v2/{project_id}/instances` with the wire formats
//! of the real API, so that `demo`, the tests and users' own pipelines can run without a cloud
//! account.
//!
//! It validates `offset`/`limit` (default 10, 1..=1000) like the API, answers errors with
//! DCS-style bodies, caps a batch delete at 50 ids (`DCS.4100`), reports per-id results (unknown,
//! prepaid or busy instances `failed`), puts `X-Request-Id` on every answer, and, when given an
//! AK/SK, verifies `SDK-HMAC-SHA256` signatures (401 `APIGW.0301` when wrong), including the
//! signed `X-Security-Token` of temporary credentials; it can also accept an `X-Auth-Token`.
//! It serves IAM's `GET /v3/projects?name=<region>` too, so the project-id lookup is tested.
//! State lives in memory and can be loaded from and saved to a JSON file in the API's own
//! instance format.
//!
//! It shares the signing functions and nothing else with the client; it never sees a plan.

mod data;
pub mod faults;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

pub use data::{EmuInstance, generate_instances, load_state_file, sample_instances};

use crate::api::sign::{self, SignInput};
use crate::api::{DELETE_BATCH_MAX, LIST_LIMIT};
use crate::error::{Error, Result};
pub use faults::Fault;
use faults::Kind;

/// The statuses in which the emulator, like the API, accepts a deletion.
const DELETABLE: [&str; 3] = ["RUNNING", "ERROR", "CREATEFAILED"];

/// The region name of the one project the emulated IAM knows by default.
pub const DEFAULT_REGION: &str = "cn-north-4";

/// The id of that project when the emulator serves any project id.
pub const DEFAULT_PROJECT_ID: &str = "0123456789abcdef0123456789abcdef";

/// How the emulator starts. `Debug` shows whether secrets are configured, never their values.
#[derive(Clone, Default)]
pub struct EmulatorConfig {
    /// Only this project id is served (others get 401 `DCS.1004`); `None` serves any.
    pub project_id: Option<String>,
    /// When set, every request must be signed with this AK/SK (unless it carries the
    /// [`EmulatorConfig::auth_token`]).
    pub credentials: Option<(String, String)>,
    /// When set, signed requests must carry this `X-Security-Token`, and sign it (temporary
    /// credentials).
    pub security_token: Option<String>,
    /// When set, requests may authenticate with `X-Auth-Token: <this>` instead of a signature.
    pub auth_token: Option<String>,
    /// The projects IAM (`GET /v3/projects?name=`) knows, as (name, id). `None`: one project
    /// named [`DEFAULT_REGION`] whose id is `project_id` (or [`DEFAULT_PROJECT_ID`]).
    pub iam_projects: Option<Vec<(String, String)>>,
    /// Where to save the state after every change (and from where it was loaded).
    pub state_file: Option<PathBuf>,
    /// The instances at start.
    pub instances: Vec<EmuInstance>,
    /// Fault injection: deleting these ids answers `failed` (and leaves them in place).
    pub fail_delete: Vec<String>,
    /// Fault injection: the first N batch-delete requests answer HTTP 500 and delete nothing.
    pub fail_delete_requests: usize,
    /// Simulated network latency added to every answer. Requests wait concurrently, as over a
    /// real network; the state is read after the wait.
    pub latency: std::time::Duration,
    /// Deleted instances linger in status `DELETING` for this many listings (list requests
    /// at offset 0) before they disappear, as on the real cloud.
    pub delete_linger: usize,
    /// Fault injection: a queue of faults, each consumed by the next request it applies to.
    pub faults: Vec<Fault>,
}

impl std::fmt::Debug for EmulatorConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |v: bool| if v { "(redacted)" } else { "none" };
        f.debug_struct("EmulatorConfig")
            .field("project_id", &self.project_id)
            .field(
                "credentials",
                &self.credentials.as_ref().map(|(ak, _)| (ak, "(redacted)")),
            )
            .field("security_token", &set(self.security_token.is_some()))
            .field("auth_token", &set(self.auth_token.is_some()))
            .field("iam_projects", &self.iam_projects)
            .field("state_file", &self.state_file)
            .field("instances", &self.instances.len())
            .field("fail_delete", &self.fail_delete)
            .field("fail_delete_requests", &self.fail_delete_requests)
            .field("latency", &self.latency)
            .field("delete_linger", &self.delete_linger)
            .field("faults", &self.faults)
            .finish()
    }
}

/// One request the emulator answered, for tests and for the `emulator` command's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// HTTP method.
    pub method: String,
    /// Path without query.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Status answered.
    pub status: u16,
    /// For a batch delete: the ids in the body.
    pub delete_ids: Vec<String>,
    /// Names of the request headers (lower-case), never their values.
    pub header_names: Vec<String>,
    /// Header names listed in `SignedHeaders` of the `Authorization` header.
    pub signed_headers: Vec<String>,
}

/// The emulator's state, shared between connections.
#[derive(Debug)]
pub struct Shared {
    inner: Mutex<Inner>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

#[derive(Debug)]
struct Inner {
    config: EmulatorConfig,
    instances: Vec<EmuInstance>,
    requests: Vec<RequestRecord>,
    counter: u64,
    seed: u64,
    /// Deleted ids still shown as `DELETING`, with the listings left before they go.
    lingering: std::collections::HashMap<String, usize>,
}

impl Shared {
    /// Shared state for `config`.
    pub fn new(mut config: EmulatorConfig) -> Arc<Shared> {
        let instances = std::mem::take(&mut config.instances);
        let seed = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64;
        Arc::new(Shared {
            inner: Mutex::new(Inner {
                config,
                instances,
                requests: Vec::new(),
                counter: 0,
                seed,
                lingering: std::collections::HashMap::new(),
            }),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Every request answered so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.lock().requests.clone()
    }

    /// The most requests that were being answered at the same time so far.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    /// The instances that exist now.
    pub fn instances(&self) -> Vec<EmuInstance> {
        self.lock().instances.clone()
    }

    /// Changes the instances in place (tests use it to change the world between two runs).
    pub fn update_instances(&self, f: impl FnOnce(&mut Vec<EmuInstance>)) {
        f(&mut self.lock().instances);
    }

    /// The ids of the instances that exist now, in storage order.
    pub fn instance_ids(&self) -> Vec<String> {
        self.lock().instances.iter().map(|i| i.id.clone()).collect()
    }
}

/// Serves the emulator on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().fallback(handle).with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Refuses to listen anywhere but on a loopback address.
pub fn check_loopback(addr: &SocketAddr) -> Result<()> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(Error::Emulator(format!(
            "refusing to listen on {addr}: the emulator only listens on loopback addresses \
             (127.0.0.0/8 or ::1)"
        )))
    }
}

/// An emulator running on its own thread, stopped when dropped. Used by `demo`, tests and
/// benchmarks.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Emulator {
    /// Starts an emulator on `127.0.0.1` and a free port.
    pub fn start(config: EmulatorConfig) -> Result<Emulator> {
        Self::start_on(SocketAddr::from(([127, 0, 0, 1], 0)), config)
    }

    /// Starts an emulator on `addr` (a loopback address; port 0 picks a free one).
    pub fn start_on(addr: SocketAddr, config: EmulatorConfig) -> Result<Emulator> {
        check_loopback(&addr)?;
        let std_listener = std::net::TcpListener::bind(addr)
            .map_err(|e| Error::Emulator(format!("cannot listen on {addr}: {e}")))?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| Error::Emulator(e.to_string()))?;
        let addr = std_listener
            .local_addr()
            .map_err(|e| Error::Emulator(e.to_string()))?;
        let shared = Shared::new(config);
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Emulator(e.to_string()))?;
        let server_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("dcs-emulator".to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    match tokio::net::TcpListener::from_std(std_listener) {
                        Ok(listener) => {
                            let stop = async move {
                                let _ = rx.await;
                            };
                            if let Err(e) = serve(listener, server_shared, stop).await {
                                tracing::error!("emulator stopped: {e}");
                            }
                        }
                        Err(e) => tracing::error!("emulator cannot listen: {e}"),
                    }
                });
            })
            .map_err(|e| Error::Emulator(e.to_string()))?;
        Ok(Emulator {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The shared state (requests answered, instances left).
    pub fn shared(&self) -> &Shared {
        &self.shared
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The first value of query parameter `key`.
fn param<'q>(query: &'q [(String, String)], key: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// A response body: a JSON value, or bytes already serialised.
enum Reply {
    Json(Value),
    Raw(Vec<u8>),
}

impl From<Value> for Reply {
    fn from(v: Value) -> Reply {
        Reply::Json(v)
    }
}

/// An error body in the DCS format.
fn dcs_error(code: &str, msg: &str) -> Value {
    json!({ "error_code": code, "error_msg": msg, "error_ext_msg": null })
}

async fn handle(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    // Counted out even when the client goes away and the answer is dropped unfinished.
    let _in_flight = InFlight(&shared.in_flight);
    answer(&shared, method, uri, headers, body).await
}

/// Decrements the in-flight count when dropped.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn answer(
    shared: &Shared,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let latency = shared.lock().config.latency;
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let mut inner = shared.lock();
    inner.counter += 1;
    let request_id = format!("{:016x}{:016x}", inner.seed, inner.counter);
    let offset = url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
        .find(|(k, _)| k == "offset")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let fault = faults::take(&mut inner.config.faults, &method, offset);
    let (status, value, delete_ids) = match fault {
        Some(Kind::Status(429)) => (
            StatusCode::TOO_MANY_REQUESTS,
            json!({
                "error_code": "APIGW.0308",
                "error_msg": "The throttling threshold has been reached: policy user over ratelimit,limit:5,time:1 second",
                "request_id": request_id,
            })
            .into(),
            Vec::new(),
        ),
        Some(Kind::Status(code)) => (
            StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            dcs_error(
                "DCS.5000",
                "Internal server error (injected by the emulator).",
            )
            .into(),
            Vec::new(),
        ),
        Some(Kind::Html | Kind::Close | Kind::Garbage) => {
            (StatusCode::BAD_GATEWAY, Value::Null.into(), Vec::new())
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
            inner.dispatch(&method, &uri, &headers, &body, &request_id)
        }
        Some(Kind::LoseAnswer) | None => {
            inner.dispatch(&method, &uri, &headers, &body, &request_id)
        }
    };
    inner.requests.push(RequestRecord {
        method: method.to_string(),
        path: uri.path().to_owned(),
        query: uri.query().unwrap_or("").to_owned(),
        status: status.as_u16(),
        delete_ids,
        header_names: headers.keys().map(|k| k.as_str().to_owned()).collect(),
        signed_headers: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(sign::parse_authorization)
            .map(|a| a.signed_headers)
            .unwrap_or_default(),
    });
    drop(inner);
    tracing::info!(
        "{method} {uri} -> {} (request id {request_id}){}",
        status.as_u16(),
        fault
            .map(|k| format!(" [fault: {k:?}]"))
            .unwrap_or_default()
    );
    match fault {
        Some(Kind::Close | Kind::LoseAnswer) => return cut_off(),
        Some(Kind::Html) => {
            return (
                StatusCode::BAD_GATEWAY,
                [(axum::http::header::CONTENT_TYPE, "text/html")],
                "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad Gateway</h1></center>\r\n</body>\r\n</html>\r\n",
            )
                .into_response();
        }
        Some(Kind::Garbage) => {
            return (
                StatusCode::OK,
                [(axum::http::header::CONTENT_TYPE, "application/json")],
                "{\"instance_num\": 3, \"instances\": [{\"instance_id\": \"x\",\u{0}\u{1}garbage",
            )
                .into_response();
        }
        _ => {}
    }
    let body = match value {
        Reply::Json(v) => serde_json::to_vec(&v).unwrap_or_default(),
        Reply::Raw(bytes) => bytes,
    };
    let mut response = (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            "application/json;charset=UTF-8",
        )],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        if uri.path().starts_with("/v3/") {
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

/// A response whose body fails at once: the connection is dropped before a complete answer.
fn cut_off() -> Response {
    let failing = futures_util::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::other(
            "answer lost (injected by the emulator)",
        ))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(axum::http::header::CONTENT_LENGTH, "1000")
        .body(axum::body::Body::from_stream(failing))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

impl Inner {
    fn dispatch(
        &mut self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
        request_id: &str,
    ) -> (StatusCode, Reply, Vec<String>) {
        if let Err(why) = self.authenticate(method, uri, headers, body) {
            return (
                StatusCode::UNAUTHORIZED,
                json!({
                    "error_code": "APIGW.0301",
                    "error_msg": format!("Incorrect IAM authentication information: {why}"),
                    "request_id": request_id,
                })
                .into(),
                Vec::new(),
            );
        }
        if uri.path().trim_end_matches('/') == "/v3/projects" && *method == Method::GET {
            return (StatusCode::OK, self.iam_projects(uri).into(), Vec::new());
        }
        let segments: Vec<&str> = uri.path().trim_end_matches('/').split('/').collect();
        let project = match segments.as_slice() {
            ["", "v2", project, "instances"] => *project,
            _ => {
                return (
                    StatusCode::NOT_FOUND,
                    dcs_error("DCS.4001", "The requested URL was not found.").into(),
                    Vec::new(),
                );
            }
        };
        if let Some(want) = &self.config.project_id
            && want != project
        {
            return (
                StatusCode::UNAUTHORIZED,
                dcs_error("DCS.1004", "The project ID does not match the token.").into(),
                Vec::new(),
            );
        }
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        if *method == Method::GET {
            match self.list(&query) {
                Ok(body) => (StatusCode::OK, Reply::Raw(body), Vec::new()),
                Err(value) => (StatusCode::BAD_REQUEST, value.into(), Vec::new()),
            }
        } else if *method == Method::DELETE && self.config.fail_delete_requests > 0 {
            self.config.fail_delete_requests -= 1;
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                dcs_error(
                    "DCS.5000",
                    "Internal server error (injected by the emulator).",
                )
                .into(),
                Vec::new(),
            )
        } else if *method == Method::DELETE {
            let (status, value, ids) =
                self.batch_delete(param(&query, "all_failure") == Some("true"), body);
            (status, value.into(), ids)
        } else {
            (
                StatusCode::NOT_FOUND,
                dcs_error("DCS.4001", "The requested URL was not found.").into(),
                Vec::new(),
            )
        }
    }

    /// Checks how the request authenticates: a known `X-Auth-Token`, or a valid signature
    /// (with the security token signed, when one is configured). Without credentials or a
    /// token configured, anything goes.
    fn authenticate(
        &self,
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        body: &[u8],
    ) -> std::result::Result<(), String> {
        if let Some(given) = headers.get("x-auth-token") {
            return match &self.config.auth_token {
                Some(want) if given.as_bytes() == want.as_bytes() => Ok(()),
                Some(_) => Err("the token is invalid or has expired".to_owned()),
                None => Err("token authentication is not accepted here".to_owned()),
            };
        }
        let Some((ak, sk)) = &self.config.credentials else {
            return match self.config.auth_token {
                Some(_) => Err("the X-Auth-Token header is missing".to_owned()),
                None => Ok(()),
            };
        };
        verify_signature(ak, sk, method, uri, headers, body)?;
        let signed = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(sign::parse_authorization)
            .map(|a| a.signed_headers)
            .unwrap_or_default();
        let given = headers.get("x-security-token");
        if given.is_some() && !signed.iter().any(|h| h == "x-security-token") {
            return Err("X-Security-Token is not signed".to_owned());
        }
        match (&self.config.security_token, given) {
            (Some(want), Some(given)) if given.as_bytes() == want.as_bytes() => Ok(()),
            (Some(_), Some(_)) => Err("the security token is invalid or has expired".to_owned()),
            (Some(_), None) => {
                Err("temporary credentials need the X-Security-Token header".to_owned())
            }
            (None, Some(_)) => {
                Err("a security token was sent with permanent credentials".to_owned())
            }
            (None, None) => Ok(()),
        }
    }

    /// IAM's `GET /v3/projects?name=`: the projects of that exact name.
    fn iam_projects(&self, uri: &Uri) -> Value {
        let query: Vec<(String, String)> =
            url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        let default;
        let all: &[(String, String)] = match &self.config.iam_projects {
            Some(p) => p,
            None => {
                default = [(
                    DEFAULT_REGION.to_owned(),
                    self.config
                        .project_id
                        .clone()
                        .unwrap_or_else(|| DEFAULT_PROJECT_ID.to_owned()),
                )];
                &default
            }
        };
        let projects: Vec<Value> = all
            .iter()
            .filter(|(name, _)| param(&query, "name").is_none_or(|n| n == name))
            .map(|(name, id)| {
                json!({
                    "id": id,
                    "name": name,
                    "domain_id": "d0000000000000000000000000000001",
                    "parent_id": "d0000000000000000000000000000001",
                    "is_domain": false,
                    "enabled": true,
                    "description": "",
                    "links": { "self": format!("/v3/projects/{id}") },
                })
            })
            .collect();
        json!({ "projects": projects, "links": { "self": "/v3/projects" } })
    }

    /// A new listing starts: lingering deletions come one listing closer to disappearing.
    fn age_lingering(&mut self) {
        if self.lingering.is_empty() {
            return;
        }
        for left in self.lingering.values_mut() {
            *left = left.saturating_sub(1);
        }
        let gone: std::collections::HashSet<String> = self
            .lingering
            .iter()
            .filter(|(_, left)| **left == 0)
            .map(|(id, _)| id.clone())
            .collect();
        self.lingering.retain(|_, left| *left > 0);
        self.instances.retain(|i| !gone.contains(&i.id));
        self.save();
    }

    /// The list answer's body, written straight from the instances; `Err` is a 400 body.
    fn list(&mut self, query: &[(String, String)]) -> std::result::Result<Vec<u8>, Value> {
        let param = |k: &str| param(query, k);
        let offset = match param("offset").map(str::parse::<i64>) {
            None => 0,
            Some(Ok(n)) if n >= 0 => n,
            Some(_) => return Err(dcs_error("DCS.4800", "Invalid offset in the request.")),
        };
        if offset == 0 {
            self.age_lingering();
        }
        let limit = match param("limit").map(str::parse::<i64>) {
            None => 10,
            Some(Ok(n)) if (1..=LIST_LIMIT as i64).contains(&n) => n,
            Some(_) => return Err(dcs_error("DCS.4800", "Invalid limit in the request.")),
        };
        let include_failure = param("include_failure") == Some("true");
        let name_equal = param("name_equal") == Some("true");
        let visible: Vec<&EmuInstance> = self
            .instances
            .iter()
            .filter(|i| include_failure || i.status != "CREATEFAILED")
            .filter(|i| param("instance_id").is_none_or(|id| i.id == id))
            .filter(|i| param("status").is_none_or(|s| i.status == s))
            .filter(|i| {
                param("name").is_none_or(|n| {
                    if name_equal {
                        i.name == n
                    } else {
                        i.name.contains(n)
                    }
                })
            })
            .collect();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(visible.len());
        let end = start
            .saturating_add(usize::try_from(limit).unwrap_or(0))
            .min(visible.len());
        // `{"instance_num":N,"instances":[...]}`, each instance serialised in place: no
        // `Value` per instance, so large pages cost the emulator little.
        let mut out = Vec::with_capacity(64 + (end - start) * 1400);
        out.extend_from_slice(
            format!("{{\"instance_num\":{},\"instances\":[", visible.len()).as_bytes(),
        );
        for (n, inst) in visible[start..end].iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            inst.write_api_json(&mut out);
        }
        out.extend_from_slice(b"]}");
        Ok(out)
    }

    fn batch_delete(&mut self, all_failure: bool, body: &[u8]) -> (StatusCode, Value, Vec<String>) {
        let parsed: Value = match serde_json::from_slice(body) {
            Ok(v) => v,
            Err(_) if body.is_empty() && all_failure => json!({ "instances": [] }),
            Err(_) => {
                return (
                    StatusCode::BAD_REQUEST,
                    dcs_error("DCS.4800", "Invalid request body."),
                    Vec::new(),
                );
            }
        };
        let ids: Vec<String> = match parsed.get("instances") {
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect(),
            _ => {
                return (
                    StatusCode::BAD_REQUEST,
                    dcs_error("DCS.4065", "The instances parameter is missing or invalid."),
                    Vec::new(),
                );
            }
        };
        if ids.len() > DELETE_BATCH_MAX {
            return (
                StatusCode::BAD_REQUEST,
                dcs_error(
                    "DCS.4100",
                    "The number of instance IDs in an instances array cannot exceed 50.",
                ),
                ids,
            );
        }
        // One pass over the instances, whatever the batch size.
        let requested: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut deleted: std::collections::HashSet<String> = std::collections::HashSet::new();
        let fail = &self.config.fail_delete;
        let linger = self.config.delete_linger;
        let lingering = &mut self.lingering;
        self.instances.retain_mut(|inst| {
            let go = requested.contains(inst.id.as_str())
                && !fail.contains(&inst.id)
                && inst.charging_mode != 1
                && DELETABLE.contains(&inst.status.as_str());
            if go {
                deleted.insert(inst.id.clone());
                if linger > 0 {
                    "DELETING".clone_into(&mut inst.status);
                    lingering.insert(inst.id.clone(), linger);
                    return true;
                }
            }
            !go
        });
        let results: Vec<Value> = ids
            .iter()
            .map(|id| {
                // A repeated id succeeds once; the repeat finds nothing left to delete.
                let ok = deleted.remove(id);
                json!({ "result": if ok { "success" } else { "failed" }, "instance": id })
            })
            .collect();
        if all_failure {
            self.instances.retain(|i| i.status != "CREATEFAILED");
        }
        self.save();
        (StatusCode::OK, json!({ "results": results }), ids)
    }

    fn save(&self) {
        if let Some(path) = &self.config.state_file
            && let Err(e) = data::save_state_file(path, &self.instances)
        {
            tracing::error!("cannot save the emulator state: {e}");
        }
    }
}

/// Checks the `SDK-HMAC-SHA256` signature of a request against `ak`/`sk`, as the API gateway
/// does: re-canonicalises whatever `SignedHeaders` lists.
fn verify_signature(
    ak: &str,
    sk: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> std::result::Result<(), String> {
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or("the Authorization header is missing")?;
    let parsed =
        sign::parse_authorization(auth).ok_or("the Authorization header is not SDK-HMAC-SHA256")?;
    if parsed.access != ak {
        return Err("the access key is not known".to_owned());
    }
    if !parsed.signed_headers.iter().any(|h| h == "x-sdk-date") {
        return Err("X-Sdk-Date is not signed".to_owned());
    }
    let date = headers
        .get("x-sdk-date")
        .and_then(|v| v.to_str().ok())
        .ok_or("the X-Sdk-Date header is missing")?;
    let when = sign::parse_sdk_date(date).ok_or("the X-Sdk-Date header is malformed")?;
    let skew = (time::OffsetDateTime::now_utc() - when).abs();
    if skew > time::Duration::minutes(15) {
        return Err("the request has expired (X-Sdk-Date is more than 15 minutes off)".to_owned());
    }
    let header_pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let query: Vec<(String, String)> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (sign::decode(k), sign::decode(v))
        })
        .collect();
    let input = SignInput {
        method: method.as_str(),
        path: uri.path(),
        query: &query,
        headers: &header_pairs,
        body,
    };
    let creq = sign::canonical_request_with(&input, &parsed.signed_headers);
    let expected = sign::signature(sk, &sign::string_to_sign(date, &creq));
    if expected == parsed.signature {
        Ok(())
    } else {
        Err("verify aksk signature fail".to_owned())
    }
}
