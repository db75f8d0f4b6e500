use std::time::Duration;

use serde_json::Value;

use crate::support::*;

/// The GET requests the emulator answered, as their queries, sorted (concurrent pages arrive
/// in any order).
fn list_queries(p: &Project) -> Vec<String> {
    let mut queries: Vec<String> = p
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET")
        .map(|r| r.query)
        .collect();
    queries.sort_by_key(|q| offset_of(q));
    queries
}

fn offset_of(query: &str) -> usize {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix("offset="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(usize::MAX)
}

fn page_query(offset: usize) -> String {
    format!("include_failure=true&limit=1000&offset={offset}")
}

/// Plans `n` generated instances, two of them declared, and checks the JSON plan.
fn plan_n(n: usize, extra: &[&str]) -> Project {
    let instances = generated(n);
    let p = Project::new(instances.clone());
    p.manifest("instances:\n  - name: gen-000000\n  - name: gen-000001\n");
    let mut args = vec!["plan", "--format", "json"];
    args.extend_from_slice(extra);
    let run = p.run(&args).expect(0);
    let doc: Value = serde_json::from_str(&run.stdout).expect("it works");
    let mut listed: Vec<String> = ["delete", "keep"]
        .iter()
        .flat_map(|k| doc[k].as_array().cloned().unwrap_or_default())
        .filter_map(|d| d["id"].as_str().map(str::to_owned))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        ids_of(&instances),
        "N={n} {extra:?}: every instance once"
    );
    p
}

#[test]
fn plan_sends_exactly_one_get_per_1000_instances() {
    for (n, pages) in [(0, 1), (1, 1), (1000, 1), (1001, 2), (2500, 3)] {
        for extra in [&["--concurrency", "1"][..], &[][..]] {
            let p = plan_n(n, extra);
            let want: Vec<String> = (0..pages).map(|i| page_query(i * 1000)).collect();
            assert_eq!(list_queries(&p), want, "N={n} {extra:?}");
            assert_eq!(p.requests().len(), pages, "N={n} {extra:?}: only GETs");
            assert_eq!(p.requests()[0].query, page_query(0), "the first page first");
        }
    }
}

#[test]
fn apply_adds_one_delete_per_50_surplus_instances() {
    // 1130 instances (2 pages), 1010 declared, 120 surplus: 2 GETs + 3 DELETEs.
    for extra in [&["--concurrency", "1"][..], &[][..]] {
        let instances = generated(1130);
        let p = Project::new(instances.clone());
        let keep: String = (0..1010)
            .map(|i| format!("  - name: gen-{i:06}\n"))
            .collect();
        p.manifest(&format!("instances:\n{keep}"));
        let mut args = vec!["apply", "--auto-approve"];
        args.extend_from_slice(extra);
        p.run(&args).expect(0);
        let methods: Vec<String> = p.requests().into_iter().map(|r| r.method).collect();
        assert_eq!(
            methods,
            ["GET", "GET", "DELETE", "DELETE", "DELETE"],
            "{extra:?}"
        );
        let sizes: Vec<usize> = p.deletes().iter().map(|d| d.delete_ids.len()).collect();
        assert_eq!(sizes, [50, 50, 20]);
        assert_eq!(p.live_ids(), ids_of(&instances[..1010]));
    }
}

/// A project whose emulator answers after `latency`.
fn slow_project(n: usize, latency: Duration) -> Project {
    let p = Project::with_config(EmulatorConfig {
        latency,
        ..signed(generated(n))
    });
    p.manifest("instances:\n  - name: gen-000000\n");
    p
}

#[test]
fn pages_after_the_first_are_read_concurrently_within_the_bound() {
    let latency = Duration::from_millis(150);
    // 5 pages: the first alone, then 4 that may overlap.
    let sequential = slow_project(4500, latency);
    sequential.run(&["plan", "--concurrency", "1"]).expect(0);
    assert_eq!(sequential.emulator.shared().max_in_flight(), 1);
    assert_eq!(list_queries(&sequential).len(), 5);

    let bounded = slow_project(4500, latency);
    bounded.run(&["plan", "--concurrency", "2"]).expect(0);
    assert_eq!(bounded.emulator.shared().max_in_flight(), 2);
    assert_eq!(list_queries(&bounded).len(), 5);

    let default = slow_project(4500, latency);
    default.run(&["plan"]).expect(0);
    let peak = default.emulator.shared().max_in_flight();
    assert!(peak >= 3, "the 4 remaining pages overlap ({peak} at once)");
    assert_eq!(list_queries(&default).len(), 5);
}

#[test]
fn concurrency_must_be_at_least_one() {
    let p = Project::new(sample());
    p.manifest("instances:\n  - name: dcs-8b1c-000\n");
    for bad in ["0", "-1", "many", "65"] {
        let arg = format!("--concurrency={bad}");
        let run = p.run(&["plan", &arg]).expect(1);
        assert!(
            run.stderr.contains("--concurrency"),
            "{bad}: {}",
            run.stderr
        );
        let run = p.run(&["apply", &arg]).expect(1);
        assert!(
            run.stderr.contains("--concurrency"),
            "{bad}: {}",
            run.stderr
        );
    }
    assert!(p.requests().is_empty());
}
