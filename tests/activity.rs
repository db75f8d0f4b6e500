//! The activity guard (`guards.idle_for`) against the emulator's Cloud Eye: in-use and unknown
//! instances are skipped with their figures, idle ones deleted; the period and the call
//! splitting as the emulator received them; fail closed on Cloud Eye errors; saved plans gone
//! stale; Cloud Eye never asked when nothing would be deleted.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::support::*;
use dcs_reconcile::emulator::Activity;

const APP: &str = "11111111-0000-4000-8000-000000000001";
const BUSY: &str = "22222222-0000-4000-8000-000000000002";
const IDLE: &str = "33333333-0000-4000-8000-000000000003";
const DARK: &str = "44444444-0000-4000-8000-000000000004";

fn busy(ops: f64, connections: f64) -> Activity {
    Activity {
        ops,
        connections,
        ..Activity::default()
    }
}

/// `app` (declared), `busy` (12 ops/s, 40 connections a period), `idle`, and `dark` (no
/// Cloud Eye data).
fn project() -> Project {
    let mut activity = BTreeMap::new();
    activity.insert("busy".to_owned(), busy(12.0, 40.0));
    activity.insert(
        DARK.to_owned(),
        Activity {
            no_data: true,
            ..Activity::default()
        },
    );
    Project::with_config(EmulatorConfig {
        activity,
        ..signed(vec![
            EmuInstance::new(APP, "app"),
            EmuInstance::new(BUSY, "busy"),
            EmuInstance::new(IDLE, "idle"),
            EmuInstance::new(DARK, "dark"),
        ])
    })
}

/// The manifest declaring `app`, with `guards` (YAML flow mapping body) and `ces_endpoint`
/// pointing at the emulator.
fn guarded(p: &Project, guards: &str) -> std::path::PathBuf {
    p.manifest(&format!(
        "ces_endpoint: {}\nguards: {{{guards}}}\ninstances:\n  - name: app\n",
        p.emulator.url()
    ))
}

fn json_plan(p: &Project) -> Value {
    let run = p.run(&["plan", "--format", "json"]).expect(0);
    serde_json::from_str(&run.stdout).expect("a JSON plan")
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array()
        .map(|a| a.iter().filter_map(|d| d["id"].as_str()).collect())
        .unwrap_or_default()
}

/// The Cloud Eye requests the emulator answered, with their JSON bodies.
fn ces_requests(p: &Project) -> Vec<(RequestRecord, Value)> {
    p.requests()
        .into_iter()
        .filter(|r| r.path.starts_with("/V1.0/"))
        .map(|r| {
            let body = serde_json::from_str(&r.body).unwrap_or(Value::Null);
            (r, body)
        })
        .collect()
}

fn skip_of<'a>(plan: &'a Value, id: &str) -> &'a Value {
    plan["skip"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["id"] == id))
        .unwrap_or_else(|| panic!("{id} is not skipped: {plan:#}"))
}

#[test]
fn in_use_and_unknown_instances_are_skipped_with_their_figures_and_idle_ones_deleted() {
    let p = project();
    guarded(&p, "idle_for: 24h");
    let plan = json_plan(&p);
    assert_eq!(ids(&plan["delete"]), [IDLE]);
    let b = skip_of(&plan, BUSY);
    assert_eq!(b["reason_code"], "in_use");
    let reason = b["reason"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("in use: peak 12 ops/s, ")
            && reason.ends_with(" new connections in the last 24h (Cloud Eye)"),
        "{reason}"
    );
    let d = skip_of(&plan, DARK);
    assert_eq!(d["reason_code"], "activity_unknown");
    assert_eq!(
        d["reason"],
        "activity unknown: no monitoring data in the last 24h"
    );
    // The figures of every instance checked, and only those (`app` is declared).
    let activity = plan["activity"].as_object().expect("an activity object");
    let mut checked: Vec<&str> = activity.keys().map(String::as_str).collect();
    checked.sort_unstable();
    let mut want = vec![BUSY, IDLE, DARK];
    want.sort_unstable();
    assert_eq!(checked, want);
    assert_eq!(activity[BUSY]["peak_ops"], 12.0);
    assert_eq!(activity[BUSY]["idle"], false);
    assert_eq!(activity[BUSY]["new_connections"], 40.0, "the window's sum");
    assert_eq!(activity[IDLE]["peak_ops"], 0.0);
    assert_eq!(activity[IDLE]["new_connections"], 0.0);
    assert_eq!(activity[IDLE]["idle"], true);
    assert_eq!(activity[IDLE]["window_seconds"], 86_400);
    assert_eq!(activity[DARK]["datapoints"], 0);
    assert_eq!(activity[DARK]["peak_ops"], Value::Null);
    assert_eq!(plan["summary"]["skip"], 2);

    // Text: the reason always, the figures with -v.
    let text = p.run(&["plan"]).expect(0).stdout;
    assert!(text.contains("      in use: peak 12 ops/s, "), "{text}");
    assert!(!text.contains("Cloud Eye: peak"), "{text}");
    let verbose = p.run(&["plan", "-v"]).expect(0).stdout;
    assert!(
        verbose.contains("      Cloud Eye: peak 0 ops/s, 0 new connections in the last 24h ("),
        "{verbose}"
    );
    let md = p.run(&["plan", "--format", "markdown"]).expect(0).stdout;
    assert!(
        md.contains("#### Activity in the last 24h (Cloud Eye, 3 checked)"),
        "{md}"
    );

    // apply deletes the idle instance only.
    p.run(&["apply", "--auto-approve"]).expect(0);
    let deleted: Vec<String> = p.deletes().into_iter().flat_map(|r| r.delete_ids).collect();
    assert_eq!(deleted, [IDLE]);
    let mut left = vec![APP.to_owned(), BUSY.to_owned(), DARK.to_owned()];
    left.sort();
    assert_eq!(p.live_ids(), left);
}

#[test]
fn thresholds_decide_what_counts_as_idle() {
    // 12 ops/s at most, and plenty of connections: busy counts as idle.
    let p = project();
    guarded(
        &p,
        "idle_for: 1h, idle_max_ops: 12, idle_max_connections: 1000000",
    );
    let plan = json_plan(&p);
    let mut deleted = ids(&plan["delete"]);
    deleted.sort_unstable();
    let mut want = vec![BUSY, IDLE];
    want.sort_unstable();
    assert_eq!(deleted, want);
    // No data stays unknown whatever the thresholds.
    assert_eq!(skip_of(&plan, DARK)["reason_code"], "activity_unknown");

    // Just below the peak: in use.
    guarded(
        &p,
        "idle_for: 1h, idle_max_ops: 11.5, idle_max_connections: 1000000",
    );
    assert_eq!(skip_of(&json_plan(&p), BUSY)["reason_code"], "in_use");

    // Ops allowed but connections not.
    guarded(
        &p,
        "idle_for: 1h, idle_max_ops: 12, idle_max_connections: 39",
    );
    assert_eq!(skip_of(&json_plan(&p), BUSY)["reason_code"], "in_use");
}

#[test]
fn the_period_is_the_smallest_that_covers_the_window() {
    for (window, period, ms) in [
        ("1h", "300", 3_600_000_i64),
        ("2d", "1200", 2 * 86_400_000),
        ("30d", "14400", 30 * 86_400_000),
    ] {
        let p = project();
        guarded(&p, &format!("idle_for: {window}"));
        let plan = json_plan(&p);
        let seen = ces_requests(&p);
        // One call per metric: 3 instances fit one call.
        assert_eq!(seen.len(), 2, "{window}");
        let mut filters: Vec<(&str, &str)> = seen
            .iter()
            .map(|(_, b)| {
                (
                    b["metrics"][0]["metric_name"].as_str().unwrap_or_default(),
                    b["filter"].as_str().unwrap_or_default(),
                )
            })
            .collect();
        filters.sort_unstable();
        assert_eq!(
            filters,
            [
                ("instantaneous_ops", "max"),
                ("total_connections_received", "sum")
            ]
        );
        for (r, b) in &seen {
            assert_eq!(r.method, "POST");
            assert_eq!(r.path, format!("/V1.0/{PID}/batch-query-metric-data"));
            assert_eq!(b["period"], period, "{window}");
            let span = b["to"].as_i64().unwrap_or(0) - b["from"].as_i64().unwrap_or(0);
            assert_eq!(span, ms, "{window}");
            assert_eq!(b["metrics"].as_array().map(Vec::len), Some(3), "{window}");
            assert!(
                b["metrics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|m| m["namespace"] == "SYS.DCS"
                        && m["dimensions"][0]["name"] == "dcs_instance_id"),
                "{b}"
            );
        }
        assert_eq!(ids(&plan["delete"]), [IDLE], "{window}");
    }
}

#[test]
fn more_instances_than_fit_one_call_are_split_and_all_checked() {
    // 25 deletions over one day at 300 s: 10 metrics a call (3,000 datapoints), 3 calls per
    // metric.
    let p = Project::new(generated(26));
    p.manifest(&format!(
        "ces_endpoint: {}\nguards: {{idle_for: 24h}}\ninstances:\n  - name: gen-000000\n",
        p.emulator.url()
    ));
    let plan = json_plan(&p);
    let seen = ces_requests(&p);
    assert_eq!(seen.len(), 6);
    let mut per_call: Vec<usize> = seen
        .iter()
        .map(|(_, b)| b["metrics"].as_array().map_or(0, Vec::len))
        .collect();
    per_call.sort_unstable();
    assert_eq!(per_call, [5, 5, 10, 10, 10, 10]);
    assert_eq!(plan["activity"].as_object().map(|a| a.len()), Some(25));
    assert_eq!(plan["summary"]["delete"], 25);
}

#[test]
fn cloud_eye_errors_fail_closed_and_say_what_was_asked() {
    for (fault, needle) in [("ces:403", "ces:metricData:list"), ("ces:500x10", "500")] {
        let mut config = EmulatorConfig {
            faults: vec![fault.parse().expect("a fault")],
            ..signed(vec![
                EmuInstance::new(APP, "app"),
                EmuInstance::new(IDLE, "idle"),
            ])
        };
        config
            .activity
            .insert("idle".to_owned(), Activity::default());
        let mut p = Project::with_config(config);
        p.env.push(("HW_MAX_RETRIES".to_owned(), "1".to_owned()));
        guarded(&p, "idle_for: 24h");
        let run = p.run(&["apply", "--auto-approve"]).expect(1);
        assert!(run.stderr.contains(needle), "{fault}: {}", run.stderr);
        assert!(
            run.stderr.contains("could not read Cloud Eye")
                && run
                    .stderr
                    .contains("total_connections_received of 1 instance")
                && run.stderr.contains("nothing was deleted"),
            "{fault}: {}",
            run.stderr
        );
        assert!(p.deletes().is_empty(), "{fault}");
        assert_eq!(p.live_ids().len(), 2);
        if fault == "ces:403" {
            // The fault is spent: once Cloud Eye answers, the plan goes through.
            p.run(&["plan"]).expect(0);
        }
    }
}

#[test]
fn a_saved_plan_is_stale_once_an_instance_is_in_use() {
    let p = project();
    guarded(&p, "idle_for: 24h");
    p.run(&["plan", "--out", "plan.json"]).expect(0);
    p.emulator.shared().set_activity(IDLE, busy(3.0, 1.0));
    let before = ces_requests(&p).len();
    let run = p.run(&["apply", "--plan", "plan.json"]).expect(3);
    assert!(ces_requests(&p).len() > before, "Cloud Eye asked again");
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("stale"), "{all}");
    assert!(all.contains(IDLE), "{all}");
    assert!(p.deletes().is_empty());

    // Idle again: the saved plan applies.
    p.emulator.shared().set_activity(IDLE, Activity::default());
    p.run(&["apply", "--plan", "plan.json"]).expect(0);
    let deleted: Vec<String> = p.deletes().into_iter().flat_map(|r| r.delete_ids).collect();
    assert_eq!(deleted, [IDLE]);
}

#[test]
fn cloud_eye_is_not_asked_when_nothing_would_be_deleted() {
    let p = project();
    p.manifest(&format!(
        "ces_endpoint: {}\nguards: {{idle_for: 24h}}\ninstances:\n  - name: app\n  - name: busy\n  - name: idle\n  - name: dark\n",
        p.emulator.url()
    ));
    let plan = json_plan(&p);
    assert!(ces_requests(&p).is_empty());
    assert_eq!(plan["activity"], serde_json::json!({}));
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert!(ces_requests(&p).is_empty());

    // Without the guard: no Cloud Eye, no `activity` key.
    let p = project();
    p.manifest("instances:\n  - name: app\n");
    let plan = json_plan(&p);
    assert!(ces_requests(&p).is_empty());
    assert!(plan.get("activity").is_none(), "{plan:#}");
    assert_eq!(plan["summary"]["delete"], 3);
}

#[test]
fn the_endpoint_comes_from_the_flag_the_manifest_or_the_region() {
    let p = project();
    // No `ces_endpoint:` and no region: an error naming what to set, nothing sent to CES.
    p.manifest("guards: {idle_for: 24h}\ninstances:\n  - name: app\n");
    let run = p.run(&["plan"]).expect(1);
    assert!(
        run.stderr.contains("ces_endpoint:") && run.stderr.contains("--ces-endpoint"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("HW_REGION_NAME"), "{}", run.stderr);
    assert!(ces_requests(&p).is_empty());
    // The flag supplies it (and wins over the manifest's).
    let url = p.emulator.url();
    let run = p.run(&["plan", "--format", "json", "--ces-endpoint", &url]);
    let plan: Value = serde_json::from_str(&run.expect(0).stdout).expect("JSON");
    assert_eq!(ids(&plan["delete"]), [IDLE]);
    p.manifest(
        "ces_endpoint: http://127.0.0.1:9\nguards: {idle_for: 24h}\ninstances:\n  - name: app\n",
    );
    p.run(&["plan", "--ces-endpoint", &url]).expect(0);
    // Plain http off loopback is refused before anything is sent.
    let run = p
        .run(&["plan", "--ces-endpoint", "http://ces.example.com"])
        .expect(1);
    assert!(run.stderr.contains("--ces-endpoint"), "{}", run.stderr);
    assert!(
        run.stderr.contains("refusing plain http://"),
        "{}",
        run.stderr
    );
    // `diff` takes the flag too and leaves the in-use instances out.
    p.manifest("guards: {idle_for: 24h}\ninstances:\n  - name: app\n");
    let run = p.run(&["diff", "--ces-endpoint", &url]).expect(2);
    assert!(run.stdout.contains("-idle"), "{}", run.stdout);
    assert!(!run.stdout.contains("busy"), "{}", run.stdout);
}

#[test]
fn the_emulator_command_sets_activity_from_flags() {
    let emu = spawn_emulator(&[
        "--generate".as_ref(),
        "4".as_ref(),
        "--active-every".as_ref(),
        "2".as_ref(),
        "--activity".as_ref(),
        "gen-000001=no-data".as_ref(),
    ]);
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(
        dir.path().join("dcs.yaml"),
        format!(
            "project_id: {PID}\nendpoint: {url}\nces_endpoint: {url}\nguards: {{idle_for: 24h}}\ninstances: []\n",
            url = emu.url
        ),
    )
    .expect("write");
    let env = [
        ("HUAWEICLOUD_SDK_AK".to_owned(), AK.to_owned()),
        ("HUAWEICLOUD_SDK_SK".to_owned(), SK.to_owned()),
    ];
    let run = run_in(dir.path(), &["plan", "--format", "json"], &env).expect(0);
    let plan: Value = serde_json::from_str(&run.stdout).expect("JSON");
    let names = |list: &Value| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = list
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| {
                (
                    d["name"].as_str().unwrap_or_default().to_owned(),
                    d["reason_code"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        names(&plan["skip"]),
        [
            ("gen-000000".to_owned(), "in_use".to_owned()),
            ("gen-000001".to_owned(), "activity_unknown".to_owned()),
            ("gen-000002".to_owned(), "in_use".to_owned()),
        ]
    );
    assert_eq!(
        names(&plan["delete"]),
        [("gen-000003".to_owned(), "not_declared".to_owned())]
    );
}

#[test]
fn the_check_after_yes_asks_cloud_eye_again() {
    let p = project();
    guarded(&p, "idle_for: 24h");
    let shared = p.emulator.shared();
    let run = run_on_terminal(p.dir.path(), &["apply"], &p.env, Some("yes"), || {
        if ces_requests(&p).len() < 2 {
            return false;
        }
        // The plan is being shown: the idle instance gets busy while the prompt is open.
        std::thread::sleep(std::time::Duration::from_millis(200));
        shared.set_activity(IDLE, busy(1.0, 1.0));
        true
    });
    assert_eq!(run.code, 3, "{run:?}");
    assert!(run.stdout.contains("stale"), "{}", run.stdout);
    assert_eq!(ces_requests(&p).len(), 4, "asked again after yes");
    assert!(p.deletes().is_empty());
}

#[test]
fn skips_of_the_guard_do_not_count_toward_max_delete() {
    // Three candidates, two kept by the guard: one deletion, within `max_delete: 1`.
    let p = project();
    guarded(&p, "idle_for: 24h, max_delete: 1");
    let plan = json_plan(&p);
    assert_eq!(plan["refusals"], serde_json::json!([]), "{plan:#}");
    p.run(&["apply", "--auto-approve"]).expect(0);
    assert_eq!(p.deletes().len(), 1);
}
