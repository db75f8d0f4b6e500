//! Saved plans: `plan --out FILE` then `apply --plan FILE` deletes exactly the reviewed
//! deletions, without a prompt, and refuses (exit 3, nothing deleted) whenever the world or the
//! manifest moved under the plan.

use serde_json::{Value, json};

use crate::support::*;

fn inst(name: &str, id: &str) -> EmuInstance {
    EmuInstance::new(id, name).created("2024-01-01T00:00:00.000Z")
}

const A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const B: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const KEEP: &str = "cccccccc-0000-4000-8000-000000000003";
const LATE: &str = "dddddddd-0000-4000-8000-000000000004";

const MANIFEST: &str = "protect:\n  - tag: {keep: \"true\"}\nscope:\n  name_prefix: ci-\ninstances:\n  - name: ci-keep\n";

/// A project with ci-a and ci-b surplus and ci-keep declared, and a saved plan of it.
fn planned() -> Project {
    let p = Project::new(vec![
        inst("ci-a", A),
        inst("ci-b", B),
        inst("ci-keep", KEEP),
    ]);
    p.manifest(MANIFEST);
    let run = p.run(&["plan", "--out", "plan.json"]).expect(0);
    assert!(
        run.stdout
            .contains("Saved this plan to plan.json. Apply exactly it with: dcs-reconcile apply --plan plan.json"),
        "{}",
        run.stdout
    );
    p
}

fn saved_doc(p: &Project) -> Value {
    let text = std::fs::read_to_string(p.dir.path().join("plan.json")).expect("plan.json");
    serde_json::from_str(&text).expect("it works")
}

fn live_ids(p: &Project) -> Vec<String> {
    p.live_ids()
}

/// `apply --plan plan.json` must refuse with exit 3, send no DELETE, and say `why`.
#[track_caller]
fn assert_stale(p: &Project, why: &str) -> Run {
    let before = live_ids(p);
    let run = p.run(&["apply", "--plan", "plan.json"]).expect(3);
    assert!(
        run.stdout.contains(why) || run.stderr.contains(why),
        "expected `{why}`\n--- stdout:\n{}\n--- stderr:\n{}",
        run.stdout,
        run.stderr
    );
    assert!(run.stderr.contains("nothing was deleted"), "{}", run.stderr);
    assert!(p.deletes().is_empty(), "no DELETE may be sent");
    assert_eq!(live_ids(p), before);
    run
}

#[test]
fn a_saved_plan_records_target_manifest_and_each_deletion() {
    let p = planned();
    let doc = saved_doc(&p);
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["project_id"], PID);
    assert_eq!(doc["endpoint"], format!("{}/", p.emulator.url()));
    let text = std::fs::read_to_string(p.dir.path().join("dcs.yaml")).expect("it works");
    assert_eq!(doc["manifest"]["text"], text.as_str());
    assert_eq!(doc["manifest"]["path"], "dcs.yaml");
    assert_eq!(
        doc["manifest"]["sha256"].as_str().map(str::len),
        Some(64),
        "{doc}"
    );
    assert!(
        doc["created_at"].as_str().is_some_and(|s| s.ends_with('Z')),
        "{doc}"
    );
    assert_eq!(
        doc["delete"][0],
        json!({
            "id": A, "name": "ci-a", "status": "RUNNING",
            "created_at": "2024-01-01T00:00:00.000Z", "charging_mode": 0,
            "reason": "not declared in the manifest", "reason_code": "not_declared"
        })
    );
    assert_eq!(doc["delete"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        doc["overrides"],
        json!({"allow_empty": false, "max_delete": null})
    );
    let raw = serde_json::to_string(&doc).unwrap_or_default();
    assert!(!raw.contains(SK), "the saved plan never holds the SK");
    assert!(p.deletes().is_empty(), "plan --out deletes nothing");
}

#[test]
fn plan_out_with_json_format_prints_json_and_writes_the_file() {
    let p = Project::new(vec![inst("ci-a", A)]);
    p.manifest(MANIFEST);
    let run = p
        .run(&["plan", "--format", "json", "--out", "plan.json"])
        .expect(0);
    let printed: Value = serde_json::from_str(&run.stdout).expect("it works");
    assert_eq!(printed["summary"]["delete"], 1);
    assert_eq!(saved_doc(&p)["delete"][0]["id"], A);
}

#[test]
fn apply_plan_deletes_exactly_the_plan_without_a_prompt_and_leaves_new_surplus() {
    let p = planned();
    p.emulator
        .shared()
        .update_instances(|v| v.push(inst("ci-late", LATE)));
    // stdin is not a terminal and there is no --auto-approve: the saved plan was the review.
    let run = p.run(&["apply", "--plan", "plan.json"]).expect(0);
    assert!(
        run.stdout.contains("Applying the saved plan plan.json"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!(
            "1 instance became surplus after the plan was made and is left for the next plan:\n  + ci-late  {LATE}  RUNNING"
        )),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Apply complete: 2 deleted, 0 failed."),
        "{}",
        run.stdout
    );
    let deletes = p.deletes();
    assert_eq!(deletes.len(), 1);
    assert_eq!(deletes[0].delete_ids, [A, B]);
    let mut left = vec![KEEP.to_owned(), LATE.to_owned()];
    left.sort();
    assert_eq!(live_ids(&p), left);
    // The next plan shows the late one.
    let run = p.run(&["plan"]).expect(0);
    assert!(run.stdout.contains("  - ci-late"), "{}", run.stdout);
}

#[test]
fn apply_plan_with_the_reviewed_manifest_proceeds() {
    let p = planned();
    p.run(&["apply", "--plan", "plan.json", "-f", "dcs.yaml"])
        .expect(0);
    assert_eq!(live_ids(&p), [KEEP]);
}

#[test]
fn apply_plan_refuses_a_manifest_other_than_the_reviewed_one() {
    let p = planned();
    p.manifest(&format!("{MANIFEST}  - name: ci-a\n"));
    let run = p
        .run(&["apply", "--plan", "plan.json", "-f", "dcs.yaml"])
        .expect(3);
    assert!(
        run.stderr
            .contains("differs from the manifest the saved plan plan.json was made from"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("+  - name: ci-a"),
        "diff: {}",
        run.stdout
    );
    assert!(p.deletes().is_empty());
    assert!(p.requests().is_empty() || p.requests().iter().all(|r| r.method == "GET"));
}

#[test]
fn a_planned_instance_that_is_gone_makes_the_plan_stale() {
    let p = planned();
    p.emulator
        .shared()
        .update_instances(|v| v.retain(|i| i.id != A));
    let run = assert_stale(&p, &format!("ci-a ({A}) is gone"));
    assert!(
        run.stdout
            .contains(&format!("-ci-a  {A}  RUNNING  delete\n+ci-a  {A}  gone")),
        "diff: {}",
        run.stdout
    );
}

#[test]
fn a_renamed_instance_makes_the_plan_stale() {
    let p = planned();
    p.emulator.shared().update_instances(|v| {
        for i in v.iter_mut().filter(|i| i.id == B) {
            "ci-b-renamed".clone_into(&mut i.name);
        }
    });
    assert_stale(&p, &format!("ci-b ({B}) was renamed to `ci-b-renamed`"));
}

#[test]
fn a_busy_instance_makes_the_plan_stale() {
    let p = planned();
    p.emulator.shared().update_instances(|v| {
        for i in v.iter_mut().filter(|i| i.id == A) {
            "RESTARTING".clone_into(&mut i.status);
        }
    });
    let run = assert_stale(
        &p,
        &format!("ci-a ({A}) would no longer be deleted: skip: status RESTARTING"),
    );
    assert!(
        run.stdout
            .contains(&format!("+ci-a  {A}  RESTARTING  skip: status RESTARTING")),
        "{}",
        run.stdout
    );
}

#[test]
fn a_prepaid_instance_makes_the_plan_stale() {
    let p = planned();
    p.emulator.shared().update_instances(|v| {
        for i in v.iter_mut().filter(|i| i.id == A) {
            i.charging_mode = 1;
        }
    });
    assert_stale(
        &p,
        &format!("ci-a ({A}) would no longer be deleted: skip: prepaid"),
    );
}

#[test]
fn an_instance_now_protected_makes_the_plan_stale() {
    let p = planned();
    p.emulator.shared().update_instances(|v| {
        for i in v.iter_mut().filter(|i| i.id == A) {
            *i = i.clone().tagged(&[("keep", "true")]);
        }
    });
    assert_stale(
        &p,
        &format!("ci-a ({A}) would no longer be deleted: protected: protected by protect[0]"),
    );
}

#[test]
fn an_instance_now_out_of_scope_or_kept_makes_the_plan_stale() {
    // Renamed out of the scope's prefix.
    let p = planned();
    p.emulator.shared().update_instances(|v| {
        for i in v.iter_mut().filter(|i| i.id == A) {
            "web-a".clone_into(&mut i.name);
        }
    });
    assert_stale(&p, "was renamed to `web-a`");

    // Same name, but now declared: a manifest entry by name matches a re-created instance
    // while the planned id is gone.
    let p = planned();
    p.emulator.shared().update_instances(|v| {
        for i in v.iter_mut().filter(|i| i.id == B) {
            "ci-keep".clone_into(&mut i.name);
        }
    });
    assert_stale(&p, &format!("ci-b ({B}) was renamed to `ci-keep`"));
}

#[test]
fn an_instance_moved_to_another_enterprise_project_is_out_of_scope() {
    let p = Project::new(vec![
        inst("a", A).with_field("enterprise_project_id", json!("0")),
        inst("b", B).with_field("enterprise_project_id", json!("0")),
    ]);
    p.manifest("scope:\n  enterprise_project_id: \"0\"\ninstances:\n  - name: b\n");
    p.run(&["plan", "--out", "plan.json"]).expect(0);
    p.emulator.shared().update_instances(|v| {
        for i in v.iter_mut().filter(|i| i.id == A) {
            *i = i
                .clone()
                .with_field("enterprise_project_id", json!("ep-other"));
        }
    });
    assert_stale(
        &p,
        &format!("a ({A}) would no longer be deleted: out of scope"),
    );
}

#[test]
fn another_endpoint_or_project_on_the_command_line_is_refused() {
    let p = planned();
    let other = Emulator::start(EmulatorConfig::default()).expect("it works");
    let run = p
        .run(&["apply", "--plan", "plan.json", "--endpoint", &other.url()])
        .expect(3);
    assert!(
        run.stderr.contains("differs from the endpoint"),
        "{}",
        run.stderr
    );
    assert!(
        other.shared().requests().is_empty(),
        "nothing goes to the other endpoint"
    );
    let run = p
        .run(&[
            "apply",
            "--plan",
            "plan.json",
            "--project-id",
            "someoneelse",
        ])
        .expect(3);
    assert!(
        run.stderr.contains("differs from the project"),
        "{}",
        run.stderr
    );
    assert!(p.requests().iter().all(|r| r.method == "GET"));
    assert!(p.deletes().is_empty());
    // Repeating the same target is fine.
    let url = format!("{}/", p.emulator.url());
    p.run(&[
        "apply",
        "--plan",
        "plan.json",
        "--endpoint",
        &url,
        "--project-id",
        PID,
    ])
    .expect(0);
    assert_eq!(live_ids(&p), [KEEP]);
}

#[test]
fn an_edited_or_foreign_plan_file_is_an_error() {
    let p = planned();
    let mut doc = saved_doc(&p);
    doc["manifest"]["text"] = json!("instances: []\n");
    p.write("edited.json", &doc.to_string());
    let run = p.run(&["apply", "--plan", "edited.json"]).expect(1);
    assert!(run.stderr.contains("was edited"), "{}", run.stderr);
    // Raising an override by hand (a guard bypass) is caught too.
    let mut doc = saved_doc(&p);
    doc["overrides"]["max_delete"] = json!(99);
    p.write("raised.json", &doc.to_string());
    let run = p.run(&["apply", "--plan", "raised.json"]).expect(1);
    assert!(run.stderr.contains("plan_sha256"), "{}", run.stderr);
    p.write("junk.json", "{\"hello\": 1}");
    let run = p.run(&["apply", "--plan", "junk.json"]).expect(1);
    assert!(
        run.stderr.contains("junk.json: not a saved plan"),
        "{}",
        run.stderr
    );
    let run = p.run(&["apply", "--plan", "nope.json"]).expect(1);
    assert!(run.stderr.contains("nope.json"), "{}", run.stderr);
    assert!(p.deletes().is_empty());
}

#[test]
fn guards_are_evaluated_again_with_the_overrides_the_plan_was_made_with() {
    let p = Project::new(vec![inst("a", A), inst("b", B)]);
    p.manifest("guards:\n  max_delete: 1\ninstances:\n  - name: other\n");
    // Without an override the saved plan is refused at apply time.
    p.run(&["plan", "--out", "plan.json"]).expect(0);
    let run = p.run(&["apply", "--plan", "plan.json"]).expect(3);
    assert!(run.stderr.contains("max_delete"), "{}", run.stderr);
    assert!(p.deletes().is_empty());
    // A plan reviewed with --max-delete 2 carries the override.
    p.run(&["plan", "--max-delete", "2", "--out", "plan.json"])
        .expect(0);
    assert_eq!(saved_doc(&p)["overrides"]["max_delete"], 2);
    p.run(&["apply", "--plan", "plan.json"]).expect(0);
    assert!(live_ids(&p).is_empty());
}
