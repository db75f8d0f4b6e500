//! The DCS API: request signing, wire formats and the HTTP client.
//!
//! - [`sign`]: `SDK-HMAC-SHA256` signing, pure functions;
//! - [`wire`]: the JSON bodies of the API, parsed tolerantly, converted to [`crate::model`] types;
//! - [`client`]: the reqwest client that lists (paginated: the first page, then the others
//!   concurrently) and batch-deletes instances.
//!
//! Nothing here knows YAML or how plans are rendered.

pub mod client;
pub mod sign;
pub mod wire;

pub use client::{Client, ClientOptions, Credentials, DeleteOutcome};

/// Page size of the listing: the API's maximum.
pub const LIST_LIMIT: usize = 1000;

/// How many listing pages are read at once by default (`--concurrency`). Small enough to stay
/// well under the gateway's per-user throttling on a project of 10,000 instances (10 pages),
/// large enough that such a project lists in about two round trips.
pub const DEFAULT_CONCURRENCY: usize = 8;

/// The most ids one batch DELETE may carry (`DCS.4100` above it).
pub const DELETE_BATCH_MAX: usize = 50;
