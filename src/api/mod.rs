//! The DCS API: request signing, wire formats and the HTTP client.
//!
//! - [`sign`]: `SDK-HMAC-SHA256` signing, pure functions;
//! - [`wire`]: the JSON bodies of the API, parsed tolerantly, converted to [`crate::model`] types;
//! - [`retry`]: which failures are retried and how long to wait, pure functions;
//! - [`client`]: the reqwest client that lists (the first page, then the others concurrently)
//!   and batch-deletes instances;
//! - [`iam`]: the project-id lookup of a region (`GET /v3/projects?name=`).
//!
//! Nothing here knows YAML or how plans are rendered.

pub mod client;
pub mod iam;
pub mod retry;
pub mod sign;
pub mod wire;

pub use client::{Auth, Client, ClientOptions, Credentials, DeleteOutcome};

/// Page size of the listing: the API's maximum.
pub const LIST_LIMIT: usize = 1000;

/// How many listing pages are read at once by default (`--concurrency`): the first page and
/// then up to 10 at once lists up to 11,000 instances in two round trips, while never having
/// more than 10 requests in flight against the gateway's per-user throttling.
pub const DEFAULT_CONCURRENCY: usize = 10;

/// The most ids one batch DELETE may carry (`DCS.4100` above it).
pub const DELETE_BATCH_MAX: usize = 50;
