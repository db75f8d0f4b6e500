//! Reliability under faults injected by the emulator: lost answers, gateway pages, garbage.
//! Each test asserts the exit code, the report, and that the deleted set is exactly right.

use crate::support::*;

fn faulty(faults: &[&str], linger: usize) -> Project {
    Project::with_config(EmulatorConfig {
        delete_linger: linger,
        faults: faults
            .iter()
            .map(|f| f.parse().expect("it works"))
            .collect(),
        ..signed(generated(5))
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
            .matches("being deleted (the listing shows it DELETING)")
            .count(),
        3,
        "{}",
        run.stdout
    );
    assert_eq!(p.deletes().len(), 1);
}

#[test]
fn a_closed_connection_on_delete_twice_leaves_instances_and_exits_4() {
    let p = faulty(&["delete:closex2"], 0);
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
    assert_eq!(
        p.deletes().len(),
        2,
        "sent once more after a listing, then no more"
    );
    assert_eq!(p.live_ids().len(), 5, "nothing was deleted");
}

#[test]
fn a_closed_connection_on_delete_is_settled_and_what_is_still_there_sent_once_more() {
    let p = faulty(&["delete:close"], 0);
    p.manifest(KEEP_TWO);
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(
        run.stdout.contains("Apply complete: 3 deleted, 0 failed."),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("sending them once more"),
        "{}",
        run.stderr
    );
    let order: Vec<&str> = p
        .requests()
        .iter()
        .map(|r| r.method.as_str())
        .skip(1)
        .collect::<Vec<_>>()
        .iter()
        .map(|m| if *m == "GET" { "GET" } else { "DELETE" })
        .collect();
    assert_eq!(
        order,
        ["DELETE", "GET", "DELETE"],
        "listed before sending again"
    );
    assert_eq!(p.live_ids().len(), 2);
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

/// The GET requests answered, in order, as their status codes.
fn get_statuses(p: &Project) -> Vec<u16> {
    p.requests()
        .iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.status)
        .collect()
}

#[test]
fn reads_are_retried_through_5xx_gateway_pages_and_closed_connections() {
    let p = faulty(&["list:503", "list:502-html", "list:close", "list:504"], 0);
    p.manifest(KEEP_TWO);
    let run = p.run(&["plan"]).expect(0);
    assert!(
        run.stdout
            .ends_with("Plan: 3 to delete, 2 to keep, 0 missing.\n"),
        "{}",
        run.stdout
    );
    assert_eq!(get_statuses(&p), [503, 502, 502, 504, 200]);
    for why in [
        "HTTP 503 DCS.5000; retry 1 of 5",
        "HTTP 502; retry 2 of 5",
        "retry 3 of 5",
    ] {
        assert!(
            run.stderr.contains(why),
            "`{why}` not logged: {}",
            run.stderr
        );
    }
}

#[test]
fn throttling_is_retried_after_the_servers_retry_after() {
    let p = faulty(&["list:429"], 0);
    p.manifest(KEEP_TWO);
    let start = std::time::Instant::now();
    let run = p.run(&["plan"]).expect(0);
    assert!(
        start.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After: 1 was not honoured"
    );
    assert!(
        run.stderr
            .contains("HTTP 429 APIGW.0308; retry 1 of 5 in 1000 ms"),
        "{}",
        run.stderr
    );
    assert_eq!(get_statuses(&p), [429, 200]);
}

#[test]
fn retries_are_bounded_by_max_retries_and_hw_max_retries() {
    let p = faulty(&["list:503x10"], 0);
    p.manifest(KEEP_TWO);
    let run = p.run(&["plan", "--max-retries", "2"]).expect(1);
    assert_eq!(get_statuses(&p), [503, 503, 503]);
    assert!(
        run.stderr.contains("giving up after 2 retries"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!(
            "error: GET {}/v2/{PID}/instances",
            p.emulator.url()
        )),
        "{}",
        run.stderr
    );
    let mut env = p.env.clone();
    env.push(("HW_MAX_RETRIES".to_owned(), "0".to_owned()));
    run_in(p.dir.path(), &["plan"], &env).expect(1);
    assert_eq!(
        get_statuses(&p).len(),
        4,
        "HW_MAX_RETRIES=0: one attempt only"
    );
    env.pop();
    env.push(("HW_MAX_RETRIES".to_owned(), "many".to_owned()));
    let run = run_in(p.dir.path(), &["plan"], &env).expect(1);
    assert!(
        run.stderr.contains("HW_MAX_RETRIES is `many`"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_throttled_delete_is_resent_because_it_was_not_processed() {
    let p = faulty(&["delete:429", "delete:429"], 0);
    p.manifest(KEEP_TWO);
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(
        run.stdout.contains("Apply complete: 3 deleted, 0 failed."),
        "{}",
        run.stdout
    );
    let deletes: Vec<u16> = p.deletes().iter().map(|r| r.status).collect();
    assert_eq!(deletes, [429, 429, 200]);
    assert_eq!(p.live_ids().len(), 2);
}

#[test]
fn a_delete_answered_500_is_not_resent_blindly() {
    let p = faulty(&["delete:500"], 0);
    p.manifest(KEEP_TWO);
    p.run(&["apply", "--auto-approve"]).expect(0);
    let statuses: Vec<(String, u16)> = p
        .requests()
        .iter()
        .skip(1)
        .map(|r| (r.method.clone(), r.status))
        .collect();
    assert_eq!(
        statuses,
        [
            ("DELETE".to_owned(), 500),
            ("GET".to_owned(), 200),
            ("DELETE".to_owned(), 200)
        ],
        "a listing settles the failed request before anything is sent again"
    );
    assert_eq!(p.live_ids().len(), 2);
}

#[test]
fn a_listing_torn_by_an_insert_between_pages_is_read_again() {
    let p = Project::with_config(EmulatorConfig {
        faults: vec!["list:insert".parse().expect("it works")],
        ..signed(generated(1500))
    });
    p.manifest("instances:\n  - name: gen-000000\n");
    let run = p.run(&["plan", "--format", "json"]).expect(0);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("it works");
    // The inserted instance is seen on the second, consistent reading.
    assert_eq!(doc["summary"]["delete"], 1500, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("listing inconsistent, reading it again"),
        "{}",
        run.stderr
    );
    assert_eq!(get_statuses(&p).len(), 4, "two pages, twice");
}

#[test]
fn a_listing_that_stays_torn_is_an_error_not_a_partial_plan() {
    let p = Project::with_config(EmulatorConfig {
        faults: vec!["list:insertx10".parse().expect("it works")],
        ..signed(generated(1500))
    });
    p.manifest("instances:\n  - name: gen-000000\n");
    let run = p.run(&["apply", "--auto-approve"]).expect(1);
    assert!(
        run.stderr
            .contains("the listing stayed inconsistent after 3 attempts"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("refusing to plan on a partial view"),
        "{}",
        run.stderr
    );
    assert!(p.deletes().is_empty());
}

#[test]
fn the_json_apply_report_lists_each_outcome() {
    let p = Project::with_config(EmulatorConfig {
        fail_delete: vec![generated(5)[3].id.clone()],
        ..signed(generated(5))
    });
    p.manifest(KEEP_TWO);
    let run = p.run(&["apply", "--format", "json"]).expect(1);
    assert!(
        run.stderr.contains("--format json cannot ask"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty() && p.deletes().is_empty());

    let run = p
        .run(&["apply", "--format", "json", "--auto-approve"])
        .expect(4);
    let doc: serde_json::Value = serde_json::from_str(&run.stdout).expect("it works");
    assert_eq!(doc["exit_code"], 4);
    assert_eq!(
        doc["summary"],
        serde_json::json!({"deleted": 2, "failed": 1, "requests": 1})
    );
    assert_eq!(doc["plan"]["summary"]["delete"], 3);
    let outcomes = doc["outcomes"].as_array().cloned().unwrap_or_default();
    let by_name = |n: &str| {
        outcomes
            .iter()
            .find(|o| o["name"] == n)
            .cloned()
            .expect("missing")
    };
    assert_eq!(by_name("gen-000002")["outcome"], "deleted");
    assert_eq!(by_name("gen-000003")["outcome"], "failed");
    assert!(
        by_name("gen-000003")["message"]
            .as_str()
            .is_some_and(|m| m.contains("the API answered `failed`")),
        "{doc}"
    );
    assert_eq!(by_name("gen-000004")["outcome"], "deleted");
    assert!(
        doc["error"]
            .as_str()
            .is_some_and(|e| e.contains("1 of 3 deletions failed"))
    );
    assert_eq!(p.live_ids().len(), 3);
}
