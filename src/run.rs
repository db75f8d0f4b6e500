//! The orchestration: arguments -> config -> manifest + live inventory -> plan -> render ->
//! confirm -> apply -> report. The only module that touches all the others.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::api::{Client, ClientOptions};
use crate::apply;
use crate::cli::{
    ApplyArgs, ApplyFormat, Cli, Command, DEFAULT_MANIFEST, EmulatorArgs, ExportArgs, Format,
    GuardArgs, ManifestArg, NetArgs, PlanArgs, WhoamiArgs,
};
use crate::config::{self, Env, Target};
use crate::emulator::{self, EmulatorConfig};
use crate::error::{EXIT_CHANGES, EXIT_OK, Error, Result};
use crate::identity;
use crate::manifest::{self, Manifest};
use crate::model::Instance;
use crate::plan::{self, Decision, Overrides, Plan};
use crate::render::{self, PlanContext};
use crate::saved;

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

fn write_err(e: std::io::Error) -> Error {
    Error::io("<stdout>", e)
}

/// Runs one command; returns the exit code of a run that did not fail.
pub async fn run(cli: Cli, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    match cli.command {
        Command::Validate(ref args) => validate(&cli, args, io),
        Command::Plan(ref args) => plan_command(&cli, args, env, io).await,
        Command::Apply(ref args) => apply_command(&cli, args, env, io).await,
        Command::Whoami(ref args) => whoami(&cli, args, env, io).await,
        Command::Emulator(ref args) => run_emulator(args, cli.project_id.as_deref(), io).await,
        // Boxed: the demo runs the other commands through this function.
        Command::Demo => Box::pin(crate::demo::run(io.out)).await,
        Command::Diff(ref args) => diff_command(&cli, args, env, io).await,
        Command::Export(ref args) => export_command(&cli, args, env, io).await,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "dcs-reconcile", io.out);
            Ok(EXIT_OK)
        }
        Command::Man => {
            let command = <Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command)
                .render(io.out)
                .map_err(write_err)?;
            Ok(EXIT_OK)
        }
    }
}

fn validate(cli: &Cli, args: &ManifestArg, io: &mut Io<'_>) -> Result<u8> {
    let manifest = manifest::load(&args.file)?;
    if let Some(e) = cli.endpoint.as_deref() {
        config::check_endpoint(e, "--endpoint")?;
    }
    if let Some(e) = &manifest.endpoint {
        config::check_endpoint(e, &format!("{}: endpoint", args.file.display()))?;
    }
    writeln!(
        io.out,
        "{} is valid: {} declared.",
        args.file.display(),
        match manifest.instances.len() {
            1 => "1 instance".to_owned(),
            n => format!("{n} instances"),
        }
    )
    .map_err(write_err)?;
    Ok(EXIT_OK)
}

/// Everything `plan` and `apply` share: the manifest, the client, the live list and the plan.
struct Planned {
    client: Client,
    manifest: Manifest,
    plan: Plan,
    context: PlanContext,
    overrides: Overrides,
}

fn overrides(args: GuardArgs) -> Overrides {
    Overrides {
        allow_empty: args.allow_empty,
        max_delete: args.max_delete,
    }
}

/// `2026-11-29T02:08:52Z`: RFC 3339 in UTC, to the second.
fn now_rfc3339(now: OffsetDateTime) -> String {
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&Rfc3339).unwrap_or_else(|_| now.to_string())
}

/// Transport settings from the command line and the environment (`HW_MAX_RETRIES`).
fn client_options(cli: &Cli, env: &Env) -> Result<ClientOptions> {
    let mut options = ClientOptions::default();
    if let Some(t) = cli.connect_timeout {
        options.connect_timeout = t;
    }
    if let Some(t) = cli.timeout {
        options.request_timeout = t;
    }
    let from_env = match env.get("HW_MAX_RETRIES") {
        Some(v) => Some(v.trim().parse::<u32>().map_err(|_| {
            Error::Usage(format!(
                "HW_MAX_RETRIES is `{v}`; expected a whole number of retries, e.g. 5"
            ))
        })?),
        None => None,
    };
    if let Some(n) = cli.max_retries.or(from_env) {
        options.retry.max_retries = n;
    }
    Ok(options)
}

/// A client for `target`, with credentials from the credential chain.
fn connect(target: &Target, env: &Env, options: &ClientOptions) -> Result<Client> {
    let chain = config::credential_chain(env)?;
    identity::log_credentials(&chain);
    tracing::info!(endpoint = %target.endpoint, project_id = %target.project_id, "target");
    Client::new(
        target.endpoint.clone(),
        target.project_id.clone(),
        chain.auth,
        options,
    )
}

/// `whoami`: which credentials, project, region and endpoint a run would use.
async fn whoami(cli: &Cli, args: &WhoamiArgs, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    let default = Path::new(DEFAULT_MANIFEST);
    let manifest = match &args.file {
        Some(file) => manifest::load(file)?,
        None if default.exists() => manifest::load(default)?,
        None => Manifest::empty(default),
    };
    let id = identity::identify(
        cli.endpoint.as_deref(),
        cli.project_id.as_deref(),
        &manifest,
        env,
        &client_options(cli, env)?,
    )
    .await?;
    id.log();
    id.describe(io.out).map_err(write_err)?;
    Ok(EXIT_OK)
}

/// Plans `live` against `manifest`; an id/name conflict becomes an error naming the file.
/// The instances move into the plan (one copy of a large listing, not two).
fn plan_against(manifest: &Manifest, live: Vec<Instance>, now: OffsetDateTime) -> Result<Plan> {
    plan::plan_owned(&manifest.instances, &manifest.rules, live, now).map_err(|conflicts| {
        let file = manifest.path.display().to_string();
        let mut lines: Vec<String> = conflicts
            .into_iter()
            .map(|c| format!("{file}: {c}"))
            .collect();
        lines.push(
            "the manifest and the live instances disagree; nothing was planned or deleted. \
             Fix the entry (or drop its `id` or `name`) and run plan again."
                .to_owned(),
        );
        Error::Conflict { conflicts: lines }
    })
}

/// Resolves who and where (credentials, project, endpoint; IAM when the project id must be
/// looked up) for `manifest` and the command line, and opens a client there.
async fn open(
    cli: &Cli,
    manifest: &Manifest,
    env: &Env,
    net: Option<NetArgs>,
) -> Result<(Target, Client)> {
    let mut options = client_options(cli, env)?;
    if let Some(net) = net {
        options.concurrency = net.concurrency;
    }
    let id = identity::identify(
        cli.endpoint.as_deref(),
        cli.project_id.as_deref(),
        manifest,
        env,
        &options,
    )
    .await?;
    id.log();
    let client = id.client(&options)?;
    Ok((id.target(), client))
}

async fn make_plan(
    cli: &Cli,
    file: &Path,
    guards: GuardArgs,
    net: Option<NetArgs>,
    env: &Env,
) -> Result<Planned> {
    let manifest = manifest::load(file)?;
    let (target, client) = open(cli, &manifest, env, net).await?;
    let live = client.list_instances().await?;
    tracing::info!(count = live.len(), "listed live instances");
    let now = OffsetDateTime::now_utc();
    let plan = plan_against(&manifest, live, now)?;
    let overrides = overrides(guards);
    let context = PlanContext {
        manifest: manifest.path.display().to_string(),
        manifest_sha256: manifest.sha256.clone(),
        endpoint: target.endpoint.to_string(),
        project_id: target.project_id.clone(),
        refusals: plan.refusals(&manifest.rules.guards, overrides),
        verbose: cli.verbose > 0,
        created_at: now_rfc3339(now),
        color: false,
    };
    Ok(Planned {
        client,
        manifest,
        plan,
        context,
        overrides,
    })
}

/// The text plan through a buffer: a plan can list 100,000 instances, and stdout is
/// line-buffered (one write per line otherwise).
fn plan_text_buffered(out: &mut dyn Write, plan: &Plan, context: &PlanContext) -> Result<()> {
    let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, out);
    render::plan_text(&mut buffered, plan, context)
        .and_then(|()| buffered.flush())
        .map_err(write_err)
}

fn to_json(doc: &serde_json::Value) -> Result<String> {
    serde_json::to_string_pretty(doc)
        .map_err(|e| Error::Usage(format!("cannot encode the plan: {e}")))
}

/// Writes `text` to `path` atomically: a temporary file next to it, then a rename.
fn write_file(path: &Path, text: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(path, e))?;
    tmp.write_all(text.as_bytes())
        .map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

async fn plan_command(cli: &Cli, args: &PlanArgs, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    let mut p = make_plan(cli, &args.manifest.file, args.guards, Some(args.net), env).await?;
    p.context.color = io.color;
    match args.format {
        Format::Text => plan_text_buffered(io.out, &p.plan, &p.context)?,
        Format::Json => {
            // Streamed: a large plan is never built as one JSON value.
            let mut buffered = std::io::BufWriter::with_capacity(64 * 1024, &mut *io.out);
            render::write_plan_json(&mut buffered, &p.plan, &p.context)
                .and_then(|()| writeln!(buffered))
                .and_then(|()| buffered.flush())
                .map_err(write_err)?;
        }
        Format::Markdown => {
            write!(io.out, "{}", render::plan_markdown(&p.plan, &p.context)).map_err(write_err)?;
        }
    }
    if let Some(out) = &args.out {
        let doc = saved::document(&p.plan, &p.context, &p.manifest.text, p.overrides);
        write_file(out, &format!("{}\n", to_json(&doc)?))?;
        let note = format!(
            "Saved this plan to {0}. Apply exactly it with: dcs-reconcile apply --plan {0}",
            out.display()
        );
        match args.format {
            Format::Text => writeln!(io.out, "\n{note}").map_err(write_err)?,
            Format::Json | Format::Markdown => tracing::info!("{note}"),
        }
    }
    Ok(if args.detailed_exitcode && !p.plan.is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

/// What `apply --format json` reports: the plan applied and each outcome.
#[derive(Default)]
struct ApplyRecord {
    plan: Option<serde_json::Value>,
    report: Option<apply::Report>,
    new_surplus: Vec<Decision>,
}

async fn apply_command(cli: &Cli, args: &ApplyArgs, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    if args.format == ApplyFormat::Text {
        return apply_flow(cli, args, env, io, &mut ApplyRecord::default()).await;
    }
    if !args.auto_approve && args.plan.is_none() {
        return Err(Error::NotConfirmed(
            "apply --format json cannot ask for a confirmation; nothing was deleted. Pass \
             --auto-approve after reviewing the plan, or apply a saved plan with --plan FILE"
                .to_owned(),
        ));
    }
    let mut sink = std::io::sink();
    let mut never = |_: &str| Confirmation::NoTerminal;
    let mut quiet = Io {
        out: &mut sink,
        confirm: &mut never,
        color: false,
        progress: false,
    };
    let mut record = ApplyRecord::default();
    let result = apply_flow(cli, args, env, &mut quiet, &mut record).await;
    let doc = apply_json(&record, &result);
    writeln!(io.out, "{}", to_json(&doc)?).map_err(write_err)?;
    result
}

/// The `apply --format json` document (docs/output.md).
fn apply_json(record: &ApplyRecord, result: &Result<u8>) -> serde_json::Value {
    use crate::apply::DeleteOutcome;
    let outcomes: Vec<serde_json::Value> = record
        .report
        .iter()
        .flat_map(|r| r.outcomes.iter())
        .map(|(i, o)| {
            let (outcome, message) = match o {
                DeleteOutcome::Deleted => ("deleted", None),
                DeleteOutcome::Deleting => ("deleting", None),
                DeleteOutcome::Failed(why) if why.starts_with("not attempted") => {
                    ("not_attempted", Some(why.as_str()))
                }
                DeleteOutcome::Failed(why) => ("failed", Some(why.as_str())),
            };
            serde_json::json!({"id": i.id, "name": i.name, "outcome": outcome, "message": message})
        })
        .collect();
    let (deleted, failed, requests) = record
        .report
        .as_ref()
        .map_or((0, 0, 0), |r| (r.deleted(), r.failures().len(), r.requests));
    let (exit_code, error) = match result {
        Ok(code) => (*code, None),
        Err(e) => (e.exit_code(), Some(e.to_string())),
    };
    serde_json::json!({
        "format_version": render::FORMAT_VERSION,
        "plan": record.plan,
        "outcomes": outcomes,
        "summary": {"deleted": deleted, "failed": failed, "requests": requests},
        "left_for_next_plan": record.new_surplus.iter().map(|d| serde_json::json!({
            "id": d.instance.id, "name": d.instance.name, "status": d.instance.status,
        })).collect::<Vec<_>>(),
        "exit_code": exit_code,
        "error": error,
    })
}

async fn apply_flow(
    cli: &Cli,
    args: &ApplyArgs,
    env: &Env,
    io: &mut Io<'_>,
    record: &mut ApplyRecord,
) -> Result<u8> {
    if let Some(plan_file) = &args.plan {
        return apply_saved(cli, args, plan_file, env, io, record).await;
    }
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MANIFEST));
    let mut p = make_plan(cli, &file, args.guards, Some(args.net), env).await?;
    p.context.color = io.color;
    plan_text_buffered(io.out, &p.plan, &p.context)?;
    io.out.flush().map_err(write_err)?;
    record.plan = Some(render::plan_json(&p.plan, &p.context));
    refuse_if_guarded(&p.context.refusals)?;
    if p.plan.is_empty() {
        return Ok(EXIT_OK);
    }
    let n = p.plan.delete.len();
    if !args.auto_approve {
        let question = format!(
            "\nDelete {} from project {}?\n  Only 'yes' will be accepted to confirm.\n\n  Enter a value: ",
            if n == 1 {
                "this instance".to_owned()
            } else {
                format!("these {n} instances")
            },
            p.context.project_id
        );
        match (io.confirm)(&question) {
            Confirmation::Yes => {}
            Confirmation::No => {
                return Err(Error::NotConfirmed(
                    "apply cancelled; nothing was deleted".to_owned(),
                ));
            }
            Confirmation::NoTerminal => {
                return Err(Error::NotConfirmed(
                    "apply needs a confirmation, but standard input is not a terminal; nothing \
                     was deleted. Review the plan above, then re-run with --auto-approve (or save \
                     the plan with `plan --out FILE` and run `apply --plan FILE`)"
                        .to_owned(),
                ));
            }
        }
    }
    let report = execute(&p.plan, &p.client, io).await?;
    finish(report, args, &p.client, io, record).await
}

/// After the deletions: wait for them if asked, then turn failures into exit 4.
async fn finish(
    report: apply::Report,
    args: &ApplyArgs,
    client: &Client,
    io: &mut Io<'_>,
    record: &mut ApplyRecord,
) -> Result<u8> {
    let failures: Vec<String> = report.failures().iter().map(|(i, _)| i.label()).collect();
    let total = report.outcomes.len();
    let deleted: Vec<Instance> = report
        .outcomes
        .iter()
        .filter(|(_, o)| {
            matches!(
                o,
                crate::apply::DeleteOutcome::Deleted | crate::apply::DeleteOutcome::Deleting
            )
        })
        .map(|(i, _)| i.clone())
        .collect();
    record.report = Some(report);
    if args.wait {
        wait_gone(client, deleted, args, io).await?;
    }
    if !failures.is_empty() {
        return Err(Error::DeleteFailed(format!(
            "{} of {} deletions failed: {}",
            failures.len(),
            total,
            failures.join(", ")
        )));
    }
    Ok(EXIT_OK)
}

/// `apply --wait`: lists until every deleted instance has left the listing (`DELETING` is not
/// gone yet), one line per change, or a progress bar on a terminal.
async fn wait_gone(
    client: &Client,
    deleted: Vec<Instance>,
    args: &ApplyArgs,
    io: &mut Io<'_>,
) -> Result<()> {
    if deleted.is_empty() {
        return Ok(());
    }
    let start = std::time::Instant::now();
    let deadline = start + args.wait_timeout;
    let total = deleted.len();
    writeln!(
        io.out,
        "\nWaiting up to {} for {} to leave the listing:",
        humantime::format_duration(args.wait_timeout),
        if total == 1 {
            "1 deleted instance".to_owned()
        } else {
            format!("{total} deleted instances")
        }
    )
    .map_err(write_err)?;
    io.out.flush().map_err(write_err)?;
    let bar = io.progress.then(|| {
        let bar = indicatif::ProgressBar::new(total as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "  {bar:30} {pos}/{len} gone  {elapsed}  {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let mut pending: Vec<(Instance, String)> = deleted
        .into_iter()
        .map(|i| {
            let status = i.status.clone();
            (i, status)
        })
        .collect();
    loop {
        let live = client.list_instances().await?;
        let now: std::collections::HashMap<&str, &Instance> =
            live.iter().map(|i| (i.id.as_str(), i)).collect();
        let mut still = Vec::with_capacity(pending.len());
        for (inst, last) in pending {
            match now.get(inst.id.as_str()) {
                None => {
                    if let Some(bar) = &bar {
                        bar.inc(1);
                    } else {
                        writeln!(io.out, "  gone      {} ({})", inst.name, inst.id)
                            .map_err(write_err)?;
                    }
                }
                Some(current) => {
                    if current.status != last && bar.is_none() {
                        writeln!(
                            io.out,
                            "  {:<9} {} ({})",
                            current.status, inst.name, inst.id
                        )
                        .map_err(write_err)?;
                    }
                    let status = current.status.clone();
                    still.push((inst, status));
                }
            }
        }
        io.out.flush().map_err(write_err)?;
        pending = still;
        if pending.is_empty() {
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            writeln!(
                io.out,
                "All {total} deleted instances are gone ({}).",
                humantime::format_duration(std::time::Duration::from_secs(
                    start.elapsed().as_secs()
                ))
            )
            .map_err(write_err)?;
            return Ok(());
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            if let Some(bar) = &bar {
                bar.abandon();
            }
            let names: Vec<String> = pending
                .iter()
                .map(|(i, status)| format!("{} ({}, {status})", i.name, i.id))
                .collect();
            return Err(Error::Wait(format!(
                "--wait-timeout {} passed and {} of {total} deleted instances are still listed: {}",
                humantime::format_duration(args.wait_timeout),
                pending.len(),
                names.join(", ")
            )));
        }
        if let Some(bar) = &bar {
            bar.set_message(format!("{} still listed", pending.len()));
        }
        tokio::time::sleep(args.wait_interval.min(deadline - now)).await;
    }
}

fn refuse_if_guarded(refusals: &[String]) -> Result<()> {
    if refusals.is_empty() {
        return Ok(());
    }
    Err(Error::Guard(format!(
        "refusing to apply; nothing was deleted: {}",
        refusals.join("; ")
    )))
}

fn unified_diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .header(old_name, new_name)
        .to_string()
}

/// `apply --plan FILE`: re-list, re-plan under the saved manifest, and delete exactly the saved
/// deletions if they all still stand; otherwise refuse with what changed.
async fn apply_saved(
    cli: &Cli,
    args: &ApplyArgs,
    plan_file: &Path,
    env: &Env,
    io: &mut Io<'_>,
    record: &mut ApplyRecord,
) -> Result<u8> {
    let origin = plan_file.display().to_string();
    let bytes = std::fs::read(plan_file).map_err(|e| Error::io(plan_file, e))?;
    let saved = saved::parse(&bytes, &origin).map_err(Error::Usage)?;
    let manifest = manifest::parse(
        saved.manifest.text.as_bytes(),
        Path::new(&saved.manifest.path),
    )
    .map_err(|e| Error::Usage(format!("{origin}: the saved manifest is invalid: {e}")))?;

    // The file merged must be the file reviewed.
    if let Some(file) = &args.file {
        let current = manifest::load(file)?;
        if current.sha256 != saved.manifest.sha256 {
            let diff = unified_diff(
                &saved.manifest.text,
                &current.text,
                &format!("{} (in {origin})", saved.manifest.path),
                &file.display().to_string(),
            );
            writeln!(io.out, "{diff}").map_err(write_err)?;
            return Err(Error::Guard(format!(
                "{}: SHA-256 {} differs from the manifest the saved plan {origin} was made from \
                 ({}); nothing was deleted. The diff above shows what changed: make a new plan \
                 from this file and review it.",
                file.display(),
                current.sha256,
                saved.manifest.sha256
            )));
        }
    }

    // The plan's own target; the command line may only repeat it.
    let endpoint = config::check_endpoint(&saved.endpoint, &format!("{origin}: endpoint"))?;
    if let Some(e) = cli.endpoint.as_deref() {
        let given = config::check_endpoint(e, "--endpoint")?;
        if given != endpoint {
            return Err(Error::Guard(format!(
                "--endpoint {given} differs from the endpoint {endpoint} the saved plan {origin} \
                 was made against; nothing was deleted"
            )));
        }
    }
    if let Some(p) = cli.project_id.as_deref()
        && p != saved.project_id
    {
        return Err(Error::Guard(format!(
            "--project-id {p} differs from the project {} the saved plan {origin} was made for; \
             nothing was deleted",
            saved.project_id
        )));
    }
    let target = Target {
        endpoint,
        project_id: saved.project_id.clone(),
    };
    let mut options = client_options(cli, env)?;
    options.concurrency = args.net.concurrency;
    let client = connect(&target, env, &options)?;
    let live = client.list_instances().await?;
    let now = OffsetDateTime::now_utc();
    let fresh = plan_against(&manifest, live.clone(), now).map_err(|e| {
        Error::Guard(format!(
            "the saved plan {origin} is stale: its manifest now conflicts with the live \
             instances; nothing was deleted:\n{e}"
        ))
    })?;
    let decisions = match saved::check(&saved, &fresh, &live) {
        Ok(d) => d,
        Err(stale) => {
            writeln!(
                io.out,
                "The saved plan {origin} no longer matches the live instances:"
            )
            .map_err(write_err)?;
            for c in &stale.changes {
                writeln!(io.out, "  {c}").map_err(write_err)?;
            }
            writeln!(io.out, "\n{}", stale.diff).map_err(write_err)?;
            return Err(Error::Guard(format!(
                "the saved plan {origin} is stale ({} of its {} deletions changed); nothing was \
                 deleted. Run plan again and review the new plan.",
                stale.changes.len(),
                saved.delete.len()
            )));
        }
    };
    let planned: std::collections::HashSet<&str> =
        decisions.iter().map(|d| d.instance.id.as_str()).collect();
    let new_surplus: Vec<Decision> = fresh
        .delete
        .iter()
        .filter(|d| !planned.contains(d.instance.id.as_str()))
        .cloned()
        .collect();
    let applied = Plan {
        delete: decisions,
        ..fresh
    };
    let overrides = {
        let o = Overrides::from(saved.overrides);
        Overrides {
            allow_empty: o.allow_empty || args.guards.allow_empty,
            max_delete: args.guards.max_delete.or(o.max_delete),
        }
    };
    let context = PlanContext {
        manifest: format!("{} (saved in {origin})", saved.manifest.path),
        manifest_sha256: saved.manifest.sha256.clone(),
        endpoint: target.endpoint.to_string(),
        project_id: target.project_id.clone(),
        refusals: applied.refusals(&manifest.rules.guards, overrides),
        verbose: cli.verbose > 0,
        created_at: saved.created_at.clone(),
        color: io.color,
    };
    writeln!(
        io.out,
        "Applying the saved plan {origin} (made {}); it still matches the live instances.\n",
        saved.created_at
    )
    .map_err(write_err)?;
    render::plan_text(io.out, &applied, &context).map_err(write_err)?;
    record.plan = Some(render::plan_json(&applied, &context));
    record.new_surplus.clone_from(&new_surplus);
    if !new_surplus.is_empty() {
        writeln!(
            io.out,
            "\n{} became surplus after the plan was made and {} left for the next plan:",
            if new_surplus.len() == 1 {
                "1 instance".to_owned()
            } else {
                format!("{} instances", new_surplus.len())
            },
            if new_surplus.len() == 1 { "is" } else { "are" }
        )
        .map_err(write_err)?;
        for d in &new_surplus {
            writeln!(
                io.out,
                "  + {}  {}  {}",
                d.instance.name, d.instance.id, d.instance.status
            )
            .map_err(write_err)?;
        }
    }
    io.out.flush().map_err(write_err)?;
    refuse_if_guarded(&context.refusals)?;
    if applied.is_empty() {
        return Ok(EXIT_OK);
    }
    let report = execute(&applied, &client, io).await?;
    finish(report, args, &client, io, record).await
}

/// Deletes the plan's instances, reporting each outcome as it comes.
async fn execute(plan: &Plan, client: &Client, io: &mut Io<'_>) -> Result<apply::Report> {
    let n = plan.delete.len();
    let requests = n.div_ceil(crate::api::DELETE_BATCH_MAX);
    writeln!(
        io.out,
        "\nDeleting {} in {}:",
        if n == 1 {
            "1 instance".to_owned()
        } else {
            format!("{n} instances")
        },
        if requests == 1 {
            "1 request".to_owned()
        } else {
            format!("{requests} requests")
        }
    )
    .map_err(write_err)?;
    let out = &mut *io.out;
    let mut write_failed = None;
    let report = apply::apply(plan, client, |inst, outcome| {
        if let Err(e) = render::outcome_line(out, inst, outcome).and_then(|()| out.flush()) {
            write_failed.get_or_insert(e);
        }
    })
    .await;
    let failures = report.failures();
    writeln!(
        io.out,
        "\nApply complete: {} deleted, {} failed.",
        report.deleted(),
        failures.len()
    )
    .map_err(write_err)?;
    if let Some(e) = write_failed {
        tracing::warn!("could not write every outcome line: {e}");
    }
    Ok(report)
}

/// `diff`: the declared instances against the live managed ones, as a unified diff.
async fn diff_command(cli: &Cli, args: &ManifestArg, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    let guards = GuardArgs {
        allow_empty: false,
        max_delete: None,
    };
    let p = make_plan(cli, &args.file, guards, None, env).await?;
    let diff = render::plan_diff(&p.plan, &p.context);
    let hidden = p.plan.protected.len() + p.plan.skip.len();
    if hidden > 0 {
        tracing::warn!(
            "{} protected and {} skipped live instances are undeclared but not deleted; they \
             are not in the diff (plan shows them)",
            p.plan.protected.len(),
            p.plan.skip.len()
        );
    }
    if diff.is_empty() {
        return Ok(EXIT_OK);
    }
    write!(io.out, "{diff}").map_err(write_err)?;
    Ok(EXIT_CHANGES)
}

/// `export`: a manifest declaring every live managed instance.
async fn export_command(cli: &Cli, args: &ExportArgs, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    if let Some(out) = &args.out
        && out.exists()
        && !args.force
    {
        return Err(Error::Usage(format!(
            "{}: the file exists; pass --force to overwrite it",
            out.display()
        )));
    }
    let source = match &args.file {
        Some(file) => manifest::load(file)?,
        None => Manifest::empty(Path::new("the command line")),
    };
    let region = args.region.clone().or_else(|| source.region.clone());
    let source = Manifest {
        region: region.clone(),
        ..source
    };
    let (target, client) = open(cli, &source, env, None).await?;
    let mut scope = source.rules.scope.clone();
    if let Some(prefix) = &args.scope_prefix {
        scope.name_prefix = Some(prefix.clone());
    }
    let mut live = client.list_instances().await?;
    live.retain(|i| scope.contains(i));
    live.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    let now = now_rfc3339(OffsetDateTime::now_utc());
    let endpoint = target.endpoint.to_string();
    let by_region = cli.endpoint.is_none() && source.endpoint.is_none() && region.is_some();
    let out_name = args
        .out
        .as_ref()
        .map_or_else(|| "FILE".to_owned(), |o| o.display().to_string());
    let export = manifest::Export {
        header: vec![
            format!(
                "Exported by dcs-reconcile {} at {now} from project {} at {}.",
                env!("CARGO_PKG_VERSION"),
                target.project_id,
                endpoint.trim_end_matches('/')
            ),
            format!(
                "Every instance below exists; `dcs-reconcile plan -f {out_name}` shows no deletions."
            ),
            "Remove an entry to have its instance deleted by the next apply.".to_owned(),
        ],
        project_id: &target.project_id,
        region: if by_region { region.as_deref() } else { None },
        endpoint: if by_region {
            None
        } else {
            Some(endpoint.trim_end_matches('/'))
        },
        scope: &scope,
        instances: live
            .iter()
            .map(|i| {
                let spec = i.spec_code.as_deref().unwrap_or("spec unknown");
                let billing = match i.charging_mode {
                    Some(1) => "prepaid",
                    Some(0) => "pay-per-use",
                    _ => "billing unknown",
                };
                (
                    i,
                    format!(
                        "{}, {spec}, {billing}, created {}",
                        i.status,
                        i.created_at.as_deref().unwrap_or("unknown")
                    ),
                )
            })
            .collect(),
    };
    let text = manifest::export_text(&export);
    // What we write must read back as a manifest declaring exactly these instances.
    let check = manifest::parse(text.as_bytes(), Path::new(&out_name))?;
    if check.instances.len() != live.len() {
        return Err(Error::Usage(format!(
            "internal error: the exported manifest declares {} instances, not {}",
            check.instances.len(),
            live.len()
        )));
    }
    match &args.out {
        Some(out) => {
            if out.exists() && !args.force {
                return Err(Error::Usage(format!(
                    "{}: the file exists; pass --force to overwrite it",
                    out.display()
                )));
            }
            write_file(out, &text)?;
            writeln!(
                io.out,
                "Exported {} to {}.",
                if live.len() == 1 {
                    "1 instance".to_owned()
                } else {
                    format!("{} instances", live.len())
                },
                out.display()
            )
            .map_err(write_err)?;
        }
        None => write!(io.out, "{text}").map_err(write_err)?,
    }
    Ok(EXIT_OK)
}

async fn run_emulator(
    args: &EmulatorArgs,
    project_id: Option<&str>,
    io: &mut Io<'_>,
) -> Result<u8> {
    emulator::check_loopback(&args.listen)?;
    let instances = match (&args.state, args.generate) {
        (Some(path), _) if path.exists() => {
            emulator::load_state_file(path).map_err(Error::Emulator)?
        }
        (Some(_), _) => Vec::new(),
        (None, Some(n)) => emulator::generate_instances(n),
        (None, None) => emulator::sample_instances(),
    };
    let count = instances.len();
    let config = EmulatorConfig {
        project_id: project_id.map(str::to_owned),
        credentials: args.ak.clone().zip(args.sk.clone()),
        state_file: args.state.clone(),
        instances,
        fail_delete: args.fail_delete.clone(),
        fail_delete_requests: args.fail_delete_requests,
        latency: std::time::Duration::from_millis(args.latency_ms),
        delete_linger: args.delete_linger,
        faults: args.fault.clone(),
        auth_token: args.auth_token.clone(),
        ..EmulatorConfig::default()
    };
    let signed = config.credentials.is_some() || config.auth_token.is_some();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| Error::Emulator(format!("cannot listen on {}: {e}", args.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Emulator(e.to_string()))?;
    writeln!(
        io.out,
        "DCS emulator listening on http://{addr} ({count} instances, project {}, signatures {}). \
         Stop it with Ctrl-C.",
        project_id.unwrap_or("any"),
        if signed { "checked" } else { "not checked" }
    )
    .map_err(write_err)?;
    io.out.flush().map_err(write_err)?;
    let shared = emulator::Shared::new(config);
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    emulator::serve(listener, Arc::clone(&shared), stop)
        .await
        .map_err(|e| Error::Emulator(e.to_string()))?;
    Ok(EXIT_OK)
}
