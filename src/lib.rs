//! # dcs-reconcile
//!
//! Keeps the Redis instances of a Huawei Cloud DCS project in line with a YAML manifest:
//! `plan` lists the live instances and shows which undeclared ones would be deleted; `apply`
//! deletes exactly those with the batch API. It never creates or changes an instance.
//!
//! ## Layout
//!
//! Data flows one way, each step in its own module:
//!
//! ```text
//! cli (arguments) -> config (endpoint, project, credentials)
//!     -> manifest (YAML -> entries)  +  api::client (signed, paginated listing -> instances)
//!     -> plan (pure: delete / keep / protected / skip / out of scope / missing)
//!     -> render (text, JSON) -> run (confirm) -> apply (batch DELETE, <= 50 ids) -> render
//! ```
//!
//! - [`cli`]: clap-derive argument types; parsing only.
//! - [`config`]: arguments + manifest + environment -> endpoint, project id, credentials
//!   (the credential chain), each with where it came from. No network.
//! - [`identity`]: the resolved identity and target, after the IAM project-id lookup when
//!   one is needed; what `-v` logs and `whoami` prints.
//! - [`manifest`]: the only module that knows YAML; reads and validates `dcs.yaml`.
//! - [`model`]: plain domain values (live [`model::Instance`], manifest [`model::Entry`],
//!   the manifest's scope, protect rules and guards).
//! - [`api`]: [`api::sign`] (SDK-HMAC-SHA256, pure), [`api::wire`] (tolerant JSON bodies),
//!   [`api::client`] (reqwest; listing and batch deletion), [`api::iam`] (project-id lookup).
//!   Knows no YAML.
//! - [`plan`]: the pure planner. No I/O, no YAML, no HTTP.
//! - [`saved`]: saved plans (`plan --out`, `apply --plan`): the document and the staleness
//!   check against a fresh plan. Pure.
//! - [`render`]: plan and report as text or JSON, to any writer. Knows no HTTP.
//! - [`apply`]: deletes exactly the plan's instances in batches and reports each outcome.
//! - [`run`]: orchestrates one command; the only module that uses all the others.
//! - [`emulator`]: the built-in DCS API emulator (loopback HTTP), used by `demo` and the tests.
//! - [`demo`]: the self-contained walkthrough.
//! - [`error`]: the one error type and the documented exit codes.

pub mod api;
pub mod apply;
pub mod cli;
pub mod config;
pub mod demo;
pub mod emulator;
pub mod error;
pub mod identity;
pub mod manifest;
pub mod model;
pub mod plan;
pub mod render;
pub mod run;
pub mod saved;

pub use error::{Error, Result};
pub use run::run;
