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
    let dir = tempfile::tempdir().expect("it works");
    let run = run_in(dir.path(), &["demo"], &[]).expect(0);
    let out = &run.stdout;
    assert!(
        out.contains("dcs-8b1c-000") && out.contains("dcs-8b1c-001"),
        "{out}"
    );
    assert!(
        out.contains("Plan: 2 to delete, 3 to keep, 2 to skip, 1 missing."),
        "{out}"
    );
    assert!(
        out.contains(
            "Plan: 2 to delete (1 to the recycle bin, 1 permanently), 1 to keep, 2 to skip, 0 missing."
        ),
        "{out}"
    );
    assert!(
        out.contains("Apply complete: 2 deleted, 0 failed."),
        "{out}"
    );
    // The activity guard keeps one undeclared instance that Cloud Eye shows in use.
    assert!(
        out.contains("  ~ ci-pr-1841  ") && out.contains("      in use: peak 12 ops/s, "),
        "{out}"
    );
    // The DCS API guide's example: dcs-8b1c-000 and dcs-8b1c-001, by their documented ids,
    // deleted in one batch request with the documented body.
    assert!(
        out.contains("deleted  dcs-8b1c-000 (aabe73af-1db8-4401-b39c-c56996023989)")
            && out.contains("deleted  dcs-8b1c-001 (9d78d0f4-a110-4bcd-8ca3-5aec414163c1)"),
        "{out}"
    );
    assert!(
        out.contains(
            "{\"instances\":[\"aabe73af-1db8-4401-b39c-c56996023989\",\"9d78d0f4-a110-4bcd-8ca3-5aec414163c1\"]}"
        ),
        "{out}"
    );
    assert!(out.contains("No changes."), "{out}");
    assert!(out.contains("-> recycle bin (7 days)"), "{out}");
    assert!(
        out.contains("destroyed permanently: Redis 3.0 cannot use the recycle bin"),
        "{out}"
    );
    assert!(out.contains("$ dcs-reconcile apply -f"), "{out}");
    assert!(out.contains("export HUAWEICLOUD_SDK_AK="), "{out}");
}

#[test]
fn every_command_has_help_with_examples_that_parse() {
    use clap::{CommandFactory, Parser};
    let dir = tempfile::tempdir().expect("tempdir");
    let mut commands: Vec<Vec<String>> = vec![vec![]];
    commands.extend(
        dcs_reconcile::cli::Cli::command()
            .get_subcommands()
            .filter(|c| c.get_name() != "help")
            .map(|c| vec![c.get_name().to_owned()]),
    );
    assert!(commands.len() >= 10, "{commands:?}");
    for cmd in commands {
        let mut args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        args.push("--help");
        let run = run_in(dir.path(), &args, &[]).expect(0);
        assert!(run.stdout.contains("Example"), "{cmd:?}: {}", run.stdout);
        let examples: Vec<&str> = run
            .stdout
            .lines()
            .map(str::trim)
            .filter(|l| l.starts_with("dcs-reconcile "))
            .collect();
        assert!(
            !examples.is_empty(),
            "{cmd:?} has no example: {}",
            run.stdout
        );
        for example in examples {
            // Up to a comment, a redirection or a second command.
            let line = example
                .split(['#', '>', '&', '|'])
                .next()
                .unwrap_or_default();
            let words: Vec<&str> = line.split_whitespace().collect();
            if let Err(e) = dcs_reconcile::cli::Cli::try_parse_from(&words) {
                panic!("{cmd:?}: the example `{example}` does not parse: {e}");
            }
            if !cmd.is_empty() {
                assert_eq!(
                    words.get(1),
                    cmd.first().map(String::as_str).as_ref(),
                    "{example}"
                );
            }
        }
    }
}

#[test]
fn usage_errors_exit_1_not_2() {
    let dir = tempfile::tempdir().expect("it works");
    let run = run_in(dir.path(), &["plan", "--no-such-flag"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let run = run_in(dir.path(), &["plan", "--format", "yaml"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    let run = run_in(dir.path(), &[], &[]);
    assert_eq!(run.code, 1, "{run:?}");
}

#[test]
fn the_emulator_command_serves_saves_its_state_and_stays_on_loopback() {
    let dir = tempfile::tempdir().expect("it works");
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
    .expect("it works");
    let emulator = spawn_emulator(&[
        "--state".as_ref(),
        state.as_os_str(),
        "--project-id".as_ref(),
        PID.as_ref(),
        "--ak".as_ref(),
        AK.as_ref(),
        "--sk".as_ref(),
        SK.as_ref(),
    ]);
    let (first, url) = (emulator.banner.clone(), emulator.url.clone());
    assert!(first.contains("2 instances"), "{first}");
    assert!(first.contains("signatures checked"), "{first}");

    std::fs::write(
        dir.path().join("dcs.yaml"),
        format!("project_id: {PID}\nendpoint: {url}\ninstances:\n  - name: keep\n"),
    )
    .expect("it works");
    let env = [
        ("HUAWEICLOUD_SDK_AK".to_owned(), AK.to_owned()),
        ("HUAWEICLOUD_SDK_SK".to_owned(), SK.to_owned()),
    ];
    let run = run_in(dir.path(), &["apply", "--auto-approve"], &env);
    drop(emulator);
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
    let dir = tempfile::tempdir().expect("it works");
    let emulator = spawn_emulator(
        &[
            "--generate",
            "3",
            "--fault",
            "list:503",
            "--delete-linger",
            "2",
            "--latency-ms",
            "1",
        ]
        .map(std::ffi::OsStr::new),
    );
    let url = emulator.url.clone();
    std::fs::write(
        dir.path().join("dcs.yaml"),
        format!("project_id: {PID}\nendpoint: {url}\ninstances:\n  - name: gen-000000\n"),
    )
    .expect("it works");
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
    drop(emulator);
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
