//! `dcs-reconcile demo`: the whole flow against the built-in emulator, needing nothing but the
//! binary. It starts the emulator with sample instances on a free loopback port, writes a sample
//! manifest into a temporary folder, and runs validate, plan, apply and plan again through the
//! same code paths as the real commands, printing each command as a user would type it:
//!
//! - the DCS API guide's own example: `dcs-8b1c-000` and `dcs-8b1c-001` deleted in one batch
//!   request with the documented body;
//! - the activity guard: `ci-pr-1841` is undeclared but still in use (Cloud Eye), so it is kept;
//! - deletion you can take back: with `deletion: {recycle_bin: true}`, one instance goes to the
//!   recycle bin and one (Redis 3.0) cannot and is destroyed.

use std::io::Write;

use clap::Parser;

use crate::cli::Cli;
use crate::config::{ENV_AK, ENV_SK, Env};
use crate::emulator::{Emulator, EmulatorConfig, sample_instances};
use crate::error::{EXIT_OK, Error, Result};
use crate::{Confirmation, Io};

/// The demo's project id: the emulator's example project.
pub const DEMO_PROJECT_ID: &str = crate::emulator::EXAMPLE_PROJECT_ID;

/// The undeclared instance that Cloud Eye shows in use: the activity guard keeps it.
const DEMO_IN_USE: &str = "ci-pr-1841";

fn demo_in_use() -> crate::emulator::Activity {
    crate::emulator::Activity {
        ops: 12.0,
        connections: 40.0,
        ..crate::emulator::Activity::default()
    }
}

/// The samples, with `ci-pr-1852` made Redis 3.0, so that the recycle-bin step shows both
/// destinations: one instance to the recycle bin, one that cannot go.
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
const DEMO_AK: &str = "DEMOAKEXAMPLE0000001";
const DEMO_SK: &str = "demo-secret-key-not-a-real-one";

fn w(e: std::io::Error) -> Error {
    Error::io("<stdout>", e)
}

/// The documentation's example: the two instances the DCS API guide deletes in one batch.
pub(crate) const DOCUMENTED_IDS: [&str; 2] = [
    "aabe73af-1db8-4401-b39c-c56996023989",
    "9d78d0f4-a110-4bcd-8ca3-5aec414163c1",
];

/// The demo's manifest for an emulator at `endpoint`: it declares every sample instance except
/// the documentation's two, `dcs-8b1c-000` and `dcs-8b1c-001`, so those are what `apply`
/// deletes.
pub(crate) fn sample_manifest(endpoint: &str) -> String {
    format!(
        "# The instances that should exist in this project. Everything else is deleted.\n\
         project_id: {DEMO_PROJECT_ID}\n\
         endpoint: {endpoint}        # the built-in emulator; for the real cloud use `region: cn-north-4`\n\
         ces_endpoint: {endpoint}    # Cloud Eye (the emulator serves it too); default from the region\n\
         guards:\n\
         \x20 idle_for: 24h           # never delete an instance Cloud Eye shows in use in the last 24h\n\
         instances:\n\
         \x20 - name: orders-cache       # matches every instance of exactly this name\n\
         \x20 - id: 4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192   # matches this instance only (sessions)\n\
         \x20 - name: ci-pr-1852         # both: must be the same live instance\n\
         \x20   id: 6a7b8c9d-0e1f-4a2b-b3c4-d5e6f7a8b9c0\n\
         \x20 - name: payments-cache     # not live: reported as missing, never created\n\
         # Not declared, so deleted: dcs-8b1c-000 and dcs-8b1c-001, the two instances of the\n\
         # DCS API guide's example \"batch-delete Redis instances\". Not declared either, but\n\
         # kept: ci-pr-1841, which Cloud Eye shows in use.\n"
    )
}

/// The second manifest: `sessions` and `ci-pr-1852` are no longer declared, and deletions go to
/// the recycle bin where they can (Redis 4.0 and later).
fn recycle_manifest(endpoint: &str) -> String {
    format!(
        "project_id: {DEMO_PROJECT_ID}\n\
         endpoint: {endpoint}\n\
         ces_endpoint: {endpoint}\n\
         deletion: {{recycle_bin: true}}   # Redis 4.0+ goes to the recycle bin (7 days); older is destroyed\n\
         guards:\n\
         \x20 idle_for: 24h\n\
         instances:\n\
         \x20 - name: orders-cache\n"
    )
}

/// The first apply's one batch delete, checked to be the documented request: `DELETE
/// /v2/{project_id}/instances` whose body is `{"instances": [the two documented ids]}`.
fn documented_batch(requests: &[crate::emulator::RequestRecord]) -> Result<String> {
    let deletes: Vec<_> = requests
        .iter()
        .filter(|r| r.method == "DELETE" && r.path.ends_with("/instances"))
        .collect();
    let broken = |why: String| Error::Usage(format!("demo: {why}; the demo is broken"));
    let Some(only) = deletes.first() else {
        return Err(broken("no batch delete request was sent".to_owned()));
    };
    let body: serde_json::Value = serde_json::from_str(&only.body)
        .map_err(|e| broken(format!("the batch delete body is not JSON: {e}")))?;
    let mut ids: Vec<&str> = body
        .get("instances")
        .and_then(serde_json::Value::as_array)
        .map(|a| a.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    ids.sort_unstable();
    let mut want = DOCUMENTED_IDS;
    want.sort_unstable();
    let keys = body.as_object().map_or(0, serde_json::Map::len);
    if ids != want || keys != 1 {
        return Err(broken(format!(
            "the batch delete body is {}, not the documented one",
            only.body
        )));
    }
    let query = if only.query.is_empty() {
        String::new()
    } else {
        format!("?{}", only.query)
    };
    Ok(format!(
        "{} {}{query}\n    {}",
        only.method, only.path, only.body
    ))
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
    let manifest = sample_manifest(&emulator.url());
    std::fs::write(&path, &manifest).map_err(|e| Error::io(&path, e))?;
    let file = path.display().to_string();
    let recycle_path = dir.path().join("dcs-recycle.yaml");
    let recycle = recycle_manifest(&emulator.url());
    std::fs::write(&recycle_path, &recycle).map_err(|e| Error::io(&recycle_path, e))?;
    let recycle_file = recycle_path.display().to_string();

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
    let recycle_title = format!(
        "Deletion you can take back: with this manifest, {recycle_file},\n{}",
        recycle
            .lines()
            .map(|l| format!("    {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let steps: [(&str, Vec<&str>); 5] = [
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
        (
            &recycle_title,
            vec!["apply", "-f", &recycle_file, "--auto-approve"],
        ),
    ];
    let total = steps.len();
    let mut codes = Vec::new();
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
        codes.push(crate::run(cli, &env, &mut io).await?);
    }
    if codes.iter().any(|c| *c != EXIT_OK) {
        return Err(Error::Usage(format!(
            "demo: a step did not end with exit 0 ({codes:?}); the demo is broken"
        )));
    }
    let batch = documented_batch(&emulator.shared().requests())?;
    writeln!(
        out,
        "\nThe deletion was one batch request, the DCS API guide's example \"batch-delete Redis\n\
         instances\" (dcs-8b1c-000 and dcs-8b1c-001):\n\n    {batch}"
    )
    .map_err(w)?;
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
