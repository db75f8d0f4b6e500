//! The examples stay true: every sample manifest validates, every `dcs-reconcile` command
//! line in the CI recipes (and every use of the GitHub Action) parses with today's flags, and
//! the Dockerfile, the action and the CronJob agree with each other.

use std::path::{Path, PathBuf};

use clap::Parser;
use dcs_reconcile::cli::Cli;

use crate::support::*;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The manifest embedded in the CronJob's ConfigMap (`dcs.yaml: |` block).
fn configmap_manifest(text: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim_end() == "  dcs.yaml: |" {
            inside = true;
            continue;
        }
        if inside {
            if let Some(rest) = line.strip_prefix("    ") {
                out.push_str(rest);
                out.push('\n');
            } else if !line.trim().is_empty() {
                break;
            }
        }
    }
    out
}

#[test]
fn every_example_manifest_validates() {
    let dir = tempfile::tempdir().expect("it works");
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples().join("manifests"))
        .expect("it works")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let embedded = configmap_manifest(&read(&examples().join("kubernetes/cronjob.yaml")));
    assert!(embedded.contains("instances: []"), "{embedded}");
    let cm = dir.path().join("configmap-dcs.yaml");
    std::fs::write(&cm, embedded).expect("it works");
    files.push(cm);
    for file in files {
        let f = file.display().to_string();
        let run = run_in(dir.path(), &["validate", "-f", &f], &[]).expect(0);
        assert!(run.stdout.contains("is valid"), "{f}: {}", run.stdout);
    }
}

/// `dcs-reconcile …` command lines in a shell script or YAML `run:` line, cut at the first
/// shell operator.
fn command_lines(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line
            .trim_start()
            .trim_start_matches("- ")
            .trim_start_matches("run: ");
        if line.starts_with('#') {
            continue;
        }
        let Some(at) = line.find("dcs-reconcile ") else {
            continue;
        };
        let rest = &line[at..];
        let mut words = Vec::new();
        for w in rest.split_whitespace() {
            if [">", "||", "|", ";", "&&", "2>&1", "\\"].contains(&w) || w.starts_with(['>', '#']) {
                break;
            }
            words.push(w.trim_matches('"').to_owned());
        }
        // `dcs-reconcile --version` style words or URLs are not invocations.
        if words.len() > 1 && !words[1].starts_with("http") {
            out.push(words);
        }
    }
    out
}

#[test]
fn every_command_in_the_ci_recipes_parses() {
    let mut checked = 0;
    for rel in ["github-actions/dcs-reconcile.yml", "gitlab/.gitlab-ci.yml"] {
        let text = read(&examples().join(rel));
        for words in command_lines(&text) {
            if words[1] == "--version" || words.iter().any(|w| w.contains('$')) {
                continue;
            }
            if let Err(e) = Cli::try_parse_from(&words) {
                panic!("{rel}: `{}` does not parse: {e}", words.join(" "));
            }
            checked += 1;
        }
    }
    // The GitHub Action's uses: `command`, `manifest` and `args` make one command line.
    let text = read(&examples().join("github-actions/dcs-reconcile.yml"));
    let uses = action_uses(&text);
    assert!(uses.len() >= 2, "{uses:?}");
    assert!(
        uses.iter().any(|w| w.contains(&"--plan".to_owned()))
            && uses.iter().any(|w| w.contains(&"--out".to_owned())),
        "the action's args were read: {uses:?}"
    );
    for words in uses {
        if let Err(e) = Cli::try_parse_from(&words) {
            panic!(
                "the action runs `{}`, which does not parse: {e}",
                words.join(" ")
            );
        }
        checked += 1;
    }
    assert!(checked >= 5, "only {checked} commands found");

    // The CronJob's `args:` list.
    let text = read(&examples().join("kubernetes/cronjob.yaml"));
    let mut args = vec!["dcs-reconcile".to_owned()];
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t == "args:" {
            inside = true;
            continue;
        }
        if inside {
            match t.strip_prefix("- ") {
                Some(a) => args.push(a.split('#').next().unwrap_or("").trim().to_owned()),
                None => break,
            }
        }
    }
    assert!(args.len() > 3, "{args:?}");
    if let Err(e) = Cli::try_parse_from(&args) {
        panic!("cronjob args `{}` do not parse: {e}", args.join(" "));
    }
}

/// The command lines the action runs for each `uses: dcs-reconcile/dcs-reconcile@…` step of a
/// workflow, as action.yml builds them (plan adds `--format markdown`).
fn action_uses(workflow: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let lines: Vec<&str> = workflow.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim_start().trim_start_matches("- ");
        if !t.starts_with("uses: dcs-reconcile/dcs-reconcile@") {
            continue;
        }
        let (mut command, mut manifest, mut args) = ("plan", "dcs.yaml", "");
        for l in &lines[i + 1..] {
            let l = l.trim();
            if l.starts_with("- ") {
                break;
            }
            let value = |key: &str| {
                l.strip_prefix(key)
                    .map(|v| v.split(" #").next().unwrap_or("").trim())
            };
            if let Some(v) = value("command:") {
                command = v;
            } else if let Some(v) = value("manifest:") {
                manifest = v;
            } else if let Some(v) = value("args:") {
                args = v;
            }
        }
        let mut words: Vec<String> = ["dcs-reconcile", command, "-f", manifest]
            .iter()
            .map(|w| (*w).to_owned())
            .collect();
        if command == "plan" {
            words.extend(["--format".to_owned(), "markdown".to_owned()]);
        }
        words.extend(args.split_whitespace().map(str::to_owned));
        out.push(words);
    }
    out
}

fn root_file(name: &str) -> String {
    read(&Path::new(env!("CARGO_MANIFEST_DIR")).join(name))
}

/// The package version, from Cargo.toml.
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[test]
fn the_recipes_pin_the_current_release() {
    let tag = format!("v{}", version());
    let gh = read(&examples().join("github-actions/dcs-reconcile.yml"));
    assert!(
        gh.contains(&format!("uses: dcs-reconcile/dcs-reconcile@{tag}")),
        "the workflow uses the action at {tag}"
    );
    let gitlab = read(&examples().join("gitlab/.gitlab-ci.yml"));
    assert!(
        gitlab.contains(&format!("DCS_RECONCILE_VERSION: \"{tag}\"")),
        "{gitlab}"
    );
    assert!(
        gitlab.contains("sha256sum -c"),
        "the GitLab recipe checks the checksum"
    );
    let cron = read(&examples().join("kubernetes/cronjob.yaml"));
    assert!(
        cron.contains(&format!(
            "image: registry.example.com/platform/dcs-reconcile:{}",
            version()
        )),
        "the CronJob's image is the current version"
    );
    assert!(
        cron.contains(&format!(
            "docker build -t registry.example.com/platform/dcs-reconcile:{} .",
            version()
        )) && cron.contains("docker push"),
        "the CronJob says how to build and push its image"
    );
}

/// The Dockerfile, read as text (no image is built in tests): multi-stage, built with the
/// official Rust image from the lock file, run on a base with CA certificates as a non-root
/// user that the CronJob's securityContext names, with the binary as the exec-form entrypoint.
#[test]
fn the_dockerfile_builds_with_rust_and_runs_the_binary_as_non_root() {
    let text = root_file("Dockerfile");
    let instructions: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let froms: Vec<&str> = instructions
        .iter()
        .filter(|l| l.starts_with("FROM "))
        .copied()
        .collect();
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(
        froms[0].starts_with("FROM rust:") && froms[0].ends_with(" AS build"),
        "{froms:?}"
    );
    assert!(
        froms[1].starts_with("FROM gcr.io/distroless/static"),
        "a minimal runtime base with CA certificates: {froms:?}"
    );
    assert!(
        text.contains("cargo build --release --locked"),
        "built from Cargo.lock"
    );
    let runtime: Vec<&str> = instructions
        .iter()
        .skip_while(|l| **l != froms[1])
        .copied()
        .collect();
    assert!(
        runtime.contains(
            &"COPY --from=build /usr/local/bin/dcs-reconcile /usr/local/bin/dcs-reconcile"
        ),
        "{runtime:?}"
    );
    assert!(
        runtime.contains(&"ENTRYPOINT [\"/usr/local/bin/dcs-reconcile\"]"),
        "exec-form entrypoint: {runtime:?}"
    );
    let user = runtime
        .iter()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER in the runtime stage");
    let uid = user.split(':').next().unwrap_or("");
    assert!(
        uid.parse::<u32>().is_ok_and(|u| u > 0),
        "numeric non-root user: {user}"
    );
    let cron = read(&examples().join("kubernetes/cronjob.yaml"));
    assert!(
        cron.contains(&format!("runAsUser: {uid}")),
        "the CronJob runs as {uid}"
    );
    let ignore = root_file(".dockerignore");
    for dir in ["target/", "fuzz/", ".git/"] {
        assert!(
            ignore.lines().any(|l| l.trim() == dir),
            ".dockerignore leaves out {dir}"
        );
    }
}

/// action.yml: the inputs the docs name, the checksum check before anything runs, the job
/// summary, one pull-request comment found by its marker, and the tool's exit code kept.
#[test]
fn the_action_verifies_runs_and_comments_once() {
    let text = root_file("action.yml");
    for input in [
        "version:",
        "command:",
        "manifest:",
        "args:",
        "github-token:",
    ] {
        assert!(text.contains(&format!("\n  {input}\n")), "input {input}");
    }
    assert!(text.contains("using: composite"));
    let verify = text
        .find("--check --strict")
        .expect("the checksum is verified");
    let extract = text.find("tar -xzf").expect("the archive is unpacked");
    assert!(verify < extract, "verified before it is unpacked");
    assert!(text.contains("GITHUB_STEP_SUMMARY"));
    assert!(
        text.contains("<!-- dcs-reconcile plan: $MANIFEST -->"),
        "hidden marker"
    );
    assert!(text.contains("-X PATCH"), "the comment is edited in place");
    assert!(
        text.contains("exit \"$code\""),
        "the tool's exit code is the step's"
    );
    // The asset names the action downloads are the ones the release workflow uploads.
    let release = root_file(".github/workflows/release.yml");
    assert!(
        release.contains(r#"name="dcs-reconcile-$TAG-$TARGET""#),
        "{release}"
    );
    assert!(text.contains(r#"name="dcs-reconcile-$VERSION-$target""#));
    for target in [
        "x86_64-unknown-linux-musl",
        "aarch64-unknown-linux-musl",
        "x86_64-apple-darwin",
        "aarch64-apple-darwin",
        "x86_64-pc-windows-msvc",
    ] {
        assert!(
            release.contains(&format!("target: {target}")),
            "release builds {target}"
        );
        assert!(
            text.contains(&format!("target={target}")),
            "the action knows {target}"
        );
    }
}

/// README's manifest example is true of the emulator's samples: it keeps four instances and
/// deletes the DCS API guide's two, `dcs-8b1c-000` and `dcs-8b1c-001`, in one batch request
/// whose body is the documented one.
#[test]
fn the_readme_manifest_deletes_the_documentation_example() {
    let readme = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"));
    let start = readme
        .find("```yaml\n# yaml-language-server")
        .expect("README's manifest example");
    let block = &readme[start + "```yaml\n".len()..];
    let block = &block[..block.find("```").expect("end of the block")];
    // The project and region are the test's (an emulator); the instances are README's.
    let instances = &block[block.find("instances:").expect("instances:")..];
    let p = Project::new(sample());
    p.manifest(instances);
    let plan = p.run(&["plan"]).expect(0);
    assert!(
        plan.stdout
            .contains("Plan: 2 to delete, 4 to keep, 1 to skip, 0 missing."),
        "{}",
        plan.stdout
    );
    p.run(&["apply", "--auto-approve"]).expect(0);
    let deletes = p.deletes();
    assert_eq!(deletes.len(), 1, "one batch request");
    let body: serde_json::Value = serde_json::from_str(&deletes[0].body).expect("JSON body");
    let mut ids: Vec<&str> = body["instances"]
        .as_array()
        .expect("instances")
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "9d78d0f4-a110-4bcd-8ca3-5aec414163c1",
            "aabe73af-1db8-4401-b39c-c56996023989"
        ]
    );
    assert_eq!(
        body.as_object().map(serde_json::Map::len),
        Some(1),
        "{body}"
    );
    let names: Vec<String> = p
        .emulator
        .shared()
        .instances()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with("dcs-8b1c-")),
        "{names:?}"
    );
}

/// The `run:` script of action.yml's step `id: run` (the one that runs the tool).
fn action_run_script() -> String {
    let doc: serde_yaml::Value = serde_yaml::from_str(&root_file("action.yml")).expect("YAML");
    let steps = doc["runs"]["steps"].as_sequence().expect("steps");
    let step = steps
        .iter()
        .find(|s| s["id"].as_str() == Some("run"))
        .expect("a step with id: run");
    step["run"].as_str().expect("run:").to_owned()
}

/// What one run of the action's script did.
struct ActionRun {
    code: i32,
    stderr: String,
    outputs: String,
    summary: String,
    /// Each `gh` invocation, one per line.
    gh: String,
    /// The comment body `gh` was given, if any.
    body: Option<String>,
}

/// Runs the action's script as GitHub does (`bash -e -o pipefail`), with the binary under test
/// on PATH, a fake `gh` that logs its calls and lists `comments` (the pages of
/// `GET …/issues/5/comments`, as `gh api --paginate` prints them), on pull request 5.
fn run_action(p: &Project, command: &str, args: &str, comments: &str) -> ActionRun {
    let tmp = tempfile::tempdir().expect("tempdir");
    let t = |name: &str| tmp.path().join(name);
    std::fs::write(t("comments.json"), comments).expect("write");
    std::fs::write(
        t("gh"),
        "#!/usr/bin/env bash\n\
         printf '%s\\n' \"$*\" >> \"$GH_LOG\"\n\
         for a in \"$@\"; do case \"$a\" in body=@*) cp \"${a#body=@}\" \"$GH_LOG.body\";; esac; done\n\
         case \"$*\" in *--paginate*) cat \"$GH_COMMENTS\";; esac\n",
    )
    .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(t("gh"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    std::fs::write(t("script.sh"), action_run_script()).expect("write");
    let bin_dir = Path::new(bin()).parent().expect("bin dir");
    let path = format!(
        "{}:{}:{}",
        tmp.path().display(),
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = std::process::Command::new("bash")
        .args(["--noprofile", "--norc", "-eo", "pipefail"])
        .arg(t("script.sh"))
        .current_dir(p.dir.path())
        .env_clear()
        .env("PATH", path)
        .env("HOME", p.dir.path())
        .envs(p.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("COMMAND", command)
        .env("MANIFEST", "dcs.yaml")
        .env("ARGS", args)
        .env("COMMENT", "true")
        .env("GH_TOKEN", "not-a-token")
        .env("PR_NUMBER", "5")
        .env("REPO", "o/r")
        .env("RUNNER_TEMP", tmp.path())
        .env("GITHUB_RUN_ID", "1")
        .env("GITHUB_RUN_ATTEMPT", "1")
        .env("GITHUB_OUTPUT", t("outputs"))
        .env("GITHUB_STEP_SUMMARY", t("summary"))
        .env("GH_LOG", t("gh.log"))
        .env("GH_COMMENTS", t("comments.json"))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("bash runs");
    let read_opt = |name: &str| std::fs::read_to_string(t(name)).ok();
    ActionRun {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        outputs: read_opt("outputs").unwrap_or_default(),
        summary: read_opt("summary").unwrap_or_default(),
        gh: read_opt("gh.log").unwrap_or_default(),
        body: read_opt("gh.log.body"),
    }
}

/// The action's run step: the plan goes to the job summary and into ONE pull-request comment
/// (posted the first time, edited in place when the marker is found, on any page), and the
/// step's result is the tool's exit code, with 2 a success only under `--detailed-exitcode`.
#[test]
fn the_action_comments_once_and_keeps_the_exit_code() {
    if std::process::Command::new("jq")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: the action's script needs jq, as GitHub's runners have");
        return;
    }
    let p = Project::new(sample());
    p.manifest("instances:\n  - name: orders-cache\n");
    let marker = "<!-- dcs-reconcile plan: dcs.yaml -->";

    // First push: deletions pending; no comment of ours yet, so one is posted.
    let run = run_action(
        &p,
        "plan",
        "--out plan.json --detailed-exitcode",
        r#"[{"id": 7, "body": "looks good"}]"#,
    );
    assert_eq!(
        run.code, 0,
        "2 under --detailed-exitcode is a success: {}",
        run.stderr
    );
    assert!(run.outputs.contains("exitcode=2\n"), "{}", run.outputs);
    assert!(run.summary.contains("dcs-8b1c-000"), "{}", run.summary);
    assert!(
        p.dir.path().join("plan.json").exists(),
        "--out was passed on"
    );
    assert!(
        run.gh
            .contains("api --silent repos/o/r/issues/5/comments -F body=@"),
        "{}",
        run.gh
    );
    assert!(!run.gh.contains("PATCH"), "{}", run.gh);
    let body = run.body.expect("a comment body");
    assert!(body.starts_with(&format!("{marker}\n")), "{body}");
    assert!(body.contains("dcs-8b1c-000"), "{body}");

    // A later push: our comment is on the second page; it is edited, not posted again.
    let pages = format!(
        r#"[{{"id": 7, "body": "looks good"}}][{{"id": 9, "body": "{marker}\nold plan"}}]"#
    );
    let run = run_action(&p, "plan", "", &pages);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.outputs.contains("exitcode=0\n"), "{}", run.outputs);
    assert!(
        run.gh
            .contains("api --silent -X PATCH repos/o/r/issues/comments/9 -F body=@"),
        "{}",
        run.gh
    );
    assert!(
        !run.gh.contains("issues/5/comments -F"),
        "no second comment: {}",
        run.gh
    );

    // apply without a terminal or --auto-approve exits 1: so does the step.
    let run = run_action(&p, "apply", "", "[]");
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.summary.contains("dcs-reconcile apply (exit 1)"),
        "{}",
        run.summary
    );
    assert!(run.gh.is_empty(), "apply never comments: {}", run.gh);
    assert!(p.deletes().is_empty());

    // apply --auto-approve deletes and succeeds.
    let run = run_action(&p, "apply", "--auto-approve", "[]");
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.summary.contains("Apply complete"), "{}", run.summary);
    assert_eq!(p.deletes().len(), 1);
}

/// The fleet example's documents (the ConfigMap, then the CronJob), as YAML values.
fn fleet_example() -> (serde_yaml::Value, serde_yaml::Value) {
    use serde::Deserialize;
    let text = read(&examples().join("kubernetes/fleet-indexed-job.yaml"));
    let docs: Vec<serde_yaml::Value> = serde_yaml::Deserializer::from_str(&text)
        .map(|d| serde_yaml::Value::deserialize(d).expect("YAML"))
        .collect();
    assert_eq!(docs.len(), 2, "a ConfigMap and a CronJob");
    assert_eq!(docs[0]["kind"].as_str(), Some("ConfigMap"));
    assert_eq!(docs[1]["kind"].as_str(), Some("CronJob"));
    (docs[0].clone(), docs[1].clone())
}

/// The manifests of the fleet's ConfigMap: (file name, text), in the order of the file.
fn fleet_manifests(configmap: &serde_yaml::Value) -> Vec<(String, String)> {
    configmap["data"]
        .as_mapping()
        .expect("data:")
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().expect("a key").to_owned(),
                v.as_str().expect("a text").to_owned(),
            )
        })
        .collect()
}

/// The one container of the fleet CronJob's pods, and its `args` as strings.
fn fleet_container(cronjob: &serde_yaml::Value) -> (serde_yaml::Value, Vec<String>) {
    let containers = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .expect("containers");
    assert_eq!(containers.len(), 1, "{containers:?}");
    let c = containers[0].clone();
    let args = c["args"]
        .as_sequence()
        .expect("args")
        .iter()
        .map(|a| a.as_str().expect("a string argument").to_owned())
        .collect();
    (c, args)
}

/// The value of `--flag` in `args`, given as `--flag V` or `--flag=V`.
fn flag_value<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    let eq = format!("{flag}=");
    args.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            args.get(i + 1).map(String::as_str)
        } else {
            a.strip_prefix(&eq)
        }
    })
}

/// The Indexed Job of examples/kubernetes/fleet-indexed-job.yaml: one shard per index, N in
/// `--shard $(JOB_COMPLETION_INDEX)/N` equal to `completions` and `parallelism`, no blind
/// retries (and no failed shard cutting the others short), run as the Dockerfile's user with
/// the current image, and every manifest of its ConfigMap valid, at the path given to `-f`.
#[test]
fn the_fleet_indexed_job_runs_one_shard_per_index() {
    let (configmap, cronjob) = fleet_example();
    assert_eq!(
        configmap["metadata"]["namespace"],
        cronjob["metadata"]["namespace"]
    );
    let spec = &cronjob["spec"];
    assert_eq!(spec["concurrencyPolicy"].as_str(), Some("Forbid"));
    let job = &spec["jobTemplate"]["spec"];
    assert_eq!(job["completionMode"].as_str(), Some("Indexed"));
    let completions = job["completions"].as_u64().expect("completions");
    assert!(completions >= 2, "a fleet of one shard is not sharded");
    assert_eq!(
        job["parallelism"].as_u64(),
        Some(completions),
        "every shard at once"
    );
    // A failed shard is not run again, and does not stop the others: per-index limit 0, a
    // global limit that all shards failing once cannot exceed before the last one ends, and
    // no maxFailedIndexes.
    assert_eq!(job["backoffLimitPerIndex"].as_u64(), Some(0));
    let backoff = job["backoffLimit"].as_u64().expect("backoffLimit");
    assert!(
        backoff + 1 >= completions && backoff < completions,
        "backoffLimit {backoff} for {completions} shards"
    );
    assert!(job.get("maxFailedIndexes").is_none());
    assert!(job["activeDeadlineSeconds"].as_u64().is_some());
    let pod = &job["template"]["spec"];
    assert_eq!(pod["restartPolicy"].as_str(), Some("Never"));
    assert!(
        pod["terminationGracePeriodSeconds"]
            .as_u64()
            .is_some_and(|s| s > 60),
        "time to settle the request in flight (--timeout, 60 s) after SIGTERM"
    );
    assert_eq!(pod["securityContext"]["runAsNonRoot"].as_bool(), Some(true));
    let uid = pod["securityContext"]["runAsUser"]
        .as_u64()
        .expect("runAsUser");
    let dockerfile = root_file("Dockerfile");
    assert!(
        dockerfile.lines().any(|l| l
            .trim()
            .strip_prefix("USER ")
            .is_some_and(|u| u.split(':').next().is_some_and(|u| u == uid.to_string()))),
        "the Dockerfile's USER is {uid}"
    );

    let (container, args) = fleet_container(&cronjob);
    assert_eq!(
        container["image"].as_str(),
        Some(format!("registry.example.com/platform/dcs-reconcile:{}", version()).as_str()),
        "the image is the current version, as in cronjob.yaml"
    );
    let text = read(&examples().join("kubernetes/fleet-indexed-job.yaml"));
    assert!(
        text.contains(&format!(
            "docker build -t registry.example.com/platform/dcs-reconcile:{} .",
            version()
        )) && text.contains(&format!("git checkout v{}", version())),
        "it says how to build the image it runs"
    );
    assert_eq!(args.first().map(String::as_str), Some("apply"), "{args:?}");
    assert!(args.iter().any(|a| a == "--auto-approve"), "{args:?}");
    assert_eq!(
        flag_value(&args, "--format"),
        Some("json"),
        "the report in the log"
    );
    assert_eq!(
        flag_value(&args, "--shard"),
        Some(format!("$(JOB_COMPLETION_INDEX)/{completions}").as_str()),
        "the shard count in --shard is `completions`: {args:?}"
    );
    // The index comes from the Job controller's variable; a variable of the same name in
    // `env` would replace it.
    assert!(
        container["env"].as_sequence().is_none_or(|env| env
            .iter()
            .all(|e| e["name"].as_str() != Some("JOB_COMPLETION_INDEX"))),
        "{container:?}"
    );
    assert_eq!(
        container["envFrom"][0]["secretRef"]["name"].as_str(),
        Some("dcs-credentials")
    );
    assert!(
        container["resources"]["limits"]["memory"]
            .as_str()
            .is_some()
    );
    let sc = &container["securityContext"];
    assert_eq!(sc["allowPrivilegeEscalation"].as_bool(), Some(false));
    assert_eq!(sc["readOnlyRootFilesystem"].as_bool(), Some(true));

    // `-f` names the directory where the ConfigMap is mounted.
    let dir = flag_value(&args, "-f").expect("-f");
    let mount = container["volumeMounts"]
        .as_sequence()
        .expect("volumeMounts")
        .iter()
        .find(|m| m["mountPath"].as_str() == Some(dir))
        .unwrap_or_else(|| panic!("nothing mounted at {dir}"));
    let volume = pod["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mounted volume");
    assert_eq!(
        volume["configMap"]["name"], configmap["metadata"]["name"],
        "the ConfigMap is what is mounted at {dir}"
    );

    // Several manifests, each a valid target of its own project and region, all read by a
    // directory `-f` (named *.yaml or *.yml).
    let manifests = fleet_manifests(&configmap);
    assert!(manifests.len() > 2, "{manifests:?}");
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut targets = std::collections::BTreeSet::new();
    for (name, text) in &manifests {
        assert!(
            name.ends_with(".yaml") || name.ends_with(".yml"),
            "{name} would not be read from {dir}"
        );
        let doc: serde_yaml::Value = serde_yaml::from_str(text).expect("YAML");
        assert!(
            doc["scope"]["name_prefix"].as_str().is_some(),
            "{name}: a cleanup job is scoped"
        );
        assert!(
            targets.insert((
                doc["region"].as_str().map(str::to_owned),
                doc["project_id"].as_str().map(str::to_owned),
            )),
            "{name}: two manifests name the same project"
        );
        let path = tmp.path().join(name);
        std::fs::write(&path, text).expect("write");
        let f = path.display().to_string();
        let run = run_in(tmp.path(), &["validate", "-f", &f], &[]).expect(0);
        assert!(run.stdout.contains("is valid"), "{name}: {}", run.stdout);
    }
}

/// The parts of the fleet example that need the fleet flags (`-f DIR`, `--shard`,
/// `--max-delete-total`): every pod's command line parses, with the index the Job controller
/// gives it, and `validate -f` reads the ConfigMap as Kubernetes mounts it (each key a
/// symbolic link into `..data`, a link to a hidden timestamped directory).
// Written before the fleet flags landed: run with `cargo test -- --ignored fleet`, then
// remove this attribute once they are merged.
#[test]
fn the_fleet_indexed_job_command_parses_and_reads_a_configmap_mount() {
    let (configmap, cronjob) = fleet_example();
    let completions = cronjob["spec"]["jobTemplate"]["spec"]["completions"]
        .as_u64()
        .expect("completions");
    let (_, args) = fleet_container(&cronjob);
    for index in 0..completions {
        let mut words = vec!["dcs-reconcile".to_owned()];
        words.extend(
            args.iter()
                .map(|a| a.replace("$(JOB_COMPLETION_INDEX)", &index.to_string())),
        );
        if let Err(e) = Cli::try_parse_from(&words) {
            panic!(
                "pod {index} runs `{}`, which does not parse: {e}",
                words.join(" ")
            );
        }
    }

    // docs/ci.md's fleet commands: the pod's command line and the several-`-f` recipes for
    // GitLab and the GitHub Action.
    let mut checked = 0;
    for block in ci_md_fleet_blocks() {
        let mut lines = command_lines(&block);
        lines.extend(action_uses(&block));
        for words in lines {
            let words: Vec<String> = words
                .iter()
                .map(|w| w.replace("$(JOB_COMPLETION_INDEX)", "0"))
                .collect();
            if let Err(e) = Cli::try_parse_from(&words) {
                panic!("docs/ci.md: `{}` does not parse: {e}", words.join(" "));
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 6,
        "only {checked} commands in docs/ci.md's fleet section"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().expect("tempdir");
        let mount = tmp.path().join("manifests");
        let stamp = mount.join("..2026_12_02_00_00_00.000000001");
        std::fs::create_dir_all(&stamp).expect("mkdir");
        let manifests = fleet_manifests(&configmap);
        for (name, text) in &manifests {
            std::fs::write(stamp.join(name), text).expect("write");
        }
        symlink("..2026_12_02_00_00_00.000000001", mount.join("..data")).expect("symlink");
        for (name, _) in &manifests {
            symlink(format!("..data/{name}"), mount.join(name)).expect("symlink");
        }
        let m = mount.display().to_string();
        run_in(tmp.path(), &["validate", "-f", &m], &[]).expect(0);
        // The files behind the links are read: a bad one makes the directory invalid.
        std::fs::write(stamp.join(&manifests[0].0), "instances: [\n").expect("write");
        run_in(tmp.path(), &["validate", "-f", &m], &[]).expect(1);
    }
}

/// The code blocks of docs/ci.md's section on fleets and sharding, each as one text.
fn ci_md_fleet_blocks() -> Vec<String> {
    let text = root_file("docs/ci.md");
    let start = text
        .find("\n## A fleet in one run, and sharding on Kubernetes\n")
        .expect("the fleet section of docs/ci.md");
    let section = &text[start + 1..];
    let section = &section[..section.find("\n## ").unwrap_or(section.len())];
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in section.lines() {
        if line.starts_with("```") {
            match current.take() {
                Some(block) => blocks.push(block),
                None => current = Some(String::new()),
            }
        } else if let Some(block) = current.as_mut() {
            block.push_str(line);
            block.push('\n');
        }
    }
    assert!(current.is_none(), "an unclosed code block");
    blocks
}

/// docs/ci.md's worked example of the shard formula (SHA-256 of path NUL region NUL project,
/// the first 8 bytes as a big-endian u64, modulo N) prints what the formula gives.
#[test]
fn the_shard_example_of_ci_md_is_the_formula() {
    use sha2::{Digest, Sha256};
    let blocks = ci_md_fleet_blocks();
    let block = blocks
        .iter()
        .find(|b| b.contains("sha256sum"))
        .expect("the worked example");
    let words: Vec<&str> = block
        .split_once(r"printf '%s\0%s\0%s' ")
        .expect("printf of the key")
        .1
        .split_whitespace()
        .take(3)
        .collect();
    let key = words.join("\0");
    let n: u64 = block
        .split_once("$(printf %X ")
        .and_then(|(_, rest)| rest.split(')').next())
        .and_then(|n| n.parse().ok())
        .expect("N");
    let printed: u64 = block
        .split_once("# prints ")
        .and_then(|(_, rest)| rest.split_whitespace().next())
        .and_then(|k| k.parse().ok())
        .expect("the shard it prints");
    let digest = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    assert_eq!(u64::from_be_bytes(first) % n, printed, "key {key:?}");
    // The example is a target of the fleet example, where the ConfigMap is mounted.
    let (configmap, _) = fleet_example();
    let manifests = fleet_manifests(&configmap);
    let (name, text) = manifests
        .iter()
        .find(|(name, _)| words[0] == format!("/manifests/{name}"))
        .expect("the example's manifest is in fleet-indexed-job.yaml");
    let doc: serde_yaml::Value = serde_yaml::from_str(text).expect("YAML");
    assert_eq!(doc["region"].as_str(), Some(words[1]), "{name}");
    assert_eq!(doc["project_id"].as_str(), Some(words[2]), "{name}");
}
