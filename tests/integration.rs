//! Integration tests: the real `dcs-reconcile` binary against the built-in emulator over real
//! HTTP on 127.0.0.1. One test binary (`autotests = false`); each module covers one area.

// Test code: a failed expectation is a panic with a message (clippy.toml allows `expect` in
// `#[test]` functions; helpers in this crate are test code too).
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod support;

/// `plan`: text and JSON output, exit codes, pagination, conflicts, missing entries.
mod plan;

/// `apply`: batch deletion, confirmation, partial failure.
mod apply;

/// Request counts of the listing and of apply, and concurrent paging.
mod paging;

/// Bad manifests: one clear line, exit 1, no request sent.
mod manifest;

/// Credentials, signatures, endpoints and secrets.
mod auth;

/// The credential chain, token authentication, the IAM project lookup, `whoami`, redaction.
mod credentials;

/// `validate`, `emulator`, `demo`, `--help`, usage errors.
mod commands;

/// Safety rails: scope, protect rules, skip reasons, guards.
mod rails;

/// Saved plans: `plan --out`, `apply --plan`, and every way a saved plan goes stale.
mod saved;

/// GitOps: Markdown plans, diff, export, apply --wait, logs, colour, completions, man.
mod gitops;

/// The examples: manifests validate, CI recipes use real flags.
mod examples;

/// `export` with odd instance names: a property test of export then parse.
mod export_names;

/// Hostile manifests: alias bombs, deep nesting, garbage; fast, clear, never a panic.
mod hostile;

/// Faults injected by the emulator: lost answers, throttling, gateways, torn listings.
mod faults;
mod fleet;

/// A purpose-built HTTP server for answers the emulator should never give.
mod server;

/// The API client against hostile servers: endless listings, echoed secrets, proxies.
mod api_hostile;

/// The emulator's routes: 404s, recycle bin, tags, Cloud Eye, metadata credentials.
mod emulator;

/// What an adversarial review broke: invisible differences, forged output, stale
/// confirmations, signals, exit codes after deletions, forged saved plans, unbounded input.
mod hardening;

/// The activity guard: Cloud Eye figures, in-use and unknown skips, fail closed, staleness.
mod activity;

/// The layer rules of docs/design.md, checked on the sources.
mod layers;
/// Deletion you can take back: the recycle bin and the grace period (issue 13).
mod recycle;

/// `schema`: the manifest's JSON Schema matches the parser and the examples.
mod schema;

/// The seeded randomized fault campaign: random inventories, manifests, faults and signals,
/// each run checked against the deletion invariants (`DCS_RECONCILE_CAMPAIGN_SEED`,
/// `DCS_RECONCILE_CAMPAIGN_CASES`; see docs/testing.md).
mod campaign;

/// Temporary credentials from the ECS metadata service: opt-in, the session token, the
/// refresh before expiry, errors and redaction (issue 15).
mod metadata;
