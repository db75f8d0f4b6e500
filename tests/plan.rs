use serde_json::Value;

use crate::support::*;

const DECLARED: &str = "instances:\n  - name: dcs-8b1c-000\n  - id: 4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192\n  - name: orders-cache\n    id: c7b9e5c1-ebfb-4e86-bc6b-ec8d9aa7e1c2\n  - name: billing-cache\n";

#[test]
fn text_plan_names_each_deletion_and_ends_with_the_summary() {
    let p = Project::new(sample());
    p.manifest(DECLARED);
    let run = p.run(&["plan"]).expect(0);
    let out = &run.stdout;
    assert!(out.contains("3 instances will be deleted:"), "{out}");
    assert!(
        out.contains("  - dcs-8b1c-001  9d78d0f4-a110-4bcd-8ca3-5aec414163c1  RUNNING  created 2017-03-31T12:25:02.511Z\n      not declared in the manifest"),
        "{out}"
    );
    assert!(
        out.contains("  - ci-pr-1841  3e1f0c2a-5b6d-4e7f-8091-a2b3c4d5e6f7  RUNNING"),
        "{out}"
    );
    assert!(
        out.contains("  - ci-pr-1852  6a7b8c9d-0e1f-4a2b-b3c4-d5e6f7a8b9c0  CREATEFAILED"),
        "{out}"
    );
    assert!(!out.contains("- dcs-8b1c-000"), "{out}");
    assert!(
        out.ends_with("Plan: 3 to delete, 4 to keep, 0 missing.\n"),
        "{out}"
    );
    // One listing page, nothing deleted.
    let reqs = p.requests();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].method, "GET");
    assert_eq!(reqs[0].query, "include_failure=true&limit=1000&offset=0");
    assert_eq!(p.live_ids(), ids_of(&sample()));
}

#[test]
fn json_plan_is_one_document_with_the_documented_fields() {
    let p = Project::new(sample());
    p.manifest(&format!("{DECLARED}  - name: payments-cache\n"));
    let run = p.run(&["plan", "--format", "json"]).expect(0);
    let doc: Value = serde_json::from_str(&run.stdout).expect("it works");
    let mut keys: Vec<&str> = doc
        .as_object()
        .map(|o| o.keys().map(String::as_str).collect())
        .unwrap_or_default();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "created_at",
            "delete",
            "endpoint",
            "format_version",
            "keep",
            "manifest",
            "missing",
            "out_of_scope",
            "project_id",
            "protected",
            "refusals",
            "skip",
            "summary"
        ]
    );
    assert_eq!(doc["format_version"], "1");
    assert_eq!(doc["project_id"], PID);
    assert_eq!(
        doc["summary"],
        serde_json::json!({"delete": 3, "keep": 4, "protected": 0, "skip": 0, "out_of_scope": 0, "missing": 1})
    );
    let names: Vec<&str> = doc["delete"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|d| d["name"].as_str())
        .collect();
    assert_eq!(names, ["ci-pr-1841", "ci-pr-1852", "dcs-8b1c-001"]);
    for item in doc["delete"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(doc["keep"].as_array().into_iter().flatten())
    {
        for field in ["id", "name", "status", "created_at", "reason"] {
            assert!(item.get(field).is_some(), "{field} missing in {item}");
        }
    }
    assert_eq!(doc["missing"][0]["name"], "payments-cache");
    assert_eq!(doc["missing"][0]["index"], 4);
    assert_eq!(doc["manifest"]["sha256"].as_str().map(str::len), Some(64));
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn detailed_exitcode_is_2_with_deletions_and_0_without() {
    let p = Project::new(sample());
    p.manifest(DECLARED);
    p.run(&["plan", "--detailed-exitcode"]).expect(2);
    p.run(&["plan"]).expect(0);
    let all = "instances:\n  - name: dcs-8b1c-000\n  - name: dcs-8b1c-001\n  - name: orders-cache\n  - name: sessions\n  - name: ci-pr-1841\n  - name: ci-pr-1852\n";
    p.manifest(all);
    let run = p.run(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(run.stdout.contains("No changes."), "{}", run.stdout);
    // The prepaid instance is undeclared but cannot be deleted: skipped, not a change.
    assert!(run.stdout.contains("~ billing-cache"), "{}", run.stdout);
    assert!(
        run.stdout
            .ends_with("Plan: 0 to delete, 6 to keep, 1 to skip, 0 missing.\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn missing_entries_are_reported_and_never_created() {
    let p = Project::new(sample());
    p.manifest(&format!(
        "{DECLARED}  - name: payments-cache\n  - id: 00000000-0000-4000-8000-000000000000\n"
    ));
    let run = p.run(&["plan"]).expect(0);
    assert!(run.stdout.contains("2 entries in the manifest match no live instance (this tool never creates instances):\n  ? instances[4] (name: payments-cache)\n  ? instances[5] (id: 00000000-0000-4000-8000-000000000000)\n"), "{}", run.stdout);
    assert!(
        run.stdout
            .ends_with("Plan: 3 to delete, 4 to keep, 2 missing.\n"),
        "{}",
        run.stdout
    );
}

#[test]
fn an_id_and_name_that_disagree_with_the_live_instance_stop_everything() {
    let p = Project::new(sample());
    p.manifest(
        "instances:\n  - name: orders-cache\n    id: 4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192\n",
    );
    for args in [vec!["plan"], vec!["apply", "--auto-approve"]] {
        let run = p.run(&args).expect(1);
        assert!(
            run.stderr.contains(&format!(
                "error: dcs.yaml: instances[0] (name: orders-cache, id: 4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192): the live instance 4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192 is named `{}`, not `orders-cache`",
                "sessions"
            )),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("nothing was planned or deleted"),
            "{}",
            run.stderr
        );
        assert!(!run.stdout.contains("Plan:"), "{}", run.stdout);
    }
    assert!(p.deletes().is_empty());
    assert_eq!(p.live_ids(), ids_of(&sample()));
}

#[test]
fn more_than_1000_instances_are_read_page_by_page() {
    let instances = generated(2345);
    let p = Project::new(instances.clone());
    p.manifest("instances:\n  - name: gen-000007\n  - name: gen-002344\n");
    let run = p.run(&["plan", "--format", "json"]).expect(0);
    let doc: Value = serde_json::from_str(&run.stdout).expect("it works");
    assert_eq!(doc["summary"]["delete"], 2343);
    assert_eq!(doc["summary"]["keep"], 2);
    let mut listed: Vec<String> = doc["delete"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(doc["keep"].as_array().into_iter().flatten())
        .filter_map(|d| d["id"].as_str().map(str::to_owned))
        .collect();
    listed.sort();
    assert_eq!(listed, ids_of(&instances), "every instance exactly once");
    // The first page first; the others are read concurrently, in any order.
    let mut queries: Vec<String> = p.requests().into_iter().map(|r| r.query).collect();
    queries[1..].sort();
    assert_eq!(
        queries,
        [
            "include_failure=true&limit=1000&offset=0",
            "include_failure=true&limit=1000&offset=1000",
            "include_failure=true&limit=1000&offset=2000",
        ]
    );
}

#[test]
fn creation_failed_instances_are_listed() {
    // Without include_failure=true the API hides CREATEFAILED instances; the plan must see them.
    let p = Project::new(vec![
        EmuInstance::new("11111111-0000-4000-8000-000000000001", "keep-me"),
        EmuInstance::new("11111111-0000-4000-8000-000000000002", "broken")
            .with_status("CREATEFAILED"),
    ]);
    p.manifest("instances:\n  - name: keep-me\n");
    let run = p.run(&["plan"]).expect(0);
    assert!(
        run.stdout
            .contains("  - broken  11111111-0000-4000-8000-000000000002  CREATEFAILED"),
        "{}",
        run.stdout
    );
}

#[test]
fn busy_and_prepaid_instances_are_skipped_with_the_reason() {
    let p = Project::new(vec![
        EmuInstance::new("22222222-0000-4000-8000-000000000001", "scaling")
            .with_status("EXTENDING"),
        EmuInstance::new("22222222-0000-4000-8000-000000000002", "yearly").prepaid(),
        EmuInstance::new("22222222-0000-4000-8000-000000000003", "gone-soon"),
    ]);
    p.manifest("instances:\n  - name: something-else\n");
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(
        run.stdout
            .contains("~ scaling  22222222-0000-4000-8000-000000000001  EXTENDING"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("status EXTENDING: only RUNNING, ERROR and CREATEFAILED"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "prepaid (yearly/monthly): the API cannot delete it; unsubscribe it through billing"
        ),
        "{}",
        run.stdout
    );
    let deletes = p.deletes();
    assert_eq!(deletes.len(), 1);
    assert_eq!(
        deletes[0].delete_ids,
        ["22222222-0000-4000-8000-000000000003"]
    );
}

#[test]
fn an_empty_manifest_is_refused_unless_allowed() {
    let p = Project::new(sample());
    p.manifest("instances: []\n");
    let run = p.run(&["plan"]).expect(0);
    assert!(
        run.stdout.contains(
            "Apply would refuse this plan: empty manifest: `instances:` declares nothing"
        ),
        "{}",
        run.stdout
    );
    let run = p.run(&["apply", "--auto-approve"]).expect(3);
    assert!(run.stderr.contains("--allow-empty"), "{}", run.stderr);
    assert!(p.deletes().is_empty());
    p.run(&["apply", "--auto-approve", "--allow-empty"])
        .expect(0);
    assert_eq!(p.deletes().len(), 1);
    assert_eq!(
        p.live_ids(),
        ["0b1c2d3e-4f5a-4b6c-8d7e-f8091a2b3c4d"],
        "only the prepaid one is left"
    );
}
