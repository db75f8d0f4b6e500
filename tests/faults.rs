//! Reliability under faults injected by the emulator: lost answers, gateway pages, garbage.
//! Each test asserts the exit code, the report, and that the deleted set is exactly right.

use crate::support::*;

fn faulty(faults: &[&str], linger: usize) -> Project {
    Project::with_config(EmulatorConfig {
        project_id: Some(PID.to_owned()),
        credentials: Some((AK.to_owned(), SK.to_owned())),
        instances: generated(5),
        delete_linger: linger,
        faults: faults
            .iter()
            .map(|f| f.parse().unwrap_or_else(|e| panic!("{e}")))
            .collect(),
        ..EmulatorConfig::default()
    })
}

const KEEP_TWO: &str = "instances:\n  - name: gen-000000\n  - name: gen-000001\n";

#[test]
fn a_lost_delete_answer_is_settled_by_listing_again_never_by_resending() {
    let p = faulty(&["delete:lose-answer"], 0);
    p.manifest(KEEP_TWO);
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(
        run.stdout.contains("Apply complete: 3 deleted, 0 failed."),
        "{}",
        run.stdout
    );
    assert_eq!(p.deletes().len(), 1, "the DELETE is never resent");
    assert_eq!(p.live_ids().len(), 2);
}

#[test]
fn a_lost_answer_with_instances_still_deleting_reports_them_deleting() {
    let p = faulty(&["delete:lose-answer"], 3);
    p.manifest(KEEP_TWO);
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(
        run.stdout
            .matches("the answer was lost, but the listing shows it DELETING")
            .count(),
        3,
        "{}",
        run.stdout
    );
    assert_eq!(p.deletes().len(), 1);
}

#[test]
fn a_closed_connection_on_delete_leaves_instances_and_exits_4() {
    let p = faulty(&["delete:close"], 0);
    p.manifest(KEEP_TWO);
    let run = p.run(&["apply", "--auto-approve"]).expect(4);
    assert_eq!(
        run.stdout
            .matches("the delete request failed and the instance is still there (status RUNNING)")
            .count(),
        3,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("Apply complete: 0 deleted, 3 failed."),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr
            .contains("error: 3 of 3 deletions failed: gen-000002 ("),
        "{}",
        run.stderr
    );
    assert_eq!(p.live_ids().len(), 5, "nothing was deleted");
}

#[test]
fn a_non_json_answer_is_an_error_naming_method_url_status_and_body() {
    let p = faulty(&["list:garbage"], 0);
    p.manifest(KEEP_TWO);
    let run = p.run(&["plan"]).expect(1);
    let url = p.emulator.url();
    assert!(
        run.stderr.starts_with(&format!(
            "error: GET {url}/v2/{PID}/instances?include_failure=true&limit=1000&offset=0: HTTP 200"
        )),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("body starts with: {\"instance_num\""),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}
