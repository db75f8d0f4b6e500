use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::*;

#[test]
fn validate_checks_the_manifest_without_any_request() {
    let p = Project::new(sample());
    p.manifest("instances:\n  - name: a\n  - id: b\n");
    let run = p.run(&["validate"]).expect(0);
    assert_eq!(run.stdout, "dcs.yaml is valid: 2 instances declared.\n");
    // Even without credentials.
    let run = run_in(p.dir.path(), &["validate", "-f", "dcs.yaml"], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(p.requests().is_empty());
}

#[test]
fn demo_runs_the_whole_flow() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let run = run_in(dir.path(), &["demo"], &[]).expect(0);
    let out = &run.stdout;
    assert!(
        out.contains("dcs-8b1c-000") && out.contains("dcs-8b1c-001"),
        "{out}"
    );
    assert!(
        out.contains("Plan: 3 to delete, 3 to keep, 1 to skip, 1 missing."),
        "{out}"
    );
    assert!(
        out.contains("Apply complete: 3 deleted, 0 failed."),
        "{out}"
    );
    assert!(out.contains("No changes."), "{out}");
    assert!(out.contains("$ dcs-reconcile apply -f"), "{out}");
    assert!(out.contains("export HUAWEICLOUD_SDK_AK="), "{out}");
}

#[test]
fn every_command_has_help_with_an_example() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for cmd in [
        vec![],
        vec!["plan"],
        vec!["apply"],
        vec!["validate"],
        vec!["emulator"],
        vec!["demo"],
    ] {
        let mut args = cmd.clone();
        args.push("--help");
        let run = run_in(dir.path(), &args, &[]).expect(0);
        assert!(run.stdout.contains("Example"), "{cmd:?}: {}", run.stdout);
        assert!(run.stdout.contains("dcs-reconcile"), "{cmd:?}");
    }
}

#[test]
fn usage_errors_exit_1_not_2() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let run = run_in(dir.path(), &["plan", "--no-such-flag"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let run = run_in(dir.path(), &["plan", "--format", "yaml"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let run = run_in(dir.path(), &[], &[]);
    assert_eq!(run.code, 1, "{run:?}");
}

#[test]
fn the_emulator_command_serves_saves_its_state_and_stays_on_loopback() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let state = dir.path().join("state.json");
    let refused = run_in(dir.path(), &["emulator", "--listen", "0.0.0.0:0"], &[]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("only listens on loopback"),
        "{}",
        refused.stderr
    );

    // Seed the state file with two instances in the API's format.
    std::fs::write(
        &state,
        r#"{"instance_num": 2, "instances": [
            {"instance_id": "a1", "name": "keep", "status": "RUNNING", "charging_mode": 0, "vpc_name": "v1"},
            {"instance_id": "b2", "name": "drop", "status": "RUNNING", "charging_mode": 0}]}"#,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(bin())
        .args(["emulator", "--listen", "127.0.0.1:0", "--state"])
        .arg(&state)
        .args(["--project-id", PID, "--ak", AK, "--sk", SK])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut first = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut first);
    }
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    assert!(first.contains("2 instances"), "{first}");
    assert!(first.contains("signatures checked"), "{first}");

    std::fs::write(
        dir.path().join("dcs.yaml"),
        format!("project_id: {PID}\nendpoint: {url}\ninstances:\n  - name: keep\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let env = [
        ("HUAWEICLOUD_SDK_AK".to_owned(), AK.to_owned()),
        ("HUAWEICLOUD_SDK_SK".to_owned(), SK.to_owned()),
    ];
    let run = run_in(dir.path(), &["apply", "--auto-approve"], &env);
    let _ = child.kill();
    let _ = child.wait();
    let run = run.expect(0);
    assert!(run.stdout.contains("deleted  drop (b2)"), "{}", run.stdout);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap_or_default())
            .unwrap_or_default();
    assert_eq!(saved["instance_num"], 1);
    assert_eq!(saved["instances"][0]["instance_id"], "a1");
    assert_eq!(
        saved["instances"][0]["vpc_name"], "v1",
        "unknown fields are kept"
    );
}

#[test]
fn the_emulator_command_takes_faults_linger_and_latency_from_its_flags() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(bin())
        .args(["emulator", "--listen", "127.0.0.1:0", "--generate", "3"])
        .args([
            "--fault",
            "list:503",
            "--delete-linger",
            "2",
            "--latency-ms",
            "1",
        ])
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut first = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut first);
    }
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {first:?}"))
        .to_owned();
    std::fs::write(
        dir.path().join("dcs.yaml"),
        format!("project_id: {PID}\nendpoint: {url}\ninstances:\n  - name: gen-000000\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let env = [
        ("HUAWEICLOUD_SDK_AK".to_owned(), AK.to_owned()),
        ("HUAWEICLOUD_SDK_SK".to_owned(), SK.to_owned()),
    ];
    let run = run_in(
        dir.path(),
        &[
            "apply",
            "--auto-approve",
            "--wait",
            "--wait-interval",
            "20ms",
        ],
        &env,
    );
    let _ = child.kill();
    let _ = child.wait();
    let run = run.expect(0);
    assert!(
        run.stderr.contains("HTTP 503"),
        "the fault was injected: {}",
        run.stderr
    );
    assert!(
        run.stdout.contains("  DELETING  gen-000001"),
        "linger: {}",
        run.stdout
    );
    assert!(
        run.stdout.contains("All 2 deleted instances are gone"),
        "{}",
        run.stdout
    );
}
