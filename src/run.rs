//! The orchestration: arguments -> config -> manifest + live inventory -> plan -> render ->
//! confirm -> apply -> report. The only module that touches all the others.

use std::io::Write;
use std::sync::Arc;

use crate::api::{Client, ClientOptions};
use crate::apply;
use crate::cli::{ApplyArgs, Cli, Command, EmulatorArgs, Format, ManifestArg, PlanArgs};
use crate::config::{self, Env};
use crate::emulator::{self, EmulatorConfig};
use crate::error::{EXIT_CHANGES, EXIT_OK, Error, Result};
use crate::manifest;
use crate::plan::{self, Plan};
use crate::render::{self, PlanContext};

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
    plan: Plan,
    context: PlanContext,
}

async fn make_plan(cli: &Cli, file: &ManifestArg, allow_empty: bool, env: &Env) -> Result<Planned> {
    let manifest = manifest::load(&file.file)?;
    let target = config::resolve_target(
        cli.endpoint.as_deref(),
        cli.project_id.as_deref(),
        &manifest,
    )?;
    let credentials = config::credentials(env)?;
    tracing::info!(
        endpoint = %target.endpoint,
        project_id = %target.project_id,
        ak = %credentials.masked_ak(),
        "credentials from HUAWEICLOUD_SDK_AK/HUAWEICLOUD_SDK_SK{}",
        if credentials.security_token.is_some() { " with a security token" } else { "" }
    );
    let client = Client::new(
        target.endpoint.clone(),
        target.project_id.clone(),
        credentials,
        &ClientOptions::default(),
    )?;
    let live = client.list_instances().await?;
    tracing::info!(count = live.len(), "listed live instances");
    let plan = plan::plan(&manifest.instances, &live).map_err(|conflicts| {
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
    })?;
    let context = PlanContext {
        manifest: manifest.path.display().to_string(),
        manifest_sha256: manifest.sha256.clone(),
        endpoint: target.endpoint.to_string(),
        project_id: target.project_id.clone(),
        refusals: plan.refusals(allow_empty),
        verbose: cli.verbose > 0,
    };
    Ok(Planned {
        client,
        plan,
        context,
    })
}

async fn plan_command(cli: &Cli, args: &PlanArgs, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    let p = make_plan(cli, &args.manifest, args.allow_empty, env).await?;
    match args.format {
        Format::Text => render::plan_text(io.out, &p.plan, &p.context).map_err(write_err)?,
        Format::Json => {
            let doc = render::plan_json(&p.plan, &p.context);
            let text = serde_json::to_string_pretty(&doc)
                .map_err(|e| Error::Usage(format!("cannot encode the plan: {e}")))?;
            writeln!(io.out, "{text}").map_err(write_err)?;
        }
    }
    Ok(if args.detailed_exitcode && !p.plan.is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

async fn apply_command(cli: &Cli, args: &ApplyArgs, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    let p = make_plan(cli, &args.manifest, args.allow_empty, env).await?;
    render::plan_text(io.out, &p.plan, &p.context).map_err(write_err)?;
    io.out.flush().map_err(write_err)?;
    if !p.context.refusals.is_empty() {
        return Err(Error::Guard(format!(
            "refusing to apply; nothing was deleted: {}",
            p.context.refusals.join("; ")
        )));
    }
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
                     was deleted. Review the plan above, then re-run with --auto-approve"
                        .to_owned(),
                ));
            }
        }
    }
    let requests = apply::batches(
        &p.plan
            .delete
            .iter()
            .map(|d| d.instance.clone())
            .collect::<Vec<_>>(),
    )
    .len();
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
    let report = apply::apply(&p.plan, &p.client, |inst, outcome| {
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
    };
    let signed = config.credentials.is_some();
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
