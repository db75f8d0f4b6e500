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
    ApplyArgs, Cli, Command, DEFAULT_MANIFEST, EmulatorArgs, Format, GuardArgs, ManifestArg,
    PlanArgs, WhoamiArgs,
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

fn now_rfc3339(now: OffsetDateTime) -> String {
    now.format(&Rfc3339).unwrap_or_else(|_| now.to_string())
}

/// Transport settings from the command line.
fn client_options(cli: &Cli) -> ClientOptions {
    let mut options = ClientOptions::default();
    if let Some(t) = cli.connect_timeout {
        options.connect_timeout = t;
    }
    if let Some(t) = cli.timeout {
        options.request_timeout = t;
    }
    options
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
        &client_options(cli),
    )
    .await?;
    id.log();
    id.describe(io.out).map_err(write_err)?;
    Ok(EXIT_OK)
}

/// Plans `live` against `manifest`; an id/name conflict becomes an error naming the file.
fn plan_against(manifest: &Manifest, live: &[Instance], now: OffsetDateTime) -> Result<Plan> {
    plan::plan(&manifest.instances, &manifest.rules, live, now).map_err(|conflicts| {
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

async fn make_plan(cli: &Cli, file: &Path, guards: GuardArgs, env: &Env) -> Result<Planned> {
    let manifest = manifest::load(file)?;
    let options = client_options(cli);
    let id = identity::identify(
        cli.endpoint.as_deref(),
        cli.project_id.as_deref(),
        &manifest,
        env,
        &options,
    )
    .await?;
    id.log();
    let target = id.target();
    let client = id.client(&options)?;
    let live = client.list_instances().await?;
    tracing::info!(count = live.len(), "listed live instances");
    let now = OffsetDateTime::now_utc();
    let plan = plan_against(&manifest, &live, now)?;
    let overrides = overrides(guards);
    let context = PlanContext {
        manifest: manifest.path.display().to_string(),
        manifest_sha256: manifest.sha256.clone(),
        endpoint: target.endpoint.to_string(),
        project_id: target.project_id.clone(),
        refusals: plan.refusals(&manifest.rules.guards, overrides),
        verbose: cli.verbose > 0,
        created_at: now_rfc3339(now),
    };
    Ok(Planned {
        client,
        manifest,
        plan,
        context,
        overrides,
    })
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
        .and_then(|()| tmp.write_all(b"\n"))
        .map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

async fn plan_command(cli: &Cli, args: &PlanArgs, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    let p = make_plan(cli, &args.manifest.file, args.guards, env).await?;
    match args.format {
        Format::Text => render::plan_text(io.out, &p.plan, &p.context).map_err(write_err)?,
        Format::Json => {
            let text = to_json(&render::plan_json(&p.plan, &p.context))?;
            writeln!(io.out, "{text}").map_err(write_err)?;
        }
    }
    if let Some(out) = &args.out {
        let doc = saved::document(&p.plan, &p.context, &p.manifest.text, p.overrides);
        write_file(out, &to_json(&doc)?)?;
        let note = format!(
            "Saved this plan to {0}. Apply exactly it with: dcs-reconcile apply --plan {0}",
            out.display()
        );
        match args.format {
            Format::Text => writeln!(io.out, "\n{note}").map_err(write_err)?,
            Format::Json => tracing::info!("{note}"),
        }
    }
    Ok(if args.detailed_exitcode && !p.plan.is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

async fn apply_command(cli: &Cli, args: &ApplyArgs, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    if let Some(plan_file) = &args.plan {
        return apply_saved(cli, args, plan_file, env, io).await;
    }
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MANIFEST));
    let p = make_plan(cli, &file, args.guards, env).await?;
    render::plan_text(io.out, &p.plan, &p.context).map_err(write_err)?;
    io.out.flush().map_err(write_err)?;
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
    execute(&p.plan, &p.client, io).await
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
    let client = connect(&target, env, &client_options(cli))?;
    let live = client.list_instances().await?;
    let now = OffsetDateTime::now_utc();
    let fresh = plan_against(&manifest, &live, now).map_err(|e| {
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
    };
    writeln!(
        io.out,
        "Applying the saved plan {origin} (made {}); it still matches the live instances.\n",
        saved.created_at
    )
    .map_err(write_err)?;
    render::plan_text(io.out, &applied, &context).map_err(write_err)?;
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
    execute(&applied, &client, io).await
}

/// Deletes the plan's instances, reporting each outcome as it comes.
async fn execute(plan: &Plan, client: &Client, io: &mut Io<'_>) -> Result<u8> {
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
    if !failures.is_empty() {
        let names: Vec<String> = failures.iter().map(|(i, _)| i.label()).collect();
        return Err(Error::DeleteFailed(format!(
            "{} of {n} deletions failed: {}",
            failures.len(),
            names.join(", ")
        )));
    }
    if let Some(e) = write_failed {
        return Err(write_err(e));
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
