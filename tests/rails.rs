//! Safety rails: scope selectors, protect rules, skip reasons and guards, each proven against
//! the emulator with the real binary: the plan's categories and what `apply` really deletes.

use serde_json::{Value, json};

use crate::support::*;

/// A pay-per-use RUNNING instance created long ago, with an id derived from its name.
fn inst(name: &str) -> EmuInstance {
    EmuInstance::new(&id_of(name), name).created("2024-01-01T00:00:00.000Z")
}

/// A stable uuid-like id for `name`.
fn id_of(name: &str) -> String {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    let hex = format!("{hex:0<32}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// `plan --format json`, expecting exit 0.
fn plan_doc(p: &Project, extra: &[&str]) -> Value {
    let mut args = vec!["plan", "--format", "json"];
    args.extend_from_slice(extra);
    let run = p.run(&args).expect(0);
    serde_json::from_str(&run.stdout).expect("it works")
}

/// The names in one category of a JSON plan.
fn names(doc: &Value, category: &str) -> Vec<String> {
    doc[category]
        .as_array()
        .expect("no array `` in")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The reason of the instance `name` in `category`.
fn reason(doc: &Value, category: &str, name: &str) -> String {
    doc[category]
        .as_array()
        .and_then(|a| a.iter().find(|i| i["name"] == name))
        .map(|i| i["reason"].as_str().unwrap_or_default().to_owned())
        .expect("not in")
}

/// Names of the instances still live, sorted.
fn live_names(p: &Project) -> Vec<String> {
    let mut n: Vec<String> = p
        .emulator
        .shared()
        .instances()
        .into_iter()
        .map(|i| i.name)
        .collect();
    n.sort();
    n
}

/// Applies with --auto-approve and returns the names left.
fn apply_and_list(p: &Project, code: i32) -> Vec<String> {
    p.run(&["apply", "--auto-approve"]).expect(code);
    live_names(p)
}

#[test]
fn scope_name_prefix_manages_only_matching_names() {
    let p = Project::new(vec![inst("ci-1"), inst("ci-2"), inst("web"), inst("db")]);
    p.manifest("scope:\n  name_prefix: ci-\ninstances:\n  - name: ci-1\n");
    let doc = plan_doc(&p, &[]);
    assert_eq!(names(&doc, "delete"), ["ci-2"]);
    assert_eq!(names(&doc, "keep"), ["ci-1"]);
    assert_eq!(doc["out_of_scope"], 2);
    assert_eq!(doc["summary"]["out_of_scope"], 2);
    assert_eq!(apply_and_list(&p, 0), ["ci-1", "db", "web"]);
}

#[test]
fn scope_name_regex_manages_only_matching_names() {
    let p = Project::new(vec![inst("ci-17"), inst("ci-x"), inst("ci-18")]);
    p.manifest("scope:\n  name_regex: '^ci-[0-9]+$'\ninstances:\n  - name: ci-17\n");
    let doc = plan_doc(&p, &[]);
    assert_eq!(names(&doc, "delete"), ["ci-18"]);
    assert_eq!(doc["out_of_scope"], 1);
    assert_eq!(apply_and_list(&p, 0), ["ci-17", "ci-x"]);
}

#[test]
fn scope_enterprise_project_manages_only_that_project() {
    let p = Project::new(vec![
        inst("a").with_field("enterprise_project_id", json!("0")),
        inst("b").with_field("enterprise_project_id", json!("ep-123")),
        // No enterprise project at all: not in the scope either.
        inst("c").with_field("enterprise_project_id", Value::Null),
    ]);
    p.manifest("scope:\n  enterprise_project_id: \"0\"\ninstances:\n  - name: other\n");
    let doc = plan_doc(&p, &[]);
    assert_eq!(names(&doc, "delete"), ["a"]);
    assert_eq!(doc["out_of_scope"], 2);
    assert_eq!(apply_and_list(&p, 0), ["b", "c"]);
}

#[test]
fn scope_tags_must_all_match() {
    let p = Project::new(vec![
        inst("both").tagged(&[("owner", "platform"), ("env", "ci")]),
        inst("owner-only").tagged(&[("owner", "platform")]),
        inst("wrong-value").tagged(&[("owner", "data"), ("env", "ci")]),
        inst("untagged"),
    ]);
    p.manifest("scope:\n  tags: {owner: platform, env: ci}\ninstances:\n  - name: other\n");
    let doc = plan_doc(&p, &[]);
    assert_eq!(names(&doc, "delete"), ["both"]);
    assert_eq!(doc["out_of_scope"], 3);
    assert_eq!(
        apply_and_list(&p, 0),
        ["owner-only", "untagged", "wrong-value"]
    );
}

#[test]
fn scope_selectors_combine_with_and() {
    let p = Project::new(vec![
        inst("ci-1").tagged(&[("owner", "platform")]),
        inst("ci-2"),
        inst("web").tagged(&[("owner", "platform")]),
    ]);
    p.manifest("scope:\n  name_prefix: ci-\n  tags: {owner: platform}\ninstances:\n  - name: x\n");
    let doc = plan_doc(&p, &[]);
    assert_eq!(names(&doc, "delete"), ["ci-1"]);
    assert_eq!(doc["out_of_scope"], 2);
}

#[test]
fn out_of_scope_instances_are_counted_and_listed_with_verbose() {
    let p = Project::new(vec![inst("ci-1"), inst("web")]);
    p.manifest("scope:\n  name_prefix: ci-\ninstances:\n  - name: ci-1\n");
    let quiet = p.run(&["plan"]).expect(0);
    assert!(
        quiet
            .stdout
            .contains("1 instance is out of scope (not managed by this manifest, never touched; -v lists them)."),
        "{}",
        quiet.stdout
    );
    assert!(!quiet.stdout.contains(". web"), "{}", quiet.stdout);
    let verbose = p.run(&["plan", "-v"]).expect(0);
    assert!(
        verbose
            .stdout
            .contains(&format!("  . web  {}  RUNNING", id_of("web"))),
        "{}",
        verbose.stdout
    );
    assert!(
        verbose
            .stdout
            .ends_with("Plan: 0 to delete, 1 to keep, 1 out of scope, 0 missing.\n"),
        "{}",
        verbose.stdout
    );
}

#[test]
fn protect_by_name_glob_id_and_tag_keeps_undeclared_instances() {
    let p = Project::new(vec![
        inst("prod-orders"),
        inst("prod-users"),
        inst("by-id"),
        inst("by-tag").tagged(&[("keep", "true")]),
        inst("tag-false").tagged(&[("keep", "false")]),
        inst("surplus"),
    ]);
    p.manifest(&format!(
        "protect:\n  - name: 'prod-*'\n  - id: {}\n  - tag: {{keep: \"true\"}}\ninstances:\n  - name: other\n",
        id_of("by-id")
    ));
    let doc = plan_doc(&p, &[]);
    assert_eq!(
        names(&doc, "protected"),
        ["by-id", "by-tag", "prod-orders", "prod-users"]
    );
    assert_eq!(names(&doc, "delete"), ["surplus", "tag-false"]);
    assert_eq!(
        reason(&doc, "protected", "prod-users"),
        "protected by protect[0] (name: 'prod-*')"
    );
    assert_eq!(
        reason(&doc, "protected", "by-id"),
        format!("protected by protect[1] (id: {})", id_of("by-id"))
    );
    assert_eq!(
        reason(&doc, "protected", "by-tag"),
        "protected by protect[2] (tag: {keep: true})"
    );
    assert_eq!(doc["summary"]["protected"], 4);
    let text = p.run(&["plan"]).expect(0).stdout;
    assert!(
        text.contains("4 instances are not declared but protected (never deleted):\n  ! by-id"),
        "{text}"
    );
    assert_eq!(
        apply_and_list(&p, 0),
        ["by-id", "by-tag", "prod-orders", "prod-users"]
    );
}

#[test]
fn prepaid_busy_unknown_status_and_young_instances_are_skipped_with_the_reason() {
    let young = time::OffsetDateTime::now_utc() - time::Duration::minutes(30);
    let young = young
        .format(&time::format_description::well_known::Rfc3339)
        .expect("it works");
    let p = Project::new(vec![
        inst("prepaid").prepaid(),
        inst("creating").with_status("CREATING"),
        inst("restarting").with_status("RESTARTING"),
        inst("frozen").with_status("FROZEN"),
        inst("deleting").with_status("DELETING"),
        inst("novel").with_status("MIGRATING_SOMEWHERE"),
        inst("young").created(&young),
        inst("old-running"),
        inst("old-error").with_status("ERROR"),
        inst("failed").with_status("CREATEFAILED"),
    ]);
    p.manifest("guards:\n  min_age: 2h\ninstances:\n  - name: other\n");
    let doc = plan_doc(&p, &[]);
    assert_eq!(
        names(&doc, "delete"),
        ["failed", "old-error", "old-running"]
    );
    assert_eq!(
        names(&doc, "skip"),
        [
            "creating",
            "deleting",
            "frozen",
            "novel",
            "prepaid",
            "restarting",
            "young"
        ]
    );
    assert!(
        reason(&doc, "skip", "prepaid").contains("unsubscribe it through billing"),
        "{doc}"
    );
    assert!(
        reason(&doc, "skip", "creating").starts_with("status CREATING:"),
        "{doc}"
    );
    assert!(
        reason(&doc, "skip", "novel").starts_with("status MIGRATING_SOMEWHERE:"),
        "{doc}"
    );
    let young_reason = reason(&doc, "skip", "young");
    assert!(
        young_reason.starts_with("younger than min_age 2h: created 30m ago")
            || young_reason.starts_with("younger than min_age 2h: created 29m ago"),
        "{young_reason}"
    );
    assert_eq!(doc["summary"]["skip"], 7);
    let left = apply_and_list(&p, 0);
    assert_eq!(
        left,
        [
            "creating",
            "deleting",
            "frozen",
            "novel",
            "prepaid",
            "restarting",
            "young"
        ]
    );
    let deletes = p.deletes();
    assert_eq!(deletes.len(), 1);
    let mut sent = deletes[0].delete_ids.clone();
    sent.sort();
    let mut expected = vec![id_of("failed"), id_of("old-error"), id_of("old-running")];
    expected.sort();
    assert_eq!(sent, expected, "only deletable instances are sent");
}

#[test]
fn without_min_age_young_instances_are_deleted() {
    let young = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("it works");
    let p = Project::new(vec![inst("young").created(&young)]);
    p.manifest("instances:\n  - name: other\n");
    assert_eq!(names(&plan_doc(&p, &[]), "delete"), ["young"]);
}

#[test]
fn the_empty_guard_refuses_an_empty_manifest_with_exit_3() {
    let p = Project::new(vec![inst("a"), inst("b")]);
    p.manifest("instances: []\n");
    let run = p.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(
        run.stdout
            .contains("Apply would refuse this plan: empty manifest"),
        "{}",
        run.stdout
    );
    let doc = plan_doc(&p, &[]);
    assert_eq!(doc["refusals"].as_array().map(Vec::len), Some(1), "{doc}");
    let run = p.run(&["apply", "--auto-approve"]).expect(3);
    assert!(run.stderr.contains("--allow-empty"), "{}", run.stderr);
    assert!(p.deletes().is_empty(), "nothing is sent");
    assert_eq!(live_names(&p), ["a", "b"]);
}

#[test]
fn the_empty_guard_is_lifted_by_the_manifest_or_the_flag() {
    let p = Project::new(vec![inst("a")]);
    p.manifest("guards:\n  allow_empty: true\ninstances: []\n");
    let doc = plan_doc(&p, &[]);
    assert_eq!(doc["refusals"], json!([]));
    assert!(apply_and_list(&p, 0).is_empty());

    let p = Project::new(vec![inst("a")]);
    p.manifest("instances: []\n");
    p.run(&["apply", "--auto-approve", "--allow-empty"])
        .expect(0);
    assert!(live_names(&p).is_empty());
}

#[test]
fn the_empty_guard_does_not_fire_when_nothing_is_managed() {
    let p = Project::new(vec![inst("web")]);
    p.manifest("scope:\n  name_prefix: ci-\ninstances: []\n");
    let doc = plan_doc(&p, &[]);
    assert_eq!(doc["refusals"], json!([]));
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(live_names(&p), ["web"]);
}

#[test]
fn max_delete_as_a_count_refuses_more_deletions_unless_raised() {
    let p = Project::new(vec![inst("a"), inst("b"), inst("c"), inst("keep")]);
    p.manifest("guards:\n  max_delete: 2\ninstances:\n  - name: keep\n");
    let run = p.run(&["plan", "--detailed-exitcode"]).expect(2);
    assert!(
        run.stdout
            .contains("Apply would refuse this plan: max_delete: 3 deletions exceed the cap of 2"),
        "{}",
        run.stdout
    );
    let run = p.run(&["apply", "--auto-approve"]).expect(3);
    assert!(run.stderr.contains("--max-delete 3"), "{}", run.stderr);
    assert!(p.deletes().is_empty());
    // A raise below the need still refuses; enough lets it through.
    p.run(&["apply", "--auto-approve", "--max-delete", "2"])
        .expect(3);
    assert!(p.deletes().is_empty());
    p.run(&["apply", "--auto-approve", "--max-delete", "3"])
        .expect(0);
    assert_eq!(live_names(&p), ["keep"]);
}

#[test]
fn max_delete_as_a_percentage_counts_managed_instances_only() {
    // 10 managed (scope ci-), 3 undeclared: 30% > 20% of 10 = 2.
    let mut live: Vec<EmuInstance> = (0..10).map(|i| inst(&format!("ci-{i}"))).collect();
    live.extend((0..10).map(|i| inst(&format!("web-{i}"))));
    let p = Project::new(live);
    let declared: String = (0..7).map(|i| format!("  - name: ci-{i}\n")).collect();
    p.manifest(&format!(
        "scope:\n  name_prefix: ci-\nguards:\n  max_delete: 20%\ninstances:\n{declared}"
    ));
    let doc = plan_doc(&p, &[]);
    let refusals = doc["refusals"].to_string();
    assert!(
        refusals
            .contains("3 deletions exceed the cap of 2 (max_delete 20% of 10 managed instances)"),
        "{refusals}"
    );
    p.run(&["apply", "--auto-approve"]).expect(3);
    assert!(p.deletes().is_empty());
    // Within the cap: declare one more, two deletions are allowed.
    p.manifest(&format!(
        "scope:\n  name_prefix: ci-\nguards:\n  max_delete: 20%\ninstances:\n{declared}  - name: ci-7\n"
    ));
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(live_names(&p).len(), 18);
}

#[test]
fn the_empty_guard_does_not_fire_when_nothing_would_be_deleted() {
    let p = Project::new(vec![inst("prod-a"), inst("busy").with_status("RESTARTING")]);
    p.manifest("protect:\n  - name: 'prod-*'\ninstances: []\n");
    let doc = plan_doc(&p, &[]);
    assert_eq!(doc["refusals"], json!([]), "{doc}");
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(p.deletes().is_empty());
}

#[test]
fn a_selector_written_without_a_value_is_an_error_not_a_wider_scope() {
    let p = Project::new(vec![inst("a")]);
    for (body, message) in [
        (
            "scope:\n  name_prefix:\n",
            "scope: no value given for `name_prefix`",
        ),
        ("scope:\n", "`scope:` names no selector"),
        ("scope: {}\n", "`scope:` names no selector"),
        (
            "scope:\n  name_regex:\n",
            "scope: no value given for `name_regex`",
        ),
        (
            "scope:\n  enterprise_project_id: ''\n",
            "`enterprise_project_id` is empty",
        ),
        (
            "scope:\n  name_prefix: ' ci-'\n",
            "leading or trailing spaces",
        ),
        (
            "guards:\n  max_delete:\n",
            "guards.max_delete: no value given",
        ),
        ("guards:\n  min_age:\n", "guards.min_age: no value given"),
        (
            "guards:\n  allow_empty:\n",
            "guards.allow_empty: no value given",
        ),
    ] {
        p.manifest(&format!("{body}instances:\n  - name: x\n"));
        let run = p.run(&["plan"]).expect(1);
        assert!(run.stderr.contains(message), "{body}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{body}: {}", run.stderr);
    }
    assert!(
        p.requests().is_empty(),
        "nothing is sent for a bad manifest"
    );
}
