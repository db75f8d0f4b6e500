//! Settings: the command line and the environment turned into what a run needs, before any
//! I/O. [`Config::from_cli`] decides the manifest each command reads (one policy for `-f`),
//! the transport and retry settings (`HW_MAX_RETRIES`), the guard overrides and the formats;
//! [`resolve`] turns the command line, a manifest's target fields and the credential chain
//! into an endpoint and a project id, each with where it came from.
//!
//! - [`env`]: the environment snapshot and the variable names;
//! - [`endpoint`]: the one region -> endpoint rule and the endpoint, region and project-id checks;
//! - [`credentials`]: the credential sources and their chain;
//! - [`ini`]: the credentials file's format;
//! - [`target`]: the resolution of endpoint, region and project id.

pub mod credentials;
pub mod endpoint;
pub mod env;
pub(crate) mod ini;
pub mod target;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub use crate::api::{Auth, ClientOptions};
pub use credentials::{Chain, Source, credential_chain, credentials_file};
pub use endpoint::{check_endpoint, check_project_id, check_region, region_endpoint};
pub use env::*;
pub use target::{ManifestTarget, ProjectId, Resolution, Sourced, Target, resolve, resolve_with};

use crate::cli::{self, Cli, Command};
use crate::error::{Error, Result};
use crate::plan::Overrides;

/// The manifest read when `-f` is not given.
pub const DEFAULT_MANIFEST: &str = "dcs.yaml";

/// Which manifests a command reads: the one policy for `-f`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManifestChoice {
    /// `-f FILE`, once or more; a file, a directory of manifests, or `-` (standard input).
    Given(Vec<PathBuf>),
    /// No `-f`: [`DEFAULT_MANIFEST`]. Commands that need a manifest read it (and fail when it
    /// is missing); `whoami` and `export` read it only when it exists.
    Default,
}

impl ManifestChoice {
    fn from_args(files: Vec<PathBuf>) -> ManifestChoice {
        if files.is_empty() {
            ManifestChoice::Default
        } else {
            ManifestChoice::Given(files)
        }
    }

    /// The files and directories to read, as given.
    pub fn paths(&self) -> Vec<&Path> {
        match self {
            ManifestChoice::Given(p) => p.iter().map(PathBuf::as_path).collect(),
            ManifestChoice::Default => vec![Path::new(DEFAULT_MANIFEST)],
        }
    }
}

/// How a run over several targets runs (`--parallel`, `--shard`, `--keep-going`,
/// `--max-delete-total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetOptions {
    /// How many targets are planned at once.
    pub parallel: usize,
    /// Only the targets of this shard.
    pub shard: Option<cli::Shard>,
    /// `apply`: apply the good targets when others cannot be, then exit 4.
    pub keep_going: bool,
    /// Refuse a run that would delete more than this many instances in all.
    pub max_delete_total: Option<usize>,
}

impl Default for FleetOptions {
    fn default() -> Self {
        FleetOptions {
            parallel: 8,
            shard: None,
            keep_going: false,
            max_delete_total: None,
        }
    }
}

impl FleetOptions {
    fn of(args: cli::FleetArgs) -> FleetOptions {
        FleetOptions {
            parallel: args.parallel,
            shard: args.shard,
            ..FleetOptions::default()
        }
    }
}

/// Output formats of `plan`.
pub use cli::Format;

/// `plan`'s settings.
#[derive(Debug, Clone)]
pub struct PlanConfig {
    /// The manifest.
    pub manifest: ManifestChoice,
    /// Output format.
    pub format: Format,
    /// Exit 2 when something would be deleted.
    pub detailed_exitcode: bool,
    /// Guard overrides.
    pub overrides: Overrides,
    /// Save the plan here.
    pub out: Option<PathBuf>,
}

/// What `apply` applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplySource {
    /// A fresh plan of this manifest.
    Manifest(ManifestChoice),
    /// A saved plan; with the manifests it must have been made from, when given.
    Saved {
        /// The plan file.
        plan: PathBuf,
        /// `-f FILE` (repeatable): must be the plan's manifests.
        manifests: Vec<PathBuf>,
    },
}

/// `apply`'s settings.
#[derive(Debug, Clone)]
pub struct ApplyConfig {
    /// What to apply.
    pub source: ApplySource,
    /// Delete without asking.
    pub auto_approve: bool,
    /// Guard overrides.
    pub overrides: Overrides,
    /// One JSON document instead of text.
    pub json: bool,
    /// `--wait`: how long, and how often to list.
    pub wait: Option<(Duration, Duration)>,
    /// `--max-plan-age`: older saved plans are refused.
    pub max_plan_age: Duration,
}

/// `export`'s settings.
#[derive(Debug, Clone)]
pub struct ExportConfig {
    /// Endpoint, project and scope from this manifest.
    pub manifest: ManifestChoice,
    /// `--region`: the target region (overrides the manifest's endpoint and region).
    pub region: Option<String>,
    /// `--scope-prefix`.
    pub scope_prefix: Option<String>,
    /// Write here instead of stdout.
    pub out: Option<PathBuf>,
    /// Overwrite `out`.
    pub force: bool,
}

/// The command with its settings.
#[derive(Debug)]
pub enum Cmd {
    /// `validate`.
    Validate(ManifestChoice),
    /// `plan`.
    Plan(PlanConfig),
    /// `apply`.
    Apply(ApplyConfig),
    /// `whoami`.
    Whoami(ManifestChoice),
    /// `diff`.
    Diff(ManifestChoice),
    /// `export`.
    Export(ExportConfig),
    /// `emulator`.
    Emulator(cli::EmulatorArgs),
    /// `demo`.
    Demo,
    /// `completions SHELL`.
    Completions(clap_complete::Shell),
    /// `man`.
    Man,
    /// `schema`.
    Schema,
}

/// Everything a run needs to know from the command line and the environment.
#[derive(Debug)]
pub struct Config {
    /// The command.
    pub command: Cmd,
    /// `--endpoint`.
    pub endpoint: Option<String>,
    /// `--project-id`.
    pub project_id: Option<String>,
    /// `--ces-endpoint` (plan, apply, diff): the Cloud Eye endpoint of the activity guard.
    pub ces_endpoint: Option<String>,
    /// Transport, concurrency and retries.
    pub client: ClientOptions,
    /// `-v` or more: list kept and out-of-scope instances.
    pub verbose: bool,
    /// `DCS_RECONCILE_PLAN_KEY`: signs saved plans (`plan --out`) and verifies them
    /// (`apply --plan`).
    pub plan_key: Option<secrecy::SecretString>,
    /// Several targets: `--parallel`, `--shard`, `--keep-going`, `--max-delete-total`.
    pub fleet: FleetOptions,
}

/// `DCS_RECONCILE_PLAN_KEY`: the key saved plans are signed and verified with (a CI secret).
pub const ENV_PLAN_KEY: &str = "DCS_RECONCILE_PLAN_KEY";

/// `HW_MAX_RETRIES`: the official SDKs' variable for the retry count.
pub const ENV_MAX_RETRIES: &str = "HW_MAX_RETRIES";

fn overrides(args: cli::GuardArgs) -> Overrides {
    // `max_delete_total` is the fleet's (`FleetOptions`), not a target's.
    Overrides {
        allow_empty: args.allow_empty,
        max_delete: args.max_delete,
    }
}

impl Config {
    /// The settings of `cli` in `env`. No I/O: files are read by the commands.
    pub fn from_cli(cli: Cli, env: &Env) -> Result<Config> {
        let mut client = ClientOptions::default();
        if let Some(t) = cli.connect_timeout {
            client.connect_timeout = t;
        }
        if let Some(t) = cli.timeout {
            client.request_timeout = t;
        }
        let from_env = match env.get(ENV_MAX_RETRIES) {
            Some(v) => Some(v.trim().parse::<u32>().map_err(|_| {
                Error::Usage(format!(
                    "{ENV_MAX_RETRIES} is `{v}`; expected a whole number of retries, e.g. 5"
                ))
            })?),
            None => None,
        };
        if let Some(n) = cli.max_retries.or(from_env) {
            client.retry.max_retries = n;
        }
        if let Some(p) = &cli.project_id
            && p.trim().is_empty()
        {
            return Err(Error::Usage(
                "--project-id is empty; give a project id or leave the flag out".to_owned(),
            ));
        }
        let mut ces_endpoint = None;
        let mut fleet = FleetOptions::default();
        let mut max_in_flight = crate::api::DEFAULT_MAX_IN_FLIGHT;
        let command = match cli.command {
            Command::Validate(a) => {
                fleet = FleetOptions::of(a.fleet);
                Cmd::Validate(ManifestChoice::from_args(a.file))
            }
            Command::Plan(a) => {
                client.concurrency = a.net.concurrency;
                max_in_flight = a.net.max_in_flight;
                fleet = FleetOptions {
                    max_delete_total: a.guards.max_delete_total,
                    ..FleetOptions::of(a.manifest.fleet)
                };
                ces_endpoint = a.ces.ces_endpoint;
                Cmd::Plan(PlanConfig {
                    manifest: ManifestChoice::from_args(a.manifest.file),
                    format: a.format,
                    detailed_exitcode: a.detailed_exitcode,
                    overrides: overrides(a.guards),
                    out: a.out,
                })
            }
            Command::Apply(a) => {
                client.concurrency = a.net.concurrency;
                max_in_flight = a.net.max_in_flight;
                fleet = FleetOptions {
                    keep_going: a.keep_going,
                    max_delete_total: a.guards.max_delete_total,
                    ..FleetOptions::of(a.fleet)
                };
                ces_endpoint = a.ces.ces_endpoint;
                let json = a.format == cli::ApplyFormat::Json;
                if json && !a.auto_approve && a.plan.is_none() {
                    return Err(Error::NotConfirmed(
                        "apply --format json cannot ask for a confirmation; nothing was deleted. \
                         Pass --auto-approve after reviewing the plan, or apply a saved plan \
                         with --plan FILE"
                            .to_owned(),
                    ));
                }
                Cmd::Apply(ApplyConfig {
                    source: match a.plan {
                        Some(plan) => ApplySource::Saved {
                            plan,
                            manifests: a.file,
                        },
                        None => ApplySource::Manifest(ManifestChoice::from_args(a.file)),
                    },
                    auto_approve: a.auto_approve,
                    overrides: overrides(a.guards),
                    json,
                    wait: a.wait.then_some((a.wait_timeout, a.wait_interval)),
                    max_plan_age: a.max_plan_age,
                })
            }
            Command::Whoami(a) => {
                fleet = FleetOptions::of(a.fleet);
                Cmd::Whoami(ManifestChoice::from_args(a.file))
            }
            Command::Diff(a) => {
                ces_endpoint = a.ces.ces_endpoint;
                fleet = FleetOptions::of(a.manifest.fleet);
                Cmd::Diff(ManifestChoice::from_args(a.manifest.file))
            }
            Command::Export(a) => Cmd::Export(ExportConfig {
                manifest: ManifestChoice::from_args(a.file.into_iter().collect()),
                region: a.region,
                scope_prefix: a.scope_prefix,
                out: a.out,
                force: a.force,
            }),
            Command::Emulator(a) => Cmd::Emulator(a),
            Command::Demo => Cmd::Demo,
            Command::Completions { shell } => Cmd::Completions(shell),
            Command::Man => Cmd::Man,
            Command::Schema => Cmd::Schema,
        };
        // One bound for the whole run, shared by the clients of every target.
        client.in_flight = Some(std::sync::Arc::new(tokio::sync::Semaphore::new(
            max_in_flight,
        )));
        let plan_key = env
            .get(ENV_PLAN_KEY)
            .map(|k| secrecy::SecretString::from(k.trim_end_matches(['\n', '\r']).to_owned()));
        if let Some(k) = &plan_key {
            // Never printed, even when a server echoes it back.
            client.redact.push(k.clone());
        }
        Ok(Config {
            command,
            endpoint: cli.endpoint,
            project_id: cli.project_id,
            ces_endpoint,
            client,
            verbose: cli.verbose > 0,
            plan_key,
            fleet,
        })
    }
}
