//! The DCS API: request signing, wire formats and the HTTP client.
//!
//! One job per file:
//! - [`sign`]: `SDK-HMAC-SHA256` signing, pure functions;
//! - [`auth`]: who requests are sent as ([`Credentials`], [`Auth`]) and the headers that prove it;
//! - [`redact`]: scrubbing secrets out of everything the server sends back;
//! - [`wire`]: the JSON bodies of the API, parsed tolerantly, converted to [`crate::model`] types;
//! - [`retry`]: which failures are retried and how long to wait, pure functions;
//! - [`proxy`]: which proxy https requests use, read from the environment as curl reads it;
//! - [`client`]: the [`Client`] and its [`ClientOptions`];
//! - `http`: sending, retrying, and the one mapping of a non-2xx answer to an error;
//! - `list`: the paginated, bounded listing;
//! - `delete`: the batch delete and its per-id [`ItemResult`];
//! - `tags`: adding and removing instance tags;
//! - [`ces`]: Cloud Eye monitoring data (how busy each instance was) for the activity guard;
//! - [`metadata`]: temporary credentials from the ECS metadata service, refreshed;
//! - [`iam`]: the project-id lookup of a region (`GET /v3/projects?name=`).
//!
//! Nothing here knows YAML or how plans are rendered.

pub mod auth;
pub mod ces;
pub mod client;
mod delete;
mod http;
pub mod iam;
pub mod list;
pub mod metadata;
pub mod proxy;
pub mod redact;
pub mod retry;
pub mod sign;
mod tags;
#[cfg(test)]
mod testing;
pub mod wire;

pub use auth::{Auth, Credentials, mask};
pub use client::{Client, ClientOptions};
pub use delete::ItemResult;

/// Page size of the listing: the API's maximum.
pub const LIST_LIMIT: usize = 1000;

/// How many listing pages are read at once by default (`--concurrency`): the first page and
/// then up to 10 at once lists up to 11,000 instances in two round trips, while never having
/// more than 10 requests in flight against the gateway's per-user throttling.
pub const DEFAULT_CONCURRENCY: usize = 10;

/// Default bound on the requests in flight at once over a whole run (`--max-in-flight`).
pub const DEFAULT_MAX_IN_FLIGHT: usize = 64;

/// The most ids one batch DELETE may carry (`DCS.4100` above it).
pub const DELETE_BATCH_MAX: usize = 50;
