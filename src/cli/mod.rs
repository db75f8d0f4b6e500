//! The command line, as clap-derive types. Parsing only: nothing here reads files, the
//! environment or the network.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

mod values;
pub use values::{ApplyFormat, ColorChoice, CredentialsSource, Format, LogFormat, Shard};
use values::{parse_duration, parse_shard};

/// Keep the Redis instances of a Huawei Cloud DCS project in line with a YAML manifest.
///
/// The manifest (dcs.yaml) lists the instances that should exist. `plan` shows which live
/// instances are not declared and would be deleted; `apply` deletes exactly those, after
/// confirmation. The tool never creates or changes an instance.
#[derive(Debug, Parser)]
#[command(
    name = "dcs-reconcile",
    version,
    after_help = "Examples:\n  \
        dcs-reconcile demo                     # try it all against the built-in emulator\n  \
        dcs-reconcile validate -f dcs.yaml     # check the manifest, no network\n  \
        dcs-reconcile whoami -f dcs.yaml       # which credentials, project and endpoint\n  \
        dcs-reconcile plan -f dcs.yaml         # what would be deleted\n  \
        dcs-reconcile apply -f dcs.yaml        # delete it, after typing `yes`\n\n\
        Credentials come from, in this order: HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK, \
        HW_ACCESS_KEY/HW_SECRET_KEY, ~/.huaweicloud/credentials, HW_AUTH_TOKEN; or, with \
        --credentials-source metadata, only the ECS metadata service \
        (see docs/authentication.md; `dcs-reconcile whoami` shows what is used).\n\
        Exit codes: 0 ok, 1 error (nothing deleted), 2 plan --detailed-exitcode with deletions \
        pending, 3 refused by a safety guard, 4 some deletions failed."
)]
pub struct Cli {
    /// API endpoint, e.g. https://dcs.cn-north-4.myhuaweicloud.com; overrides the manifest.
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint: Option<String>,

    /// Project id; overrides the manifest. For `emulator`: serve only this project id.
    #[arg(long, global = true, value_name = "ID")]
    pub project_id: Option<String>,

    /// More log output on stderr (-v: info, -vv: debug, -vvv: trace). Never shows secrets.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// How long to wait for a connection (TCP and TLS), e.g. 10s [default: 10s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub connect_timeout: Option<Duration>,

    /// How long one request may take in all, e.g. 60s or 2m [default: 60s].
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Log format on stderr: `text` for people, `json` (one object per event) for collectors.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Retries of a failed request (throttling, 5xx, timeouts); default 5, or HW_MAX_RETRIES.
    #[arg(long, global = true, value_name = "N", allow_negative_numbers = true)]
    pub max_retries: Option<u32>,

    /// Where credentials come from: `auto` (the chain above) or `metadata` (only the ECS
    /// metadata service's temporary credentials); default DCS_RECONCILE_CREDENTIALS_SOURCE or
    /// `auto`.
    #[arg(long, global = true, value_enum, value_name = "SOURCE")]
    pub credentials_source: Option<CredentialsSource>,

    /// Colour: `auto` colours terminals unless NO_COLOR is set.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show which live instances are not in the manifest and would be deleted.
    #[command(after_help = "Examples:\n  \
        dcs-reconcile plan -f dcs.yaml\n  \
        dcs-reconcile plan --format json > plan.json\n  \
        dcs-reconcile plan --detailed-exitcode   # exit 2 when something would be deleted\n  \
        dcs-reconcile plan --out plan.json       # save it for `apply --plan plan.json`\n  \
        dcs-reconcile plan -f envs/ -f ci.yaml   # several targets: a section each, one summary")]
    Plan(PlanArgs),

    /// Delete the live instances that are not in the manifest, after confirmation.
    #[command(after_help = "Examples:\n  \
        dcs-reconcile apply -f dcs.yaml                  # prints the plan, asks for `yes`\n  \
        dcs-reconcile apply -f dcs.yaml --auto-approve   # in CI, after a reviewed plan\n  \
        dcs-reconcile apply --plan plan.json             # exactly the saved plan, no prompt\n  \
        dcs-reconcile apply -f envs/ --max-delete-total 20   # every target, all or nothing\n\n\
        Without a terminal, apply refuses unless --auto-approve is given.")]
    Apply(ApplyArgs),

    /// Check the manifest without any network call.
    #[command(after_help = "Example:\n  dcs-reconcile validate -f dcs.yaml")]
    Validate(ManifestArg),

    /// Show which credentials, project, region and endpoint would be used; nothing secret.
    #[command(after_help = "Examples:\n  \
        dcs-reconcile whoami -f dcs.yaml\n  \
        HW_REGION_NAME=cn-north-4 dcs-reconcile whoami   # without a manifest\n\n\
        Contacts nothing, except IAM when the project id must be looked up by region.")]
    Whoami(WhoamiArgs),

    /// Run the built-in DCS emulator on a loopback address until interrupted.
    #[command(after_help = "Examples:\n  \
        dcs-reconcile emulator --listen 127.0.0.1:8080 --generate 50\n  \
        dcs-reconcile emulator --state instances.json --ak AK --sk SK\n\n\
        Then point a manifest's `endpoint:` (or --endpoint) at the printed URL.")]
    Emulator(EmulatorArgs),

    /// A self-contained walkthrough: emulator, sample manifest, plan, apply, plan again.
    #[command(after_help = "Example:\n  dcs-reconcile demo")]
    Demo,

    /// Unified diff between the declared instances and the live managed ones.
    ///
    /// One instance per line (`name  id`), sorted: `-` for live instances that would be
    /// deleted, `+` for declared entries with no live instance. Exit 0 without differences,
    /// 2 with differences.
    #[command(after_help = "Example:\n  dcs-reconcile diff -f dcs.yaml")]
    Diff(DiffArgs),

    /// Write a manifest declaring every live managed instance, to adopt the tool on an
    /// existing project.
    #[command(after_help = "Examples:\n  \
        dcs-reconcile export --region cn-north-4 --project-id ID -o dcs.yaml\n  \
        dcs-reconcile export -f dcs.yaml -o adopted.yaml   # target and scope from a manifest\n  \
        dcs-reconcile export --endpoint URL --project-id ID --scope-prefix ci-\n\n\
        `plan` on the exported file shows no deletions.")]
    Export(ExportArgs),

    /// Print a shell completion script on stdout.
    #[command(after_help = "Examples:\n  \
        dcs-reconcile completions bash > /etc/bash_completion.d/dcs-reconcile\n  \
        dcs-reconcile completions zsh > \"${fpath[1]}/_dcs-reconcile\"")]
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },

    /// Print the manual page (roff) on stdout.
    #[command(
        after_help = "Example:\n  dcs-reconcile man > dcs-reconcile.1 && man ./dcs-reconcile.1"
    )]
    Man,

    /// Print the JSON Schema (draft 2020-12) of the manifest on stdout, for editors.
    #[command(after_help = "Example:\n  \
        dcs-reconcile schema > dcs.schema.json\n\n\
        Then start dcs.yaml with `# yaml-language-server: $schema=dcs.schema.json`.")]
    Schema,
}

/// Arguments of `export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Take endpoint, project and scope from this manifest.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// Region, for the default endpoint (when no manifest or --endpoint gives one).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,

    /// Export only instances whose name starts with this (also written as `scope.name_prefix`).
    #[arg(long, value_name = "PREFIX")]
    pub scope_prefix: Option<String>,

    /// Write here instead of stdout.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Overwrite the output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// `-f FILE`, repeatable, with the fleet settings.
#[derive(Debug, Args, Clone)]
pub struct ManifestArg {
    /// The manifest, or a directory of manifests (its *.yaml and *.yml files); repeat for
    /// several targets; `-` reads one from standard input [default: dcs.yaml].
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Vec<PathBuf>,

    #[command(flatten)]
    pub fleet: FleetArgs,
}

/// How a run over several targets (manifests, regions) is run.
#[derive(Debug, Args, Clone, Copy)]
pub struct FleetArgs {
    /// Plan up to N targets at once (1 to 256); all requests together stay under
    /// --max-in-flight.
    #[arg(
        long,
        value_name = "N",
        default_value_t = 8,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=256)
    )]
    pub parallel: usize,

    /// Run only the targets of shard I of N (0-based), by a stable hash of each target's
    /// manifest path, region and project id (docs/ci.md).
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    pub shard: Option<Shard>,
}

/// Arguments of `diff`.
#[derive(Debug, Args, Clone)]
pub struct DiffArgs {
    #[command(flatten)]
    pub manifest: ManifestArg,

    #[command(flatten)]
    pub ces: CesArg,
}

/// `--ces-endpoint URL`, shared by `plan`, `apply` and `diff`.
#[derive(Debug, Args, Clone, Default)]
pub struct CesArg {
    /// Cloud Eye endpoint for the activity guard (`guards.idle_for`), overriding the
    /// manifest's `ces_endpoint:` and the region's default (https://ces.REGION.myhuaweicloud.com).
    #[arg(long, value_name = "URL")]
    pub ces_endpoint: Option<String>,
}

/// Arguments of `whoami`.
#[derive(Debug, Args, Clone)]
pub struct WhoamiArgs {
    /// The manifest, or a directory of manifests; repeatable [default: dcs.yaml, if it
    /// exists].
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Vec<PathBuf>,

    #[command(flatten)]
    pub fleet: FleetArgs,
}

/// Arguments of `plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub manifest: ManifestArg,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Exit 2 when instances would be deleted, 0 when none would.
    #[arg(long)]
    pub detailed_exitcode: bool,

    #[command(flatten)]
    pub guards: GuardArgs,

    /// Also save the plan to FILE (JSON, with the manifest) for `apply --plan FILE`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    #[command(flatten)]
    pub net: NetArgs,

    #[command(flatten)]
    pub ces: CesArg,
}

/// Network settings shared by `plan` and `apply`.
#[derive(Debug, Args, Clone, Copy)]
pub struct NetArgs {
    /// Read up to N pages of the listing at once (1 to 64). The first page is always read
    /// alone: it says how many pages there are.
    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::api::DEFAULT_CONCURRENCY,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=64)
    )]
    pub concurrency: usize,

    /// At most N requests in flight at once over the whole run, all targets together
    /// (1 to 1024).
    #[arg(
        long,
        value_name = "N",
        default_value_t = crate::api::DEFAULT_MAX_IN_FLIGHT,
        value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..=1024)
    )]
    pub max_in_flight: usize,
}

/// Guard overrides shared by `plan` and `apply`.
#[derive(Debug, Args, Clone, Copy)]
pub struct GuardArgs {
    /// Accept an empty `instances:` list that would delete every managed instance.
    #[arg(long)]
    pub allow_empty: bool,

    /// Allow up to N deletions in this run, replacing the manifest's `guards.max_delete`.
    #[arg(long, value_name = "N")]
    pub max_delete: Option<usize>,

    /// Refuse a run over several targets that would delete more than N instances in all.
    #[arg(long, value_name = "N")]
    pub max_delete_total: Option<usize>,
}

/// Arguments of `apply`.
#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// The manifest, or a directory of manifests; repeat for several targets [default:
    /// dcs.yaml]. With --plan: the files must be the ones the plan was made from (same
    /// SHA-256), or apply refuses.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Vec<PathBuf>,

    #[command(flatten)]
    pub fleet: FleetArgs,

    /// With several targets: apply the targets that could be planned even when others could
    /// not (or were refused), then exit 4 naming the ones skipped.
    #[arg(long)]
    pub keep_going: bool,

    /// Apply exactly this saved plan (from `plan --out FILE`), without a prompt: the saved plan
    /// was the review. Refuses (exit 3) when the live instances no longer match it.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,

    /// Delete without asking for confirmation.
    #[arg(long)]
    pub auto_approve: bool,

    #[command(flatten)]
    pub guards: GuardArgs,

    #[command(flatten)]
    pub net: NetArgs,

    #[command(flatten)]
    pub ces: CesArg,

    /// Output format: `json` prints one document with the plan and each instance's outcome
    /// (needs --auto-approve or --plan).
    #[arg(long, value_enum, default_value_t = ApplyFormat::Text)]
    pub format: ApplyFormat,

    /// After deleting, wait until the deleted instances have left the listing.
    #[arg(long)]
    pub wait: bool,

    /// How long --wait waits, e.g. `15m`, `90s`.
    #[arg(long, value_name = "DURATION", default_value = "15m", value_parser = parse_duration, requires = "wait")]
    pub wait_timeout: std::time::Duration,

    /// Refuse a saved plan (--plan) made longer ago than this, e.g. `2h`, `7d`.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub max_plan_age: std::time::Duration,

    /// How often --wait lists the instances.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration, hide = true)]
    pub wait_interval: std::time::Duration,
}

/// Arguments of `emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Loopback address and port to listen on (port 0 picks a free one).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// Load instances from this JSON file (the API's list format) and save changes to it.
    #[arg(long, value_name = "FILE", conflicts_with = "generate")]
    pub state: Option<PathBuf>,

    /// Start with N generated RUNNING instances (gen-000000, gen-000001, …).
    #[arg(long, value_name = "N")]
    pub generate: Option<usize>,

    /// Require requests signed with this access key (with --sk).
    #[arg(long, value_name = "AK", requires = "sk")]
    pub ak: Option<String>,

    /// Secret key that signatures are checked with (with --ak).
    #[arg(long, value_name = "SK", requires = "ak")]
    pub sk: Option<String>,

    /// Also accept requests that carry `X-Auth-Token: TOKEN` instead of a signature.
    #[arg(long, value_name = "TOKEN")]
    pub auth_token: Option<String>,

    /// Fault injection: answer `failed` when asked to delete this id (repeatable).
    #[arg(long, value_name = "ID")]
    pub fail_delete: Vec<String>,

    /// Fault injection: the first N batch-delete requests answer HTTP 500 and delete nothing.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub fail_delete_requests: usize,

    /// Simulated response time: every answer leaves MS milliseconds after its request arrived,
    /// building it included (requests still overlap, as they would over a real network).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub latency_ms: u64,
    /// Deleted instances stay listed as DELETING for N listings before they disappear.
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub delete_linger: usize,

    /// Cloud Eye activity of an instance (repeatable): `NAME_OR_ID=OPS,CONNECTIONS` shows
    /// OPS commands per second and CONNECTIONS new connections per period over the whole
    /// window; `NAME_OR_ID=no-data` shows no datapoints at all. Others are idle.
    #[arg(long, value_name = "NAME_OR_ID=OPS,CONNECTIONS")]
    pub activity: Vec<String>,

    /// With --generate: every Nth generated instance (gen-000000, then gen-N, …) is active in
    /// Cloud Eye (1 op/s, 1 new connection per period); the others are idle.
    #[arg(long, value_name = "N", requires = "generate",
          value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
    pub active_every: Option<usize>,

    /// Fault injection (repeatable, consumed in order by the requests they apply to):
    /// `<list|delete|tag|ces|meta|any>:<500|502|503|504|400|401|403|429|502-html|close|lose-answer|insert|garbage>[xN]`,
    /// e.g. `list:503x2`, `delete:lose-answer`. See docs/emulator.md.
    #[arg(long, value_name = "SPEC")]
    pub fault: Vec<String>,

    /// Answer a delete carrying `is_recycle` with 400 naming the parameter, as a region
    /// without the recycle bin might.
    #[arg(long, conflicts_with = "ignore_recycle")]
    pub reject_recycle: bool,
    /// Accept `is_recycle` but ignore it and destroy the instances, as a region that does not
    /// know the parameter might do silently.
    #[arg(long)]
    pub ignore_recycle: bool,
}
