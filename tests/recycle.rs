//! Deletion you can take back (issue 13): the recycle bin (`deletion.recycle_bin`,
//! `require_recoverable`) and the grace period (`deletion.grace`: mark, pending, delete,
//! unmark), against the emulator. The tests control the clock by rewriting the mark's value in
//! the emulator between runs: no sleeps.

use serde_json::{Value, json};

use crate::support::*;

const MARK: &str = "dcs-reconcile:pending-delete";

/// `keep-me` (declared), two Redis 5.0 instances, a Redis 3.0 one and an Enterprise one.
fn mixed() -> Vec<EmuInstance> {
    vec![
        EmuInstance::new("id-keep", "keep-me"),
        EmuInstance::new("id-r5a", "cache-a"),
        EmuInstance::new("id-r5b", "cache-b"),
        EmuInstance::new("id-r3", "legacy").with_field("engine_version", json!("3.0")),
        EmuInstance::new("id-ent", "big").with_field("product_type", json!("enterprise")),
    ]
}

const KEEP: &str = "instances:\n  - name: keep-me\n";

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn recoverable_and_permanent_deletions_go_in_separate_requests_with_the_right_flag() {
    let p = Project::new(mixed());
    p.manifest(&format!("deletion: {{recycle_bin: true}}\n{KEEP}"));
    let plan = p.run(&["plan"]).expect(0);
    let out = &plan.stdout;
    assert!(
        out.contains("Plan: 4 to delete (2 to the recycle bin, 2 permanently), 1 to keep"),
        "{out}"
    );
    assert!(out.contains("      -> recycle bin (7 days)\n"), "{out}");
    assert!(
        out.contains("      destroyed permanently: Redis 3.0 cannot use the recycle bin\n"),
        "{out}"
    );
    assert!(
        out.contains(
            "      destroyed permanently: the Enterprise edition cannot use the recycle bin\n"
        ),
        "{out}"
    );
    let json = p.run(&["plan", "--format", "json"]).expect(0);
    let doc: Value = serde_json::from_str(&json.stdout).expect("json");
    let recoverable: Vec<(String, bool)> = doc["delete"]
        .as_array()
        .expect("delete")
        .iter()
        .map(|d| {
            (
                d["id"].as_str().expect("id").to_owned(),
                d["recoverable"].as_bool().expect("recoverable"),
            )
        })
        .collect();
    assert_eq!(
        sorted(
            recoverable
                .iter()
                .map(|(i, r)| format!("{i}={r}"))
                .collect()
        ),
        ["id-ent=false", "id-r3=false", "id-r5a=true", "id-r5b=true"]
    );
    assert_eq!(doc["summary"]["delete_to_recycle_bin"], 2);
    assert_eq!(doc["summary"]["delete_permanently"], 2);
    let md = p.run(&["plan", "--format", "markdown"]).expect(0);
    assert!(md.stdout.contains("recycle bin (7 days)"), "{}", md.stdout);

    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    let out = &run.stdout;
    assert!(out.contains("Deleting 4 instances in 2 requests:"), "{out}");
    assert!(
        out.contains("           -> recycle bin (7 days)\n"),
        "{out}"
    );
    assert!(out.contains("           destroyed permanently\n"), "{out}");
    assert_eq!(
        out.matches("restore one in the DCS console").count(),
        1,
        "the restore hint is said once: {out}"
    );
    let deletes = p.deletes();
    assert_eq!(deletes.len(), 2, "one request per destination");
    let bin = deletes
        .iter()
        .find(|d| d.is_recycle == Some(true))
        .expect("recycle request");
    assert_eq!(sorted(bin.delete_ids.clone()), ["id-r5a", "id-r5b"]);
    assert!(bin.body.contains(r#""is_recycle":true"#), "{}", bin.body);
    let gone = deletes
        .iter()
        .find(|d| d.is_recycle.is_none())
        .expect("permanent request");
    assert_eq!(sorted(gone.delete_ids.clone()), ["id-ent", "id-r3"]);
    assert!(!gone.body.contains("is_recycle"), "{}", gone.body);
    let in_bin: Vec<String> = p
        .emulator
        .shared()
        .recycle_bin()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(sorted(in_bin), ["id-r5a", "id-r5b"]);
    assert_eq!(p.live_ids(), ["id-keep"]);
}

#[test]
fn require_recoverable_skips_what_cannot_go_to_the_recycle_bin() {
    let p = Project::new(mixed());
    p.manifest(&format!(
        "deletion: {{recycle_bin: true, require_recoverable: true}}\n{KEEP}"
    ));
    let json = p.run(&["plan", "--format", "json"]).expect(0);
    let doc: Value = serde_json::from_str(&json.stdout).expect("json");
    let skipped: Vec<&str> = doc["skip"]
        .as_array()
        .expect("skip")
        .iter()
        .map(|d| {
            assert_eq!(d["reason_code"], "not_recoverable");
            d["id"].as_str().expect("id")
        })
        .collect();
    assert_eq!(skipped, ["id-ent", "id-r3"]);
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(
        run.stdout
            .contains("Plan: 2 to delete (2 to the recycle bin, 0 permanently)"),
        "{}",
        run.stdout
    );
    let deletes = p.deletes();
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].is_recycle, Some(true));
    assert!(deletes[0].destroyed.is_empty());
    assert_eq!(p.live_ids(), ["id-ent", "id-keep", "id-r3"]);
}

#[test]
fn a_rejected_is_recycle_stops_without_a_retry_without_it() {
    let p = Project::with_config(EmulatorConfig {
        reject_recycle: true,
        ..signed(mixed())
    });
    p.manifest(&format!("deletion: {{recycle_bin: true}}\n{KEEP}"));
    let run = p.run(&["apply", "--auto-approve"]).expect(4);
    let out = &run.stdout;
    assert!(
        out.contains("this region may not support the recycle bin"),
        "{out}"
    );
    assert!(out.contains("`deletion: {recycle_bin: false}`"), "{out}");
    assert!(
        out.contains("Apply complete: 0 deleted, 4 failed."),
        "{out}"
    );
    let deletes = p.deletes();
    assert_eq!(
        deletes.len(),
        1,
        "never re-sent without the flag, nothing more sent"
    );
    assert_eq!(deletes[0].is_recycle, Some(true));
    assert_eq!(deletes[0].status, 400);
    assert_eq!(p.live_ids().len(), 5, "nothing deleted");
}

/// Sets the mark of `id` to `value` in the emulator (the test's clock).
fn set_mark(p: &Project, id: &str, value: &str) {
    p.emulator.shared().update_instances(|all| {
        let inst = all.iter_mut().find(|i| i.id == id).expect("instance");
        let mut tags: Vec<(String, String)> =
            inst.tags().into_iter().filter(|(k, _)| k != MARK).collect();
        tags.push((MARK.to_owned(), value.to_owned()));
        inst.set_tags(&tags);
    });
}

fn mark_of(p: &Project, id: &str) -> Option<String> {
    let mut found = None;
    p.emulator.shared().update_instances(|all| {
        found = all.iter().find(|i| i.id == id).and_then(|i| {
            i.tags()
                .into_iter()
                .find(|(k, _)| k == MARK)
                .map(|(_, v)| v)
        });
    });
    found
}

fn tag_calls(p: &Project) -> Vec<RequestRecord> {
    p.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/tags/action"))
        .collect()
}

const GRACE: &str = "deletion: {grace: 24h}\n";

#[test]
fn grace_marks_first_then_waits_then_deletes_and_unmarks_when_declared_again() {
    let p = Project::new(vec![
        EmuInstance::new("id-keep", "keep-me"),
        EmuInstance::new("id-old", "stale-cache"),
    ]);
    p.manifest(&format!("{GRACE}{KEEP}"));

    // First run: marked, not deleted.
    let plan = p.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(
        plan.stdout
            .contains("1 instance will be marked for deletion now"),
        "{}",
        plan.stdout
    );
    assert!(
        plan.stdout
            .contains("Plan: 0 to delete, 1 to mark, 1 to keep"),
        "{}",
        plan.stdout
    );
    assert!(plan.stdout.contains("deletable after "), "{}", plan.stdout);
    let doc: Value =
        serde_json::from_str(&p.run(&["plan", "--format", "json"]).expect(0).stdout).expect("json");
    assert_eq!(doc["mark"][0]["reason_code"], "grace_mark");
    assert!(doc["mark"][0]["deletable_after"].is_string());
    assert_eq!(doc["summary"]["mark"], 1);
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(
        run.stdout.contains("  marked   stale-cache (id-old) at "),
        "{}",
        run.stdout
    );
    assert!(p.deletes().is_empty(), "nothing deleted on the first run");
    let calls = tag_calls(&p);
    assert_eq!(calls.len(), 1);
    assert!(
        calls[0].body.contains(r#""action":"create""#),
        "{}",
        calls[0].body
    );
    assert!(calls[0].body.contains(MARK), "{}", calls[0].body);
    let marked = mark_of(&p, "id-old").expect("marked");
    assert!(marked.ends_with('Z') && marked.contains('T'), "{marked}");

    // Second run, within the grace: pending, nothing sent.
    let run = p.run(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(
        run.stdout.contains("grace period not over (pending)"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("1 pending"), "{}", run.stdout);
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(p.deletes().is_empty());
    assert_eq!(tag_calls(&p).len(), 1, "no new tag call");

    // After the grace: deleted.
    set_mark(&p, "id-old", "2020-01-01T00:00:00Z");
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(
        run.stdout.contains("grace 1day is over") || run.stdout.contains("is over"),
        "{}",
        run.stdout
    );
    assert_eq!(p.deletes().len(), 1);
    assert_eq!(p.deletes()[0].delete_ids, ["id-old"]);
    assert_eq!(p.live_ids(), ["id-keep"]);

    // A marked instance declared again: unmarked.
    set_mark(&p, "id-keep", "2020-01-01T00:00:00Z");
    let plan = p.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(plan.stdout.contains("1 to unmark"), "{}", plan.stdout);
    p.run(&["apply", "--auto-approve"]).expect(0);
    let calls = tag_calls(&p);
    assert_eq!(calls.len(), 2);
    assert!(
        calls[1].body.contains(r#""action":"delete""#),
        "{}",
        calls[1].body
    );
    assert_eq!(mark_of(&p, "id-keep"), None);
    assert_eq!(p.deletes().len(), 1, "declared: never deleted");
}

#[test]
fn an_unreadable_mark_is_marked_again_not_deleted() {
    let p = Project::new(vec![EmuInstance::new("id-old", "stale-cache")]);
    p.manifest(&format!(
        "{GRACE}guards: {{allow_empty: true}}\ninstances: []\n"
    ));
    set_mark(&p, "id-old", "soon");
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(run.stdout.contains("unreadable"), "{}", run.stdout);
    assert!(p.deletes().is_empty());
    assert!(mark_of(&p, "id-old").is_some_and(|m| m != "soon"));
}

#[test]
fn a_failing_tag_call_is_reported_exit_4_and_deletes_nothing() {
    let p = Project::with_config(EmulatorConfig {
        faults: vec!["tag:500".parse().expect("fault")],
        ..signed(vec![
            EmuInstance::new("id-keep", "keep-me"),
            EmuInstance::new("id-old", "stale-cache"),
        ])
    });
    p.manifest(&format!("{GRACE}{KEEP}"));
    let run = p.run(&["apply", "--auto-approve"]).expect(4);
    assert!(
        run.stdout
            .contains("  FAILED   stale-cache (id-old): marking failed"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("tag calls"), "{}", run.stderr);
    assert!(
        p.deletes().is_empty(),
        "a failed mark never leads to a deletion"
    );
    assert_eq!(mark_of(&p, "id-old"), None);
    assert_eq!(p.live_ids().len(), 2);
    // The next run marks it; it is still not deleted.
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(mark_of(&p, "id-old").is_some());
    assert!(p.deletes().is_empty());
}

#[test]
fn a_tag_call_denied_names_the_iam_action() {
    let p = Project::with_config(EmulatorConfig {
        faults: vec!["tag:403".parse().expect("fault")],
        ..signed(vec![EmuInstance::new("id-old", "stale-cache")])
    });
    p.manifest(&format!(
        "{GRACE}guards: {{allow_empty: true}}\ninstances: []\n"
    ));
    let run = p.run(&["apply", "--auto-approve"]).expect(4);
    assert!(run.stdout.contains("dcs:tag:modify"), "{}", run.stdout);
}

#[test]
fn marking_is_capped_by_max_delete() {
    let p = Project::new(vec![
        EmuInstance::new("id-keep", "keep-me"),
        EmuInstance::new("id-a", "a"),
        EmuInstance::new("id-b", "b"),
    ]);
    p.manifest(&format!("{GRACE}guards: {{max_delete: 1}}\n{KEEP}"));
    let run = p.run(&["apply", "--auto-approve"]).expect(3);
    assert!(
        run.stdout
            .contains("instances to mark for deletion exceed the cap"),
        "{}",
        run.stdout
    );
    assert!(tag_calls(&p).is_empty());
}

#[test]
fn saved_plans_carry_marks_and_a_changed_mark_makes_them_stale() {
    let p = Project::new(vec![
        EmuInstance::new("id-keep", "keep-me"),
        EmuInstance::new("id-old", "stale-cache"),
    ]);
    p.manifest(&format!("{GRACE}{KEEP}"));
    p.run(&["plan", "--out", "plan.json"]).expect(0);
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(p.dir.path().join("plan.json")).expect("read"),
    )
    .expect("json");
    assert_eq!(saved["mark"][0]["id"], "id-old");
    let run = p.run(&["apply", "--plan", "plan.json"]).expect(0);
    assert!(
        run.stdout.contains("  marked   stale-cache (id-old)"),
        "{}",
        run.stdout
    );
    assert_eq!(tag_calls(&p).len(), 1);

    // A plan that marks, then the instance is marked by someone else before apply: stale.
    let q = Project::new(vec![
        EmuInstance::new("id-keep", "keep-me"),
        EmuInstance::new("id-old", "stale-cache"),
    ]);
    q.manifest(&format!("{GRACE}{KEEP}"));
    q.run(&["plan", "--out", "plan.json"]).expect(0);
    set_mark(&q, "id-old", "2026-12-01T00:00:00Z");
    let run = q.run(&["apply", "--plan", "plan.json"]).expect(3);
    assert!(
        run.stdout.contains("would no longer be marked"),
        "{}",
        run.stdout
    );
    assert!(tag_calls(&q).is_empty());
    assert!(q.deletes().is_empty());
}

#[test]
fn the_emulator_command_rejects_is_recycle_with_its_flag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let emulator =
        spawn_emulator(&["--generate", "2", "--reject-recycle"].map(std::ffi::OsStr::new));
    let url = emulator.url.clone();
    std::fs::write(
        dir.path().join("dcs.yaml"),
        format!(
            "project_id: {PID}\nendpoint: {url}\ndeletion: {{recycle_bin: true}}\ninstances:\n  \
             - name: gen-000000\n"
        ),
    )
    .expect("write");
    let env = [
        ("HUAWEICLOUD_SDK_AK".to_owned(), AK.to_owned()),
        ("HUAWEICLOUD_SDK_SK".to_owned(), SK.to_owned()),
    ];
    let run = run_in(dir.path(), &["apply", "--auto-approve"], &env);
    drop(emulator);
    let run = run.expect(4);
    assert!(
        run.stdout
            .contains("this region may not support the recycle bin"),
        "{}",
        run.stdout
    );
}

#[test]
fn export_writes_the_recycle_bin_setting_with_a_comment() {
    let p = Project::new(vec![
        EmuInstance::new("id-a", "a"),
        EmuInstance::new("id-b", "b"),
    ]);
    let url = p.emulator.url();
    let run = p
        .run(&["export", "--endpoint", &url, "--project-id", PID])
        .expect(0);
    assert!(
        run.stdout.contains("# Deletions go to the DCS recycle bin"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("\ndeletion: {recycle_bin: true}\n"),
        "{}",
        run.stdout
    );
    // Read back: dropping an entry sends that instance to the recycle bin.
    let text = run.stdout.replace("  - name: b\n    id: id-b\n", "");
    p.write("dcs.yaml", &text);
    let plan = p.run(&["plan"]).expect(0);
    assert!(
        plan.stdout
            .contains("Plan: 1 to delete (1 to the recycle bin, 0 permanently)"),
        "{}",
        plan.stdout
    );
}

#[test]
fn apply_json_reports_destinations_and_tag_calls() {
    let p = Project::new(vec![
        EmuInstance::new("id-keep", "keep-me"),
        EmuInstance::new("id-r5", "cache"),
        EmuInstance::new("id-r3", "legacy").with_field("engine_version", json!("3.0")),
        EmuInstance::new("id-new", "fresh"),
    ]);
    set_mark(&p, "id-r5", "2020-01-01T00:00:00Z");
    set_mark(&p, "id-r3", "2020-01-01T00:00:00Z");
    p.manifest(&format!(
        "deletion: {{recycle_bin: true, grace: 1h}}\n{KEEP}"
    ));
    let md = p.run(&["plan", "--format", "markdown"]).expect(0);
    assert!(
        md.stdout.contains("#### To mark for deletion (1)"),
        "{}",
        md.stdout
    );
    let run = p
        .run(&["apply", "--auto-approve", "--format", "json"])
        .expect(0);
    let doc: Value = serde_json::from_str(&run.stdout).expect("json");
    let by_id = |id: &str| {
        doc["outcomes"]
            .as_array()
            .expect("outcomes")
            .iter()
            .find(|o| o["id"] == id)
            .cloned()
            .expect("outcome")
    };
    assert_eq!(by_id("id-r5")["recoverable"], true);
    assert_eq!(by_id("id-r3")["recoverable"], false);
    assert_eq!(doc["tags"][0]["id"], "id-new");
    assert_eq!(doc["tags"][0]["action"], "mark");
    assert_eq!(doc["tags"][0]["outcome"], "done");
    assert_eq!(doc["plan"]["summary"]["mark"], 1);
    assert_eq!(doc["plan"]["summary"]["delete_to_recycle_bin"], 1);
    assert_eq!(p.deletes().len(), 2);
}

#[test]
fn a_near_miss_refuses_marking_too() {
    let p = Project::new(vec![
        EmuInstance::new("id-keep", "keep-me"),
        EmuInstance::new("id-o", "Orders"),
    ]);
    p.manifest(&format!("{GRACE}{KEEP}  - name: orders\n"));
    let run = p.run(&["apply", "--auto-approve"]).expect(3);
    assert!(run.stdout.contains("near miss"), "{}", run.stdout);
    assert!(tag_calls(&p).is_empty());
}
