//! The built-in DCS emulator: a real HTTP server on a loopback address that implements the
//! calls dcs-reconcile makes, with the wire formats of the real API, so that `demo`, the tests
//! and users' own pipelines can run without a cloud account:
//!
//! - DCS: `GET`/`DELETE /v2/{project_id}/instances` (listing with its filters, batch delete with
//!   the recycle bin), `GET`/`DELETE /v2/{project_id}/instances/{id}`, the instance tags
//!   (`POST /v2/{project_id}/dcs/{id}/tags/action`, `GET /v2/{project_id}/instances/{id}/tags`);
//! - Cloud Eye: `POST /V1.0/{project_id}/batch-query-metric-data` and
//!   `GET /V1.0/{project_id}/metric-data`, from per-instance activity;
//! - IAM's `GET /v3/projects?name=<region>`;
//! - the ECS metadata service's temporary credentials (`PUT /meta-data/latest/api/token`,
//!   `GET /openstack/latest/securitykey`).
//!
//! It validates parameters like the API, answers errors with the API's bodies, puts
//! `X-Request-Id` on every answer, and, when given an AK/SK, verifies `SDK-HMAC-SHA256`
//! signatures (401 `APIGW.0301` when wrong), including the signed `X-Security-Token` of
//! temporary credentials; it can also accept an `X-Auth-Token`. State lives in memory and can
//! be loaded from and saved to a JSON file in the API's own instance format.
//!
//! Layout: this file holds the configuration, the shared state and the server's start;
//! `routes` the router and what every request goes through (latency, faults, authentication,
//! the record); `auth` the signature checks; `instances` listing and deleting; `tags`; `ces`;
//! `iam` (IAM and the metadata service); `state` the state file; `data` the instances;
//! `answer` how an instance is written in the API's JSON; `faults` the fault queue and what
//! an injected fault answers.
//!
//! It shares the signing functions and nothing else with the client; it never sees a plan.

mod answer;
mod auth;
mod ces;
mod data;
pub mod faults;
mod iam;
mod instances;
mod routes;
mod state;
mod tags;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use data::{EmuInstance, generate_instances, sample_instances};
pub use faults::Fault;

/// The project id of the demo, the examples and the tests: one constant for all of them.
pub const EXAMPLE_PROJECT_ID: &str = "0123456789abcdef0123456789abcdef";
pub use state::{Activity, RecycledInstance, StateFile, load_state, load_state_file};

use crate::error::{Error, Result};

/// The region name of the one project the emulated IAM knows by default.
pub const DEFAULT_REGION: &str = "cn-north-4";

/// The id of that project when the emulator serves any project id.
pub const DEFAULT_PROJECT_ID: &str = "0123456789abcdef0123456789abcdef";

/// How long the metadata service's temporary credentials last when
/// [`EmulatorConfig::metadata_lifetime`] is not set.
pub const DEFAULT_METADATA_LIFETIME: std::time::Duration = std::time::Duration::from_secs(3600);

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
    /// Where to save the state after every change (and from where it was loaded). Its recycle
    /// bin and activity are read at start when the config gives none.
    pub state_file: Option<PathBuf>,
    /// The instances at start.
    pub instances: Vec<EmuInstance>,
    /// Fault injection: deleting these ids answers `failed` (and leaves them in place).
    pub fail_delete: Vec<String>,
    /// Fault injection: the first N batch-delete requests answer HTTP 500 and delete nothing.
    pub fail_delete_requests: usize,
    /// Simulated response time: every answer leaves this long after its request arrived.
    /// The state is read (and changed) when the request arrives and the answer built at once;
    /// what remains of the time is waited out concurrently, as over a real network, and the
    /// request is recorded just before its answer is written (or when its client goes away
    /// during the wait: what it did is done).
    pub latency: std::time::Duration,
    /// Deleted instances linger in status `DELETING` for this many listings (list requests
    /// at offset 0) before they disappear, as on the real cloud.
    pub delete_linger: usize,
    /// Fault injection: a queue of faults, each consumed by the next request it applies to.
    pub faults: Vec<Fault>,
    /// Answer a delete carrying `"is_recycle"` with 400 `DCS.4800` naming the parameter, as a
    /// region without the recycle bin might.
    pub reject_recycle: bool,
    /// Ignore `"is_recycle"` and destroy the instances, as a region that does not know the
    /// parameter might do silently.
    pub ignore_recycle: bool,
    /// The recycle bin at start.
    pub recycle_bin: Vec<RecycledInstance>,
    /// Cloud Eye activity per instance id or name; instances without an entry are idle
    /// (datapoints of 0).
    pub activity: BTreeMap<String, Activity>,
    /// The metadata service hands out these temporary credentials (AK, SK, security token),
    /// and the emulator accepts signatures made with them; `None`: the metadata paths answer
    /// 404.
    pub metadata_credentials: Option<(String, String, String)>,
    /// How long those credentials last after each fetch (`expires_at`); once expired the
    /// emulator refuses them. `None`: [`DEFAULT_METADATA_LIFETIME`].
    pub metadata_lifetime: Option<std::time::Duration>,
    /// The metadata service answers `securitykey` only with an `X-Metadata-Token` obtained
    /// from `PUT /meta-data/latest/api/token` (401 otherwise).
    pub metadata_require_token: bool,
    /// Counts this emulator's requests in flight together with those of every other
    /// emulator given the same gauge: tests of several targets see their overlap.
    pub gauge: Option<Arc<Gauge>>,
}

/// Requests in flight now and at most, over every emulator that shares it.
#[derive(Debug, Default)]
pub struct Gauge {
    now: AtomicUsize,
    max: AtomicUsize,
}

impl Gauge {
    /// The most requests in flight at the same time so far.
    pub fn max(&self) -> usize {
        self.max.load(Ordering::SeqCst)
    }
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
            .field("reject_recycle", &self.reject_recycle)
            .field("ignore_recycle", &self.ignore_recycle)
            .field("recycle_bin", &self.recycle_bin.len())
            .field("activity", &self.activity)
            .field(
                "metadata_credentials",
                &self
                    .metadata_credentials
                    .as_ref()
                    .map(|(ak, _, _)| (ak, "(redacted)", "(redacted)")),
            )
            .field("metadata_lifetime", &self.metadata_lifetime)
            .field("metadata_require_token", &self.metadata_require_token)
            .finish()
    }
}

/// One request the emulator answered, for tests and for the `emulator` command's log.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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
    /// The request body as text (lossy UTF-8): delete, tag and Cloud Eye bodies, for tests
    /// to assert on. Requests carry no secrets in their bodies.
    pub body: String,
    /// For a delete: the `is_recycle` value of the body, when it had one.
    pub is_recycle: Option<bool>,
    /// For a delete: the ids moved to the recycle bin.
    pub recycled: Vec<String>,
    /// For a delete: the ids destroyed (no recycle bin asked, or not eligible for it).
    pub destroyed: Vec<String>,
}

/// The emulator's state, shared between connections.
#[derive(Debug)]
pub struct Shared {
    /// The gauge shared with other emulators, if any.
    gauge: Option<Arc<Gauge>>,
    inner: Mutex<Inner>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A lingering deletion: listings left, and whether it then goes to the recycle bin.
#[derive(Debug, Clone, Copy)]
struct Linger {
    left: usize,
    recycle: bool,
}

#[derive(Debug)]
struct Inner {
    config: EmulatorConfig,
    instances: Vec<EmuInstance>,
    recycle_bin: Vec<RecycledInstance>,
    requests: Vec<RequestRecord>,
    counter: u64,
    seed: u64,
    /// Deleted ids still shown as `DELETING`.
    lingering: HashMap<String, Linger>,
    /// Metadata: tokens handed out, credential fetches, and when the last credentials expire.
    metadata_tokens: Tokens,
    metadata_fetches: usize,
    metadata_expires: Option<time::OffsetDateTime>,
}

/// The metadata session tokens handed out; `Debug` shows only how many.
#[derive(Default)]
struct Tokens(Vec<String>);

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} token(s), (redacted)", self.0.len())
    }
}

impl Shared {
    /// Shared state for `config`.
    pub fn new(mut config: EmulatorConfig) -> Arc<Shared> {
        let instances = std::mem::take(&mut config.instances);
        let mut recycle_bin = std::mem::take(&mut config.recycle_bin);
        if let Some(path) = &config.state_file
            && path.exists()
        {
            match load_state(path) {
                Ok(file) => {
                    if recycle_bin.is_empty() {
                        recycle_bin = file.recycle_bin;
                    }
                    if config.activity.is_empty() {
                        config.activity = file.activity;
                    }
                }
                Err(e) => tracing::warn!("emulator state file: {e}"),
            }
        }
        let seed = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as u64;
        let gauge = config.gauge.clone();
        Arc::new(Shared {
            gauge,
            inner: Mutex::new(Inner {
                config,
                instances,
                recycle_bin,
                requests: Vec::new(),
                counter: 0,
                seed,
                lingering: HashMap::new(),
                metadata_tokens: Tokens(Vec::new()),
                metadata_fetches: 0,
                metadata_expires: None,
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

    /// How many requests are being answered now.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::SeqCst)
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

    /// The instances in the recycle bin, oldest first.
    pub fn recycle_bin(&self) -> Vec<EmuInstance> {
        self.lock()
            .recycle_bin
            .iter()
            .map(|r| r.instance.clone())
            .collect()
    }

    /// The recycle bin with the time each instance went there.
    pub fn recycle_bin_entries(&self) -> Vec<RecycledInstance> {
        self.lock().recycle_bin.clone()
    }

    /// Adds faults to the end of the queue (tests use it to break the next requests while a
    /// run is going on).
    pub fn push_faults(&self, faults: impl IntoIterator<Item = Fault>) {
        self.lock().config.faults.extend(faults);
    }

    /// Changes the Cloud Eye activity (by instance id or name) between two runs.
    pub fn set_activity(&self, key: &str, activity: Activity) {
        let mut inner = self.lock();
        inner.config.activity.insert(key.to_owned(), activity);
        inner.save();
    }

    /// How often the metadata service handed out credentials (`GET …/securitykey` answered 200).
    pub fn metadata_fetches(&self) -> usize {
        self.lock().metadata_fetches
    }

    /// How often the metadata service handed out a session token (`PUT …/api/token`).
    pub fn metadata_token_fetches(&self) -> usize {
        self.lock().metadata_tokens.0.len()
    }
}

impl Inner {
    /// Saves the state file, when there is one.
    fn save(&self) {
        if let Some(path) = &self.config.state_file
            && let Err(e) = state::save_state(
                path,
                &self.instances,
                &self.recycle_bin,
                &self.config.activity,
            )
        {
            tracing::error!("cannot save the emulator state: {e}");
        }
    }
}

/// Serves the emulator on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, routes::router(shared))
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
