use crate::support::*;

const DECLARED: &str = "instances:\n  - name: dcs-8b1c-000\n  - id: 4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192\n  - name: orders-cache\n    id: c7b9e5c1-ebfb-4e86-bc6b-ec8d9aa7e1c2\n  - name: billing-cache\n";

#[test]
fn auto_approve_deletes_exactly_the_surplus_in_one_request() {
    let p = Project::new(sample());
    p.manifest(DECLARED);
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    let out = &run.stdout;
    assert!(
        out.contains("Plan: 3 to delete, 4 to keep, 0 missing.\n"),
        "{out}"
    );
    assert!(
        out.contains("Deleting 3 instances in 1 request:\n"),
        "{out}"
    );
    assert!(
        out.contains("  deleted  dcs-8b1c-001 (9d78d0f4-a110-4bcd-8ca3-5aec414163c1)\n"),
        "{out}"
    );
    assert!(
        out.contains("  deleted  ci-pr-1841 (3e1f0c2a-5b6d-4e7f-8091-a2b3c4d5e6f7)\n"),
        "{out}"
    );
    assert!(
        out.contains("  deleted  ci-pr-1852 (6a7b8c9d-0e1f-4a2b-b3c4-d5e6f7a8b9c0)\n"),
        "{out}"
    );
    assert!(
        out.ends_with("Apply complete: 3 deleted, 0 failed.\n"),
        "{out}"
    );

    let deletes = p.deletes();
    assert_eq!(deletes.len(), 1, "one batch DELETE");
    let mut sent = deletes[0].delete_ids.clone();
    sent.sort();
    assert_eq!(
        sent,
        [
            "3e1f0c2a-5b6d-4e7f-8091-a2b3c4d5e6f7",
            "6a7b8c9d-0e1f-4a2b-b3c4-d5e6f7a8b9c0",
            "9d78d0f4-a110-4bcd-8ca3-5aec414163c1"
        ]
    );
    assert_eq!(deletes[0].path, format!("/v2/{PID}/instances"));
    assert_eq!(deletes[0].query, "all_failure=false");
    assert_eq!(
        p.live_ids(),
        [
            "0b1c2d3e-4f5a-4b6c-8d7e-f8091a2b3c4d",
            "4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192",
            "aabe73af-1db8-4401-b39c-c56996023989",
            "c7b9e5c1-ebfb-4e86-bc6b-ec8d9aa7e1c2"
        ]
    );
    // Nothing left: the next plan says so.
    let again = p.run(&["plan", "--detailed-exitcode"]).expect(0);
    assert!(again.stdout.contains("No changes."), "{}", again.stdout);
}

#[test]
fn one_hundred_twenty_surplus_go_in_three_requests_of_at_most_50() {
    let instances = generated(130);
    let p = Project::new(instances.clone());
    let keep: String = (0..10).map(|i| format!("  - name: gen-{i:06}\n")).collect();
    p.manifest(&format!("instances:\n{keep}"));
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(
        run.stdout.contains("Deleting 120 instances in 3 requests:"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .ends_with("Apply complete: 120 deleted, 0 failed.\n"),
        "{}",
        run.stdout
    );
    let sizes: Vec<usize> = p.deletes().iter().map(|d| d.delete_ids.len()).collect();
    assert_eq!(sizes, [50, 50, 20]);
    let mut sent: Vec<String> = p.deletes().into_iter().flat_map(|d| d.delete_ids).collect();
    sent.sort();
    let want: Vec<String> = ids_of(&instances[10..]);
    assert_eq!(sent, want, "each surplus id exactly once");
    assert_eq!(p.live_ids(), ids_of(&instances[..10]));
}

#[test]
fn without_a_terminal_apply_refuses_and_deletes_nothing() {
    let p = Project::new(sample());
    p.manifest(DECLARED);
    let run = p.run(&["apply"]).expect(1);
    assert!(
        run.stdout.contains("Plan: 3 to delete"),
        "the plan is still shown: {}",
        run.stdout
    );
    assert!(
        run.stderr.contains("error: apply needs a confirmation, but standard input is not a terminal; nothing was deleted"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--auto-approve"), "{}", run.stderr);
    assert!(p.deletes().is_empty());
    assert_eq!(p.live_ids(), ids_of(&sample()));
}

/// Runs `apply` on a pseudo-terminal and types `answer` once the plan is listed.
fn apply_on_a_terminal(p: &Project, answer: &str) -> Run {
    run_on_terminal(p.dir.path(), &["apply"], &p.env, Some(answer), || {
        !p.requests().is_empty()
    })
}

#[test]
fn on_a_terminal_only_yes_deletes() {
    let p = Project::new(sample());
    p.manifest(DECLARED);
    let run = apply_on_a_terminal(&p, "y");
    assert_eq!(run.code, 1, "{run:?}");
    assert!(
        run.stdout.contains("Only 'yes' will be accepted"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("apply cancelled; nothing was deleted"),
        "{}",
        run.stdout
    );
    assert!(p.deletes().is_empty());

    let p = Project::new(sample());
    p.manifest(DECLARED);
    let run = apply_on_a_terminal(&p, "yes");
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stdout.contains("Apply complete: 3 deleted, 0 failed."),
        "{}",
        run.stdout
    );
    assert_eq!(p.deletes().len(), 1);
}

#[test]
fn failed_results_in_a_200_answer_exit_4_and_name_each_instance() {
    let p = Project::with_config(EmulatorConfig {
        fail_delete: vec!["3e1f0c2a-5b6d-4e7f-8091-a2b3c4d5e6f7".to_owned()],
        ..signed(sample())
    });
    p.manifest(DECLARED);
    let run = p.run(&["apply", "--auto-approve"]).expect(4);
    assert!(run.stdout.contains("  FAILED   ci-pr-1841 (3e1f0c2a-5b6d-4e7f-8091-a2b3c4d5e6f7): the API answered `failed` (request id "), "{}", run.stdout);
    assert!(
        run.stdout
            .contains("  deleted  dcs-8b1c-001 (9d78d0f4-a110-4bcd-8ca3-5aec414163c1)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .ends_with("Apply complete: 2 deleted, 1 failed.\n"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(
            "error: 1 of 3 deletions failed: ci-pr-1841 (3e1f0c2a-5b6d-4e7f-8091-a2b3c4d5e6f7)"
        ),
        "{}",
        run.stderr
    );
    assert!(
        p.live_ids()
            .contains(&"3e1f0c2a-5b6d-4e7f-8091-a2b3c4d5e6f7".to_owned())
    );
}

#[test]
fn a_delete_request_that_fails_twice_stops_the_remaining_batches() {
    let instances = generated(60);
    let p = Project::with_config(EmulatorConfig {
        fail_delete_requests: 2,
        ..signed(instances)
    });
    p.manifest("instances:\n  - name: not-there\n");
    let run = p.run(&["apply", "--auto-approve"]).expect(4);
    let out = &run.stdout;
    assert!(
        out.contains("Deleting 60 instances in 2 requests:"),
        "{out}"
    );
    assert!(out.contains("  FAILED   gen-000000 ("), "{out}");
    assert!(
        out.contains("the delete request failed and the instance is still there (status RUNNING)"),
        "{out}"
    );
    assert!(out.contains("HTTP 500 DCS.5000"), "{out}");
    assert_eq!(
        out.matches("not attempted: an earlier delete request failed")
            .count(),
        10,
        "{out}"
    );
    assert!(
        out.ends_with("Apply complete: 0 deleted, 60 failed.\n"),
        "{out}"
    );
    assert!(
        run.stderr
            .contains("error: 60 of 60 deletions failed: gen-000000 ("),
        "{}",
        run.stderr
    );
    assert_eq!(
        p.deletes().len(),
        2,
        "the first batch once more after a listing; no batch after it"
    );
    assert_eq!(p.live_ids().len(), 60);
}

#[test]
fn a_failed_delete_request_that_a_listing_settles_does_not_stop_the_run() {
    let p = Project::with_config(EmulatorConfig {
        fail_delete_requests: 1,
        ..signed(generated(60))
    });
    p.manifest("instances:\n  - name: not-there\n");
    let run = p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(
        run.stdout
            .ends_with("Apply complete: 60 deleted, 0 failed.\n"),
        "{}",
        run.stdout
    );
    let statuses: Vec<u16> = p.deletes().iter().map(|r| r.status).collect();
    assert_eq!(
        statuses,
        [500, 200, 200],
        "the failed batch once more, then the next"
    );
    assert!(p.live_ids().is_empty());
}
