//! What an adversarial review broke, each case against the real binary: invisible
//! differences, doubtful listings, forged output, stale confirmations, signals, exit codes
//! after deletions, saved-plan forgeries, unbounded input, credentials-file strictness.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

const ID_A: &str = "7fd63116-e1ea-4cd1-9b1c-00000000000a";
const ID_B: &str = "7fd63116-e1ea-4cd1-9b1c-00000000000b";

/// `apply --auto-approve` in `p`, running, with its output captured.
fn spawn_apply(p: &Project) -> std::process::Child {
    command_in(p.dir.path(), &["apply", "--auto-approve"], &p.env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn")
}

/// Polls `done` every few milliseconds for at most 30 s.
fn wait_for(done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn inst(id: &str, name: &str) -> EmuInstance {
    EmuInstance::new(id, name).created("2024-01-01T00:00:00.000Z")
}

#[test]
fn an_upper_case_id_or_a_decomposed_name_declares_the_live_instance() {
    let p = Project::new(vec![inst(ID_A, "café"), inst(ID_B, "b")]);
    p.manifest(&format!(
        "instances:\n  - name: \"cafe\\u0301\"\n  - id: {}\n",
        ID_B.to_uppercase()
    ));
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
    assert!(p.deletes().is_empty());
}

#[test]
fn a_missing_entry_that_looks_like_a_deletion_stops_apply_with_did_you_mean() {
    let p = Project::new(vec![inst(ID_A, "orders-cache"), inst(ID_B, "keep")]);
    // Invisible characters are refused by the manifest itself; case and width slip through.
    p.manifest("instances:\n  - name: keep\n  - name: Orders-Cache\n");
    let run = p.run(&["apply", "--auto-approve"]).expect(3);
    assert!(
        run.stderr
            .contains("near miss: instances[1] (name: Orders-Cache)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("did you mean \"orders-cache\"?"),
        "{}",
        run.stderr
    );
    assert!(p.deletes().is_empty());
    let run = p.run(&["plan"]).expect(0);
    assert!(
        run.stdout
            .contains("Apply would refuse this plan: near miss"),
        "{}",
        run.stdout
    );
    // An invisible character in the manifest is refused, and shown escaped.
    p.manifest("instances:\n  - name: keep\n  - name: \"orders\\u200b-cache\"\n");
    let run = p.run(&["plan"]).expect(1);
    assert!(
        run.stderr.contains("orders\\u{200b}-cache"),
        "{}",
        run.stderr
    );
}

#[test]
fn unknown_billing_modes_and_empty_ids_are_never_deleted() {
    let mut odd = Vec::new();
    for (n, mode) in [Value::Null, serde_json::json!(1.5), serde_json::json!(true)]
        .into_iter()
        .enumerate()
    {
        odd.push(
            inst(&format!("{ID_A}{n}"), &format!("odd-{n}")).with_field("charging_mode", mode),
        );
    }
    let p = Project::new(odd);
    p.manifest("guards: {allow_empty: true}\ninstances: []\n");
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        run.stdout.matches("billing mode unknown").count(),
        3,
        "{}",
        run.stdout
    );
    assert!(p.deletes().is_empty());
    let p = Project::new(vec![inst("", "no-id")]);
    p.manifest("guards: {allow_empty: true}\ninstances: []\n");
    let run = p.run(&["apply", "--auto-approve"]).expect(1);
    assert!(run.stderr.contains("instance_id"), "{}", run.stderr);
    assert!(p.deletes().is_empty());
}

#[test]
fn control_characters_in_live_names_cannot_forge_plan_lines() {
    let forged = "evil\nPlan: 0 to delete, 9 to keep, 0 missing.\x1b[2K";
    let p = Project::new(vec![inst(ID_A, forged), inst(ID_B, "keep")]);
    p.manifest("instances:\n  - name: keep\n");
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(!run.stdout.contains('\x1b'), "{}", run.stdout);
    assert_eq!(
        run.stdout.matches("\nPlan: ").count(),
        1,
        "one summary line only: {}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("evil\\nPlan: 0 to delete, 9 to keep, 0 missing.\\x1b[2K"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("  deleted  evil\\nPlan"),
        "{}",
        run.stdout
    );
}

#[test]
fn small_things_a_careful_user_notices() {
    let p = Project::new(vec![
        inst(ID_A, "one"),
        EmuInstance::new(ID_B, "future").created("2999-01-01T00:00:00.000Z"),
    ]);
    p.manifest("guards: {min_age: 1h}\ninstances:\n  - name: one\n");
    let run = p.run(&["plan"]).expect(0);
    assert!(run.stdout.contains(": 2 live instances;"), "{}", run.stdout);
    assert!(
        run.stdout.contains("created in the future"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("0s ago"), "{}", run.stdout);
    p.manifest("instances: []\nguards: {allow_empty: true}\n");
    let one = Project::new(vec![inst(ID_A, "one")]);
    one.manifest("instances:\n  - name: one\n");
    let run = one.run(&["plan"]).expect(0);
    assert!(run.stdout.contains(": 1 live instance;"), "{}", run.stdout);
    let run = one.run(&["plan", "--project-id", ""]).expect(1);
    assert!(
        run.stderr.contains("--project-id is empty"),
        "{}",
        run.stderr
    );
    let run = one.run(&["plan", "--max-retries", "-1"]).expect(1);
    assert!(run.stderr.contains("invalid value '-1'"), "{}", run.stderr);
    let run = one
        .run(&["plan", "--timeout", "18446744073709551615"])
        .expect(1);
    assert!(run.stderr.contains("at most 366 days"), "{}", run.stderr);
    assert!(one.requests().len() <= 1);
}

#[test]
fn on_a_terminal_only_exactly_yes_confirms() {
    for answer in [" yes", "yes ", "YES", "y"] {
        let p = Project::new(vec![inst(ID_A, "drop"), inst(ID_B, "keep")]);
        p.manifest("instances:\n  - name: keep\n");
        let run = run_on_terminal(p.dir.path(), &["apply"], &p.env, Some(answer), || {
            !p.requests().is_empty()
        });
        assert_eq!(run.code, 1, "{answer:?}: {run:?}");
        assert!(run.stdout.contains("apply cancelled"), "{answer:?}");
        assert!(p.deletes().is_empty(), "{answer:?}");
    }
}

#[test]
fn the_prompt_is_on_the_terminal_even_when_stderr_is_redirected() {
    let p = Project::new(vec![inst(ID_A, "drop"), inst(ID_B, "keep")]);
    p.manifest("instances:\n  - name: keep\n");
    let log = p.dir.path().join("log");
    // Under the terminal, stderr goes to a file: the question must still be seen.
    let run = run_on_terminal_shell(
        p.dir.path(),
        &format!("{} apply 2>{}", bin(), log.display()),
        &p.env,
        Some("no"),
        || !p.requests().is_empty(),
    );
    assert!(
        run.stdout
            .contains("Only 'yes' will be accepted to confirm."),
        "the prompt is on the terminal: {run:?}"
    );
    let log = std::fs::read_to_string(log).expect("log");
    assert!(!log.contains("Enter a value"), "{log}");
}

#[test]
fn after_yes_apply_lists_again_and_refuses_what_changed_meanwhile() {
    let p = Project::new(vec![inst(ID_A, "drop"), inst(ID_B, "keep")]);
    p.manifest("protect:\n  - tag: {keep: 'true'}\ninstances:\n  - name: keep\n");
    let shared = p.emulator.shared();
    let run = run_on_terminal(p.dir.path(), &["apply"], &p.env, Some("yes"), || {
        if p.requests().is_empty() {
            return false;
        }
        // While the question is open, someone tags the instance for protection.
        shared.update_instances(|all| {
            for i in all.iter_mut() {
                if i.id == ID_A {
                    *i = i.clone().tagged(&[("keep", "true")]);
                }
            }
        });
        true
    });
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout
            .contains("the plan shown before the prompt is stale"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("would no longer be deleted: protected"),
        "{}",
        run.stdout
    );
    assert!(p.deletes().is_empty());
    assert_eq!(p.live_ids().len(), 2);
}

#[test]
fn a_failing_wait_listing_after_deletions_exits_4_not_1() {
    let p = Project::with_config(EmulatorConfig {
        delete_linger: 50,
        ..signed(vec![inst(ID_A, "drop"), inst(ID_B, "keep")])
    });
    p.manifest("instances:\n  - name: keep\n");
    // The listing breaks after the deletion: every later GET answers 500.
    let shared = p.emulator.shared();
    let child = command_in(
        p.dir.path(),
        &[
            "apply",
            "--auto-approve",
            "--wait",
            "--wait-interval",
            "50ms",
            "--max-retries",
            "0",
        ],
        &p.env,
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn");
    wait_for(|| shared.requests().iter().any(|r| r.method == "DELETE"));
    shared.push_faults(["list:500x50".parse().expect("fault")]);
    let run = run_of(child.wait_with_output().expect("wait"));
    assert_eq!(run.code, 4, "{run:?}");
    assert!(run.stderr.contains("could not confirm"), "{}", run.stderr);
}

#[test]
fn a_closed_stdout_after_the_deletions_keeps_the_outcome_exit_code() {
    let p = Project::new(vec![inst(ID_A, "drop"), inst(ID_B, "keep")]);
    p.manifest("instances:\n  - name: keep\n");
    // Portable: run the binary with a pipe whose reader is closed at once.
    let mut child = command_in(
        p.dir.path(),
        &["apply", "--auto-approve", "--format", "json"],
        &p.env,
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn");
    drop(child.stdout.take());
    let status = child.wait().expect("wait");
    assert_eq!(
        status.code(),
        Some(0),
        "the deletion succeeded: exit 0, not 1"
    );
    assert_eq!(p.live_ids(), [ID_B.to_owned()]);
}

#[test]
fn sigint_during_apply_stops_sending_and_reports_every_instance() {
    let mut all: Vec<EmuInstance> = generated(120);
    all.push(inst(ID_B, "keep"));
    let p = Project::with_config(EmulatorConfig {
        latency: Duration::from_millis(800),
        ..signed(all)
    });
    p.manifest("instances:\n  - name: keep\n");
    let shared = p.emulator.shared();
    let child = spawn_apply(&p);
    // Once the first batch is answered, the second is in flight (800 ms of latency).
    wait_for(|| shared.requests().iter().any(|r| r.method == "DELETE"));
    std::thread::sleep(Duration::from_millis(300));
    send_signal(child.id(), "INT");
    let run = run_of(child.wait_with_output().expect("wait"));
    assert_eq!(run.code, 4, "deletions were sent: {run:?}");
    let deletes = p.deletes().len();
    assert_eq!(
        deletes, 2,
        "the batch in flight finishes, no further batch is sent"
    );
    assert_eq!(
        run.stdout.matches("  deleted  gen-").count(),
        100,
        "{}",
        run.stdout
    );
    assert_eq!(
        run.stdout
            .matches("not attempted: interrupted by SIGINT before this batch was sent")
            .count(),
        20,
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("interrupted by SIGINT: 20 of 120"),
        "{}",
        run.stderr
    );
    assert_eq!(p.live_ids().len(), 21);
}

#[test]
fn sigterm_before_any_deletion_exits_143() {
    let p = Project::with_config(EmulatorConfig {
        latency: Duration::from_millis(1500),
        ..signed(vec![inst(ID_A, "drop"), inst(ID_B, "keep")])
    });
    p.manifest("instances:\n  - name: keep\n");
    let child = spawn_apply(&p);
    // The listing takes 1.5 s: the signal arrives while it is in flight.
    let shared = p.emulator.shared();
    wait_for(|| shared.in_flight() > 0);
    send_signal(child.id(), "TERM");
    let run = run_of(child.wait_with_output().expect("wait"));
    assert_eq!(run.code, 143, "{run:?}");
    assert!(p.deletes().is_empty());
}

fn saved_plan(p: &Project, env: &[(String, String)]) -> std::path::PathBuf {
    let mut env = env.to_vec();
    env.extend(p.env.iter().cloned());
    run_in(p.dir.path(), &["plan", "--out", "plan.json"], &env).expect(0);
    p.dir.path().join("plan.json")
}

#[test]
fn with_a_plan_key_only_plans_signed_with_it_are_applied() {
    let p = Project::new(vec![inst(ID_A, "drop"), inst(ID_B, "keep")]);
    p.manifest("instances:\n  - name: keep\n");
    let key = (
        "DCS_RECONCILE_PLAN_KEY".to_owned(),
        "ci-secret-key-1".to_owned(),
    );
    let file = saved_plan(&p, std::slice::from_ref(&key));
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("json");
    assert_eq!(doc["plan_signature"].as_str().map(str::len), Some(64));
    assert!(
        !std::fs::read_to_string(&file)
            .expect("read")
            .contains("ci-secret-key-1")
    );
    let mut wrong = p.env.clone();
    wrong.push(("DCS_RECONCILE_PLAN_KEY".to_owned(), "another".to_owned()));
    let run = run_in(p.dir.path(), &["apply", "--plan", "plan.json"], &wrong).expect(1);
    assert!(
        run.stderr.contains("does not match DCS_RECONCILE_PLAN_KEY"),
        "{}",
        run.stderr
    );
    assert!(p.deletes().is_empty());
    // Unsigned: applied on the hash alone, with a warning that says so.
    let unsigned = saved_plan(&p, &[]);
    let _ = unsigned;
    let run = p.run(&["apply", "--plan", "plan.json"]).expect(0);
    assert!(
        run.stderr.contains("plan.json is unsigned"),
        "{}",
        run.stderr
    );
    assert_eq!(p.live_ids(), [ID_B.to_owned()]);
}

#[test]
fn an_old_plan_or_a_device_is_refused_before_any_request() {
    let p = Project::new(vec![inst(ID_A, "drop"), inst(ID_B, "keep")]);
    p.manifest("instances:\n  - name: keep\n");
    saved_plan(&p, &[]);
    let before = p.requests().len();
    std::thread::sleep(Duration::from_millis(1100));
    let run = p
        .run(&["apply", "--plan", "plan.json", "--max-plan-age", "1s"])
        .expect(1);
    assert!(
        run.stderr.contains("plans older than --max-plan-age 1s"),
        "{}",
        run.stderr
    );
    let started = Instant::now();
    let run = p.run(&["apply", "--plan", "/dev/zero"]).expect(1);
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(run.stderr.contains("/dev/zero"), "{}", run.stderr);
    assert_eq!(p.requests().len(), before);
}

#[test]
fn a_credentials_file_is_read_strictly_and_warned_about_when_readable() {
    let mut p = Project::new(vec![inst(ID_B, "keep")]);
    p.manifest("instances:\n  - name: keep\n");
    let file = p.dir.path().join("credentials");
    std::fs::write(
        &file,
        format!("[basic]\nak = {AK}\nsk = {SK}\nsk = {SK}-2\n"),
    )
    .expect("write");
    p.env = vec![(
        "HUAWEICLOUD_SDK_CREDENTIALS_FILE".to_owned(),
        file.display().to_string(),
    )];
    let run = p.run(&["plan"]).expect(1);
    assert!(
        run.stderr.contains(":4: `sk` is given twice in [basic]"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(SK), "{}", run.stderr);
    // A trailing newline in the SK (`echo sk = … >> file`, CRLF) is not part of it.
    std::fs::write(&file, format!("[basic]\r\nak = {AK}\r\nsk = {SK}\r\n")).expect("write");
    let run = p.run(&["plan"]).expect(0);
    assert!(
        run.stderr.contains("is readable by others"),
        "{}",
        run.stderr
    );
    let run = p.run(&["plan", "-q"]).expect(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let device = vec![(
        "HUAWEICLOUD_SDK_CREDENTIALS_FILE".to_owned(),
        "/dev/zero".to_owned(),
    )];
    let run = run_in(p.dir.path(), &["plan"], &device).expect(1);
    assert!(run.stderr.contains("larger than"), "{}", run.stderr);
}

#[test]
fn a_wait_timeout_too_large_for_the_clock_is_refused_not_a_panic() {
    let p = Project::new(vec![inst(ID_A, "drop"), inst(ID_B, "keep")]);
    p.manifest("instances:\n  - name: keep\n");
    let run = p
        .run(&[
            "apply",
            "--auto-approve",
            "--wait",
            "--wait-timeout",
            "18446744073709551615",
        ])
        .expect(1);
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    assert!(p.deletes().is_empty(), "refused before anything was sent");
}

#[test]
fn a_second_signal_exits_at_once_saying_the_report_is_incomplete() {
    let mut all: Vec<EmuInstance> = generated(60);
    all.push(inst(ID_B, "keep"));
    let p = Project::with_config(EmulatorConfig {
        latency: Duration::from_millis(3000),
        ..signed(all)
    });
    p.manifest("instances:\n  - name: keep\n");
    let shared = p.emulator.shared();
    let child = spawn_apply(&p);
    // Wait for the first DELETE to be in flight (the listing before it takes 3 s too). A
    // request is recorded just before its answer is written, so the one in flight right after
    // the GET's record may be that GET: the DELETE is the one still in flight 150 ms later.
    wait_for(|| {
        shared.requests().iter().any(|r| r.method == "GET") && shared.in_flight() > 0 && {
            std::thread::sleep(Duration::from_millis(150));
            shared.in_flight() > 0
        }
    });
    std::thread::sleep(Duration::from_millis(200));
    send_signal(child.id(), "INT");
    std::thread::sleep(Duration::from_millis(200));
    send_signal(child.id(), "INT");
    let started = Instant::now();
    let run = run_of(child.wait_with_output().expect("wait"));
    assert!(started.elapsed() < Duration::from_secs(2), "exited at once");
    assert_eq!(run.code, 4, "a DELETE was in flight: {run:?}");
    assert!(
        run.stderr.contains("the report is incomplete"),
        "{}",
        run.stderr
    );
}
