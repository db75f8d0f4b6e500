//! `dcs-reconcile demo`: the whole flow against the built-in emulator, needing nothing but the
//! binary. It starts the emulator with sample instances on a free loopback port, writes a sample
//! manifest into a temporary folder, and runs validate, plan, apply and plan again through the
//! same code paths as the real commands, printing each command as a user would type it.

use std::io::Write;

use clap::Parser;

use crate::cli::Cli;
use crate::commands::{Confirmation, Io};
use crate::config::{ENV_AK, ENV_SK, Env};
use crate::emulator::{Emulator, EmulatorConfig, sample_instances};
use crate::error::{EXIT_OK, Error, Result};

/// The demo's project id.
pub const DEMO_PROJECT_ID: &str = "0123456789abcdef0123456789abcdef";
const DEMO_AK: &str = "DEMOAKEXAMPLE0000001";
const DEMO_SK: &str = "demo-secret-key-not-a-real-one";

/// The sample instance the demo's Cloud Eye shows in use.
const DEMO_IN_USE: &str = "ci-pr-1841";

fn demo_in_use() -> crate::emulator::Activity {
    crate::emulator::Activity {
        ops: 12.0,
        connections: 40.0,
        ..crate::emulator::Activity::default()
    }
}

fn w(e: std::io::Error) -> Error {
    Error::io("<stdout>", e)
}

/// The samples, with `ci-pr-1852` made Redis 3.0, so that the demo shows both destinations
/// of `deletion: {recycle_bin: true}`: one instance to the recycle bin, one that cannot go.
fn with_an_old_redis(
    mut instances: Vec<crate::emulator::EmuInstance>,
) -> Vec<crate::emulator::EmuInstance> {
    for i in &mut instances {
        if i.name == "ci-pr-1852" {
            i.extra
                .insert("engine_version".to_owned(), serde_json::json!("3.0"));
        }
    }
    instances
}

/// Runs the walkthrough, writing to `out`. Fails if any step does not end as expected.
pub async fn run(out: &mut dyn Write) -> Result<u8> {
    let emulator = Emulator::start(EmulatorConfig {
        project_id: Some(DEMO_PROJECT_ID.to_owned()),
        credentials: Some((DEMO_AK.to_owned(), DEMO_SK.to_owned())),
        state_file: None,
        instances: with_an_old_redis(sample_instances()),
        // The activity guard: one undeclared instance is still in use, so it is kept.
        activity: [(DEMO_IN_USE.to_owned(), demo_in_use())].into(),
        ..EmulatorConfig::default()
    })?;
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), e))?;
    let path = dir.path().join("dcs.yaml");
    let manifest = format!(
        "# The instances that should exist in this project. Everything else is deleted.\n\
         project_id: {DEMO_PROJECT_ID}\n\
         endpoint: {url}        # the built-in emulator; for the real cloud use `region: cn-north-4`\n\
         ces_endpoint: {url}    # Cloud Eye (the emulator serves it too); default from the region\n\
         deletion: {{recycle_bin: true}}   # Redis 4.0+ goes to the recycle bin (7 days); older is destroyed\n\
         guards:\n\
         \x20 idle_for: 24h           # never delete an instance Cloud Eye shows in use in the last 24h\n\
         instances:\n\
         \x20 - name: dcs-8b1c-000       # matches every instance of exactly this name\n\
         \x20 - id: 9d78d0f4-a110-4bcd-8ca3-5aec414163c1   # matches this instance only\n\
         \x20 - name: orders-cache       # both: must be the same live instance\n\
         \x20   id: aabe73af-1db8-4401-b39c-c56996023989\n\
         \x20 - name: payments-cache     # not live: reported as missing, never created\n",
        url = emulator.url()
    );
    std::fs::write(&path, &manifest).map_err(|e| Error::io(&path, e))?;
    let file = path.display().to_string();

    writeln!(
        out,
        "dcs-reconcile demo: the whole flow against the built-in DCS emulator; no cloud account needed.\n\n\
         The emulator listens on {} with {} sample instances of project {DEMO_PROJECT_ID}\n\
         and checks every request's SDK-HMAC-SHA256 signature, as the real API does.\n\n\
         The manifest, {file}:\n",
        emulator.url(),
        emulator.shared().instance_ids().len(),
    )
    .map_err(w)?;
    for line in manifest.lines() {
        writeln!(out, "    {line}").map_err(w)?;
    }

    let env = Env::from_pairs([(ENV_AK, DEMO_AK), (ENV_SK, DEMO_SK)]);
    let steps: [(&str, Vec<&str>); 4] = [
        (
            "Check the manifest (no network)",
            vec!["validate", "-f", &file],
        ),
        ("See what would be deleted", vec!["plan", "-f", &file]),
        (
            "Delete it (the demo approves for you; on a terminal, apply asks you to type `yes`)",
            vec!["apply", "-f", &file, "--auto-approve"],
        ),
        (
            "Plan again: nothing left to delete",
            vec!["plan", "-f", &file, "--detailed-exitcode"],
        ),
    ];
    let total = steps.len();
    let mut last_code = EXIT_OK;
    for (n, (title, args)) in steps.into_iter().enumerate() {
        writeln!(
            out,
            "\n== Step {} of {total}: {title}\n$ dcs-reconcile {}\n",
            n + 1,
            args.join(" ")
        )
        .map_err(w)?;
        let cli = Cli::try_parse_from(std::iter::once("dcs-reconcile").chain(args.iter().copied()))
            .map_err(|e| Error::Usage(format!("demo: {e}")))?;
        let mut never = |_: &str| Confirmation::NoTerminal;
        let mut io = Io {
            out: &mut *out,
            confirm: &mut never,
            color: false,
            progress: false,
        };
        last_code = crate::run(cli, &env, &mut io).await?;
    }
    if last_code != EXIT_OK {
        return Err(Error::Usage(format!(
            "demo: the last plan still has deletions (exit {last_code}); the demo is broken"
        )));
    }
    writeln!(
        out,
        "\nThe emulator answered {} requests. Against the real cloud, the same commands are:\n\n\
         \x20   export HUAWEICLOUD_SDK_AK=<access key> HUAWEICLOUD_SDK_SK=<secret key>\n\
         \x20   # dcs.yaml: `project_id: <your project id>`, `region: cn-north-4`, `instances: [...]`\n\
         \x20   dcs-reconcile validate -f dcs.yaml\n\
         \x20   dcs-reconcile plan -f dcs.yaml\n\
         \x20   dcs-reconcile apply -f dcs.yaml\n\n\
         In a pipeline, review a saved plan and apply exactly it (refused if the world moved):\n\n\
         \x20   dcs-reconcile plan -f dcs.yaml --out plan.json --format markdown > plan.md\n\
         \x20   dcs-reconcile apply --plan plan.json -f dcs.yaml\n\n\
         To keep an emulator running for your own experiments: dcs-reconcile emulator --listen 127.0.0.1:8080",
        emulator.shared().requests().len()
    )
    .map_err(w)?;
    Ok(EXIT_OK)
}
