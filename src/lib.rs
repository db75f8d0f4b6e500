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
//! cli (arguments) -> config (settings, no I/O) -> commands::<name>
//!     fleet (the targets: manifests, regions, shard; planned concurrently, one per session)
//!     manifest (YAML -> entries, rules)  +  session (identity, api::Client: signed listing)
//!     -> plan (pure: delete / keep / protected / skip / out of scope / missing)
//!     -> activity (pure: the Cloud Eye figures of the deletions; active or unknown -> skip)
//!     -> recycle (pure: where each deletion goes) -> grace (pure: mark / pending / unmark)
//!     -> render (text, JSON, Markdown) -> confirm -> session::recheck
//!     -> apply (batch DELETE, <= 50 ids; tag calls for marks) -> apply::Applied (a value)
//!     -> render::report
//! ```
//!
//! | module | owns | open it to add |
//! |---|---|---|
//! | `cli` | the clap-derive argument types; parsing only | a flag |
//! | [`config`] | arguments + environment -> [`config::Config`] (no I/O): the `-f` policy, transport and retries, guard overrides, formats; endpoints and the region rule (`config::endpoint`), the credential chain (`config::credentials`), the credentials file (`config::ini`), target resolution (`config::target`) | a credential source |
//! | `identity` | the resolved identity after the IAM project-id lookup | |
//! | `fleet` | the targets of a run (`-f` repeated, directories, `regions:`), `--shard`, and planning them concurrently under one bound with one credential chain and IAM cache | |
//! | `session` | one target's client; a fresh plan or a saved plan re-checked: a `Planned` | |
//! | `commands` | one file per command (validate, plan, apply, wait, diff, export, whoami, emulator, schema), stringing the steps together; no prose | a command |
//! | [`manifest`] | the only module that knows YAML: reading, validating, exporting `dcs.yaml`; its JSON Schema (`manifest::schema`) | a manifest key |
//! | [`model`] | plain values: live [`model::Instance`], [`model::Entry`], scope, protect rules, guards | |
//! | `plan` | the pure planner; skip reasons and their codes; the guards' refusals | a skip reason |
//! | `activity` | the activity guard (`guards.idle_for`): Cloud Eye's figures in, in-use and unknown deletions out to `skip`; pure | |
//! | `recycle` | which deletions may go to the recycle bin (`deletion.recycle_bin`); pure | |
//! | `grace` | two-phase deletion (`deletion.grace`): mark, pending, unmark; pure | |
//! | `saved` | the saved-plan document and its staleness check; pure | |
//! | `apply` | deleting exactly a plan's instances in batches; the outcome per id | |
//! | `render` | every printer: text, the typed JSON documents, Markdown, diff, the apply reporters, notes | an output format |
//! | [`api`] | signing (`api::sign`), wire bodies (`api::wire`), retries (`api::retry`), the client, IAM; knows no YAML | a retry rule |
//! | [`emulator`] | the built-in DCS API emulator (loopback HTTP) with fault injection | |
//! | `demo` | the self-contained walkthrough | |
//! | `signals` | SIGINT/SIGTERM during apply: stop sending, report, exit 4 or 130/143 | |
//! | [`util`] | neutral helpers: digests, HMAC, time, the duration formatter, invisible characters, NFC | |
//! | [`error`] | the one error type and the documented exit codes | an exit code |

mod activity;
pub mod api;
mod apply;
pub mod cli;
mod commands;
pub mod config;
mod demo;
pub mod emulator;
pub mod error;
mod fleet;
mod grace;
mod identity;
pub mod manifest;
pub mod model;
mod plan;
mod recycle;
mod render;
mod saved;
mod session;
mod signals;
pub mod util;

use std::io::Write;

/// The answer to "delete these instances?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confirmation {
    /// The user typed `yes`.
    Yes,
    /// The user typed anything else.
    No,
    /// There is no terminal to ask on.
    NoTerminal,
}

/// Where a run writes its results and how it asks for confirmation.
pub struct Io<'a> {
    /// Results (plans, reports) go here; logs and errors go to stderr.
    pub out: &'a mut dyn Write,
    /// Asks the question and returns the answer.
    pub confirm: &'a mut dyn FnMut(&str) -> Confirmation,
    /// Colour the results (ANSI).
    pub color: bool,
    /// Progress bars may be drawn on stderr (it is a terminal).
    pub progress: bool,
}

pub use error::{Error, Result};

/// The async runtime `run` is driven by, the same for the binary and the benchmark: the
/// calling thread polls the command, one worker thread runs the connections' tasks and the
/// signal listener of `apply` (which must run while the main thread waits at the prompt),
/// and listing pages are parsed on the blocking pool.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
}

/// Runs one command line: settings from `cli` and `env`, then the command. Returns the exit
/// code of a run that did not fail.
pub async fn run(cli: cli::Cli, env: &config::Env, io: &mut Io<'_>) -> Result<u8> {
    // `--credentials-source` wins over DCS_RECONCILE_CREDENTIALS_SOURCE.
    let env = &match cli.credentials_source {
        Some(s) => env.with(config::ENV_CREDENTIALS_SOURCE, s.as_str()),
        None => env.clone(),
    };
    let cfg = config::Config::from_cli(cli, env)?;
    commands::dispatch(cfg, env, io).await
}
