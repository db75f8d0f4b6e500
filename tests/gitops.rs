//! GitOps and scheduled cleanup: Markdown plans, `diff`, `export`, `apply --wait`, JSON logs,
//! colour, completions and the manual page.

use serde_json::Value;

use crate::support::*;

const A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const B: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const C: &str = "cccccccc-0000-4000-8000-000000000003";

/// RFC 3339 for `hours` (and half a minute) ago: the age shown is exactly `{hours}h`.
fn hours_ago(hours: i64) -> String {
    (time::OffsetDateTime::now_utc() - time::Duration::hours(hours) - time::Duration::seconds(30))
        .format(&time::format_description::well_known::Rfc3339)
        .expect("it works")
}

fn inst(name: &str, id: &str) -> EmuInstance {
    EmuInstance::new(id, name).created(&hours_ago(3))
}

#[test]
fn markdown_plan_is_ready_for_a_pull_request_comment() {
    let p = Project::new(vec![
        inst("ci-a|b", A),
        inst("prod-db", B),
        inst("keep-me", C),
        inst("busy", "dddddddd-0000-4000-8000-000000000004").with_status("RESTARTING"),
        inst("billing", "eeeeeeee-0000-4000-8000-000000000005").prepaid(),
        inst("web-x", "ffffffff-0000-4000-8000-000000000006"),
    ]);
    let path = p.manifest(
        "protect:\n  - name: 'prod-*'\nguards:\n  max_delete: 0\ninstances:\n  - name: keep-me\n  - name: gone-entry\n",
    );
    let text = std::fs::read(&path).expect("it works");
    let sha = dcs_reconcile::util::sha256_hex(&text);
    let run = p.run(&["plan", "--format", "markdown"]).expect(0);
    let url = p.emulator.url();
    let mut out = run.stdout.replace(&url, "URL").replace(&sha, "SHA");
    // The plan's own timestamp.
    let planned = out.find("; planned ").expect("no planned time");
    let end = planned + out[planned..].find(".\n").unwrap_or(0);
    out.replace_range(planned..end, "; planned TIME");
    let expected = r"### dcs-reconcile plan: 2 instances to delete

**Plan: 2 to delete, 1 to keep, 1 protected, 2 to skip, 1 missing.**

Project `0123456789abcdef0123456789abcdef` at `URL`; manifest `dcs.yaml` (SHA-256 `SHA`); planned TIME.

> **Apply would refuse this plan** (exit 3, nothing deleted):
>
> - max\_delete: 2 deletions exceed the cap of 0 (max\_delete 0 of 6 managed instances); review the plan and pass --max-delete 2 to allow this run

#### To delete (2)

| Name | ID | Status | Age | Billing | Reason |
|---|---|---|---|---|---|
| ci-a\|b | aaaaaaaa-0000-4000-8000-000000000001 | RUNNING | 3h | pay-per-use | not declared in the manifest |
| web-x | ffffffff-0000-4000-8000-000000000006 | RUNNING | 3h | pay-per-use | not declared in the manifest |

#### Missing: declared, not live (1)

- instances\[1\] (name: gone-entry)

This tool never creates instances.

<details><summary>Protected (never deleted) (1)</summary>

| Name | ID | Status | Age | Billing | Reason |
|---|---|---|---|---|---|
| prod-db | bbbbbbbb-0000-4000-8000-000000000002 | RUNNING | 3h | pay-per-use | protected by protect\[0\] (name: 'prod-\*') |

</details>

<details><summary>Skipped (cannot be deleted now) (2)</summary>

| Name | ID | Status | Age | Billing | Reason |
|---|---|---|---|---|---|
| billing | eeeeeeee-0000-4000-8000-000000000005 | RUNNING | 3h | prepaid | prepaid (yearly/monthly): the API cannot delete it; unsubscribe it through billing |
| busy | dddddddd-0000-4000-8000-000000000004 | RESTARTING | 3h | pay-per-use | status RESTARTING: only RUNNING, ERROR and CREATEFAILED instances can be deleted; the next run will see it again |

</details>

<details><summary>Kept (declared) (1)</summary>

| Name | ID | Status | Age | Billing | Reason |
|---|---|---|---|---|---|
| keep-me | cccccccc-0000-4000-8000-000000000003 | RUNNING | 3h | pay-per-use | declared by instances\[0\] (name: keep-me) |

</details>
";
    pretty_assertions::assert_eq!(out, expected);
    assert!(p.deletes().is_empty());
}

#[test]
fn diff_shows_deletions_and_missing_entries_and_exits_2() {
    let p = Project::new(vec![inst("a", A), inst("b", B), inst("c", C)]);
    p.manifest(&format!(
        "instances:\n  - name: a\n  - id: {C}\n  - name: nowhere\n"
    ));
    let run = p.run(&["diff"]).expect(2);
    let expected = format!(
        "--- live (project {PID})\n+++ declared (dcs.yaml)\n@@ -1,3 +1,3 @@\n a  {A}\n-b  {B}\n c  {C}\n+nowhere  -\n"
    );
    pretty_assertions::assert_eq!(run.stdout, expected);
    assert!(p.deletes().is_empty());

    p.manifest(&format!(
        "instances:\n  - name: a\n  - name: b\n  - id: {C}\n"
    ));
    let run = p.run(&["diff"]).expect(0);
    assert_eq!(run.stdout, "");
}

#[test]
fn export_round_trips_to_an_empty_plan_and_never_overwrites_by_accident() {
    let p = Project::new(vec![
        inst("0123", A), // YAML would read it as a number unquoted
        inst("yes", B),  // … or as a boolean
        inst("ci-1", C).prepaid(),
        inst("ci-2", "dddddddd-0000-4000-8000-000000000004").with_status("CREATEFAILED"),
    ]);
    let url = p.emulator.url();
    let args = [
        "export",
        "--endpoint",
        &url,
        "--project-id",
        PID,
        "-o",
        "adopted.yaml",
    ];
    let run = p.run(&args).expect(0);
    assert_eq!(run.stdout, "Exported 4 instances to adopted.yaml.\n");
    let text = std::fs::read_to_string(p.dir.path().join("adopted.yaml")).expect("it works");
    assert!(text.contains("  - name: '0123'\n"), "{text}");
    assert!(text.contains("  # CREATEFAILED, "), "{text}");
    assert!(text.contains(", prepaid, created "), "{text}");
    let run = p
        .run(&["plan", "-f", "adopted.yaml", "--detailed-exitcode"])
        .expect(0);
    assert!(
        run.stdout
            .ends_with("Plan: 0 to delete, 4 to keep, 0 missing.\n"),
        "{}",
        run.stdout
    );
    // An existing file is kept unless --force.
    let run = p.run(&args).expect(1);
    assert!(run.stderr.contains("pass --force"), "{}", run.stderr);
    let mut forced = args.to_vec();
    forced.push("--force");
    p.run(&forced).expect(0);
    // To stdout, limited to a prefix, which becomes the scope.
    let run = p
        .run(&[
            "export",
            "--endpoint",
            &url,
            "--project-id",
            PID,
            "--scope-prefix",
            "ci-",
        ])
        .expect(0);
    assert!(
        run.stdout.contains("scope:\n  name_prefix: ci-\n"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("'0123'"), "{}", run.stdout);
    p.write("ci.yaml", &run.stdout);
    let run = p.run(&["plan", "-f", "ci.yaml"]).expect(0);
    assert!(
        run.stdout
            .ends_with("Plan: 0 to delete, 2 to keep, 2 out of scope, 0 missing.\n"),
        "{}",
        run.stdout
    );
    assert!(p.deletes().is_empty());
}

#[test]
fn export_takes_target_and_scope_from_a_manifest() {
    let p = Project::new(vec![inst("ci-1", A), inst("web", B)]);
    p.manifest("scope:\n  name_prefix: ci-\ninstances: []\n");
    let run = p.run(&["export", "-f", "dcs.yaml"]).expect(0);
    assert!(
        run.stdout
            .contains(&format!("  - name: ci-1\n    id: {A}\n")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("web"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("endpoint: {}\n", p.emulator.url())),
        "{}",
        run.stdout
    );
}

fn lingering(linger: usize) -> Project {
    Project::with_config(EmulatorConfig {
        delete_linger: linger,
        ..signed(vec![inst("a", A), inst("b", B), inst("keep", C)])
    })
}

#[test]
fn apply_wait_follows_deleting_instances_until_they_are_gone() {
    let p = lingering(2);
    p.manifest("instances:\n  - name: keep\n");
    let run = p
        .run(&[
            "apply",
            "--auto-approve",
            "--wait",
            "--wait-interval",
            "20ms",
        ])
        .expect(0);
    assert!(
        run.stdout.contains(&format!("Waiting up to 15m for 2 deleted instances to leave the listing:\n  DELETING  a ({A})\n  DELETING  b ({B})\n  gone      a ({A})\n  gone      b ({B})\nAll 2 deleted instances are gone")),
        "{}",
        run.stdout
    );
    assert_eq!(p.live_ids(), [C]);
}

#[test]
fn apply_wait_times_out_naming_the_instances_still_listed() {
    let p = lingering(1_000_000);
    p.manifest("instances:\n  - name: keep\n");
    let run = p
        .run(&[
            "apply",
            "--auto-approve",
            "--wait",
            "--wait-timeout",
            "300ms",
            "--wait-interval",
            "50ms",
        ])
        .expect(4);
    assert!(
        run.stderr.contains(&format!(
            "--wait-timeout 300ms passed and 2 of 2 deleted instances are still listed: a ({A}, DELETING), b ({B}, DELETING)"
        )),
        "{}",
        run.stderr
    );
    assert_eq!(p.deletes().len(), 1, "deleted once, never resent");
}

#[test]
fn json_logs_are_one_object_per_line_on_stderr() {
    let p = Project::new(vec![inst("a", A)]);
    p.manifest("instances:\n  - name: a\n");
    let run = p.run(&["plan", "-vv", "--log-format", "json"]).expect(0);
    assert!(
        run.stdout.starts_with("Project "),
        "results stay on stdout: {}",
        run.stdout
    );
    let lines: Vec<&str> = run.stderr.lines().collect();
    assert!(!lines.is_empty(), "no log lines");
    for line in lines {
        let v: Value = serde_json::from_str(line).expect("it works");
        assert!(v["level"].is_string(), "{line}");
        assert!(v["timestamp"].is_string(), "{line}");
        assert!(v["fields"].is_object(), "{line}");
    }
    assert!(
        run.stderr.contains("listed live instances"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains(SK));
}

#[test]
fn a_terminal_gets_colour_unless_no_color_is_set() {
    let p = Project::new(vec![inst("a", A), inst("b", B)]);
    p.manifest("instances:\n  - name: a\n");
    let mut env = p.env.clone();
    env.push(("TERM".to_owned(), "xterm-256color".to_owned()));
    let run = run_on_terminal(p.dir.path(), &["plan"], &env, None, || true);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(&format!("\x1b[31m  - b  {B}")),
        "{}",
        run.stdout
    );
    env.push(("NO_COLOR".to_owned(), "1".to_owned()));
    let run = run_on_terminal(p.dir.path(), &["plan"], &env, None, || true);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains(&format!("  - b  {B}")),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains('\x1b'), "{}", run.stdout);
}

#[test]
fn colour_is_used_only_when_asked_or_on_a_terminal() {
    let p = Project::new(vec![inst("a", A), inst("b", B)]);
    p.manifest("instances:\n  - name: a\n");
    let plain = p.run(&["plan"]).expect(0);
    assert!(!plain.stdout.contains('\x1b'), "{}", plain.stdout);
    assert!(!plain.stderr.contains('\x1b'), "{}", plain.stderr);
    let coloured = p.run(&["plan", "--color", "always"]).expect(0);
    assert!(
        coloured.stdout.contains(&format!("\x1b[31m  - b  {B}")),
        "{}",
        coloured.stdout
    );
    let never = p.run(&["plan", "--color", "never", "-v"]).expect(0);
    assert!(!never.stdout.contains('\x1b') && !never.stderr.contains('\x1b'));
}

#[test]
fn completions_and_man_page_are_generated_from_the_command_line() {
    let dir = tempfile::tempdir().expect("it works");
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let run = run_in(dir.path(), &["completions", shell], &[]).expect(0);
        assert!(
            run.stdout.contains("dcs-reconcile"),
            "{shell}: {}",
            run.stdout
        );
        assert!(run.stdout.contains("auto-approve"), "{shell}");
    }
    let run = run_in(dir.path(), &["completions", "tcsh"], &[]).expect(1);
    assert!(run.stderr.contains("invalid value"), "{}", run.stderr);
    let run = run_in(dir.path(), &["man"], &[]).expect(0);
    assert!(
        run.stdout.starts_with(".ie \\n(.g .ds Aq"),
        "{}",
        &run.stdout[..80.min(run.stdout.len())]
    );
    assert!(run.stdout.contains(".TH dcs-reconcile 1"), "man");
    assert!(run.stdout.contains("apply"), "man lists the subcommands");
}
