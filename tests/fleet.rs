//! A whole fleet in one run (issue 15): several manifests (repeated `-f`, directories),
//! concurrent planning under one bound, the fleet documents, all or nothing before deleting,
//! `--keep-going`, `--max-delete-total`, saved plans over several targets and `--shard`.
//! Each target is an emulator of its own on 127.0.0.1.

use std::path::PathBuf;
use std::sync::Arc;

use serde_json::Value;

use crate::support::*;
use dcs_reconcile::emulator::Gauge;

/// Emulators, one per target, and a folder with one manifest per target.
struct Fleet {
    emulators: Vec<Emulator>,
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

/// Target `i` has `ci-<i>-keep` (declared) and `ci-<i>-a`, `ci-<i>-b` (surplus).
fn instances(i: usize) -> Vec<EmuInstance> {
    vec![
        EmuInstance::new(&format!("id-{i}-keep"), &format!("ci-{i}-keep")),
        EmuInstance::new(&format!("id-{i}-a"), &format!("ci-{i}-a")),
        EmuInstance::new(&format!("id-{i}-b"), &format!("ci-{i}-b")),
    ]
}

impl Fleet {
    fn new(n: usize) -> Fleet {
        Self::with(n, |_, c| c)
    }

    /// `n` targets; `config` may change each emulator's configuration.
    fn with(n: usize, config: impl Fn(usize, EmulatorConfig) -> EmulatorConfig) -> Fleet {
        let emulators: Vec<Emulator> = (0..n)
            .map(|i| Emulator::start(config(i, signed(instances(i)))).expect("emulator"))
            .collect();
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("fleet")).expect("mkdir");
        let fleet = Fleet {
            emulators,
            dir,
            env: vec![
                ("HUAWEICLOUD_SDK_AK".to_owned(), AK.to_owned()),
                ("HUAWEICLOUD_SDK_SK".to_owned(), SK.to_owned()),
            ],
        };
        for i in 0..n {
            fleet.manifest(i, "");
        }
        fleet
    }

    /// Writes `fleet/t<i>.yaml` for emulator `i`, declaring `ci-<i>-keep`, with `extra` added.
    fn manifest(&self, i: usize, extra: &str) -> PathBuf {
        let path = self.dir.path().join(format!("fleet/t{i}.yaml"));
        let text = format!(
            "project_id: {PID}\nendpoint: {}\nscope: {{name_prefix: ci-}}\n{extra}instances:\n  - name: ci-{i}-keep\n",
            self.emulators[i].url()
        );
        std::fs::write(&path, text).expect("write");
        path
    }

    fn run(&self, args: &[&str]) -> Run {
        run_in(self.dir.path(), args, &self.env)
    }

    fn deletes(&self, i: usize) -> usize {
        self.emulators[i]
            .shared()
            .requests()
            .iter()
            .filter(|r| r.method == "DELETE")
            .count()
    }

    fn live(&self, i: usize) -> Vec<String> {
        let mut ids = self.emulators[i].shared().instance_ids();
        ids.sort();
        ids
    }
}

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

#[test]
fn a_directory_and_repeated_files_are_one_target_each_with_a_section_and_a_summary() {
    let f = Fleet::new(3);
    // Left out of a directory: other extensions, hidden files, subdirectories.
    std::fs::write(f.dir.path().join("fleet/notes.txt"), "not a manifest").expect("write");
    std::fs::write(f.dir.path().join("fleet/.t9.yaml"), "broken: [").expect("write");
    std::fs::create_dir(f.dir.path().join("fleet/sub.yaml")).expect("mkdir");
    let dir = f
        .run(&["plan", "-f", "fleet", "--detailed-exitcode"])
        .expect(2);
    let out = &dir.stdout;
    for (n, i) in [(1, 0), (2, 1), (3, 2)] {
        let header = format!(
            "=== [{n}/3] fleet/t{i}.yaml · project {PID} · {}",
            f.emulators[i].url().trim_end_matches('/')
        );
        assert!(out.contains(&header), "{header}\n{out}");
    }
    assert!(
        out.contains("Fleet: 3 targets, 6 to delete, 3 to keep."),
        "{out}"
    );
    assert!(
        out.contains("  changes: fleet/t0.yaml, fleet/t1.yaml, fleet/t2.yaml"),
        "{out}"
    );
    // Colour reaches every section, each written as its target was planned.
    let coloured = f
        .run(&["plan", "-f", "fleet", "--color", "always"])
        .expect(0);
    assert_eq!(
        coloured.stdout.matches("\x1b[31m  - ").count(),
        6,
        "{}",
        coloured.stdout
    );
    // The same targets named one by one, in the order given.
    let files = f
        .run(&["plan", "-f", "fleet/t2.yaml", "-f", "fleet/t0.yaml"])
        .expect(0);
    let first = files.stdout.find("fleet/t2.yaml ·").expect("t2");
    let second = files.stdout.find("fleet/t0.yaml ·").expect("t0");
    assert!(first < second, "{}", files.stdout);
    assert!(
        files.stdout.contains("Fleet: 2 targets, 4 to delete"),
        "{}",
        files.stdout
    );
    // validate reads them all, without a request.
    let v = f.run(&["validate", "-f", "fleet"]).expect(0);
    assert_eq!(v.stdout.matches("is valid").count(), 3, "{}", v.stdout);
    for i in 0..3 {
        assert_eq!(f.deletes(i), 0);
    }
}

#[test]
fn a_file_given_twice_an_empty_directory_and_a_bad_manifest_fail_before_any_request() {
    let f = Fleet::new(2);
    let twice = f
        .run(&["plan", "-f", "fleet", "-f", "fleet/t1.yaml"])
        .expect(1);
    assert!(
        twice.stderr.contains("fleet/t1.yaml is given twice"),
        "{}",
        twice.stderr
    );
    let same = f
        .run(&["plan", "-f", "fleet/t0.yaml", "-f", "./fleet/t0.yaml"])
        .expect(1);
    assert!(same.stderr.contains("are the same file"), "{}", same.stderr);
    std::fs::create_dir(f.dir.path().join("empty")).expect("mkdir");
    let empty = f.run(&["plan", "-f", "empty"]).expect(1);
    assert!(
        empty
            .stderr
            .contains("empty: a directory without any *.yaml or *.yml manifest"),
        "{}",
        empty.stderr
    );
    std::fs::write(f.dir.path().join("fleet/t1.yaml"), "instances: [\n").expect("write");
    let bad = f.run(&["apply", "-f", "fleet", "--auto-approve"]).expect(1);
    assert!(bad.stderr.contains("fleet/t1.yaml:"), "{}", bad.stderr);
    let v = f.run(&["validate", "-f", "fleet"]).expect(1);
    assert!(v.stdout.contains("fleet/t0.yaml is valid"), "{}", v.stdout);
    assert!(
        v.stderr.contains("1 of 2 manifests are invalid"),
        "{}",
        v.stderr
    );
    for e in &f.emulators {
        assert!(e.shared().requests().is_empty(), "a request was sent");
    }
}

#[test]
fn two_targets_naming_the_same_project_at_the_same_endpoint_are_refused() {
    let f = Fleet::new(1);
    let text = std::fs::read_to_string(f.dir.path().join("fleet/t0.yaml")).expect("read");
    // The same endpoint, with a trailing slash.
    let text = text.replace(
        &format!("endpoint: {}", f.emulators[0].url()),
        &format!("endpoint: {}/", f.emulators[0].url().trim_end_matches('/')),
    );
    std::fs::write(f.dir.path().join("fleet/copy.yaml"), text).expect("write");
    let run = f.run(&["apply", "-f", "fleet", "--auto-approve"]).expect(1);
    assert!(run.stderr.contains("are the same target"), "{}", run.stderr);
    // The JSON report is the fleet's even when no target got as far as its section.
    let doc = json(
        &f.run(&["apply", "-f", "fleet", "--auto-approve", "--format", "json"])
            .expect(1),
    );
    assert_eq!(doc["targets"], serde_json::json!([]));
    assert!(
        doc["error"]
            .as_str()
            .expect("error")
            .contains("are the same target")
    );
    assert_eq!(f.deletes(0), 0);
}

#[test]
fn targets_are_planned_concurrently_under_parallel_and_the_in_flight_bound() {
    let overlap = |args: &[&str]| {
        let gauge = Arc::new(Gauge::default());
        let f = Fleet::with(4, |_, c| EmulatorConfig {
            // Long enough for the four first requests to overlap on a loaded machine.
            latency: std::time::Duration::from_millis(1000),
            gauge: Some(gauge.clone()),
            ..c
        });
        let mut all = vec!["plan", "-f", "fleet"];
        all.extend_from_slice(args);
        f.run(&all).expect(0);
        gauge.max()
    };
    let all = overlap(&[]);
    assert!(
        all >= 3,
        "the default --parallel 8 plans the four targets at once: {all} in flight at most"
    );
    assert_eq!(overlap(&["--parallel", "1"]), 1, "one target after another");
    assert_eq!(
        overlap(&["--parallel", "4", "--max-in-flight", "2"]),
        2,
        "one bound over every target's requests"
    );
}

#[test]
fn a_slow_target_holds_only_its_own_slot_and_the_report_keeps_the_order() {
    // `--parallel 2`: t0 is slow, t1 quick. t2 must start as soon as t1 is done, while t0 is
    // still waiting for its answer (the gauge, shared by t0 and t2 only, sees both), and the
    // report still lists t0, t1, t2 in that order.
    let gauge = Arc::new(Gauge::default());
    let f = Fleet::with(3, |i, c| EmulatorConfig {
        latency: std::time::Duration::from_millis(match i {
            0 => 2000,
            1 => 0,
            _ => 1000,
        }),
        gauge: (i != 1).then(|| gauge.clone()),
        ..c
    });
    let out = f.run(&["plan", "-f", "fleet", "--parallel", "2"]).expect(0);
    assert_eq!(gauge.max(), 2, "t2 was not planned beside t0");
    let at = |name: &str| {
        out.stdout
            .find(name)
            .unwrap_or_else(|| panic!("{name}: {}", out.stdout))
    };
    // Each section is written as its target is planned (t1 first, t0 last): each still has
    // its own number, and the sections are printed in the targets' order.
    assert!(at("=== [1/3] fleet/t0.yaml") < at("=== [2/3] fleet/t1.yaml"));
    assert!(at("=== [2/3] fleet/t1.yaml") < at("=== [3/3] fleet/t2.yaml"));
    assert!(at("=== [3/3] fleet/t2.yaml") < at("Fleet: 3 targets"));
}

#[test]
fn the_fleet_json_and_markdown_have_every_target_and_one_summary() {
    let f = Fleet::new(2);
    f.manifest(1, "guards: {max_delete: 1}\n");
    let doc = json(
        &f.run(&["plan", "-f", "fleet", "--format", "json"])
            .expect(0),
    );
    assert_eq!(doc["format_version"], "1");
    let targets = doc["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 2);
    for (i, t) in targets.iter().enumerate() {
        assert_eq!(t["manifest"]["path"], format!("fleet/t{i}.yaml"));
        assert_eq!(t["project_id"], PID);
        assert_eq!(
            t["endpoint"],
            format!("{}/", f.emulators[i].url().trim_end_matches('/'))
        );
        assert_eq!(t["region"], Value::Null);
        assert_eq!(t["delete"].as_array().expect("delete").len(), 2);
    }
    assert_eq!(targets[0]["status"], "changes");
    assert_eq!(targets[1]["status"], "refused");
    let s = &doc["summary"];
    assert_eq!(s["targets"], 2);
    assert_eq!(s["delete"], 4);
    assert_eq!(s["keep"], 2);
    assert_eq!(s["targets_refused"], serde_json::json!(["fleet/t1.yaml"]));
    assert_eq!(
        s["targets_with_changes"],
        serde_json::json!(["fleet/t0.yaml"])
    );
    // One target keeps today's document: no `targets`.
    let one = json(
        &f.run(&["plan", "-f", "fleet/t0.yaml", "--format", "json"])
            .expect(0),
    );
    assert!(one.get("targets").is_none());
    assert_eq!(one["delete"].as_array().expect("delete").len(), 2);

    let md = f
        .run(&["plan", "-f", "fleet", "--format", "markdown"])
        .expect(0)
        .stdout;
    assert!(
        md.starts_with("### dcs-reconcile plan: 2 targets, 4 instances to delete\n"),
        "{md}"
    );
    assert!(md.contains("| fleet/t1.yaml | "), "{md}");
    assert!(md.contains("| **refused** |"), "{md}");
    assert!(md.contains("#### fleet/t0.yaml · project"), "{md}");
    assert!(md.contains("###### To delete (2)"), "{md}");
}

#[test]
fn apply_deletes_nothing_anywhere_when_one_target_cannot_be_planned() {
    // Target 1's listing fails every time.
    let f = Fleet::with(2, |i, c| EmulatorConfig {
        faults: if i == 1 {
            vec!["list:400".parse().expect("fault")]
        } else {
            Vec::new()
        },
        ..c
    });
    let run = f.run(&["apply", "-f", "fleet", "--auto-approve"]).expect(1);
    assert!(
        run.stderr
            .contains("1 of 2 targets could not be planned: fleet/t1.yaml"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("nothing was deleted in any target"),
        "{}",
        run.stderr
    );
    assert!(
        run.stdout.contains("=== [2/2] fleet/t1.yaml"),
        "{}",
        run.stdout
    );
    assert_eq!(f.deletes(0), 0);
    assert_eq!(f.live(0).len(), 3);
}

#[test]
fn a_refused_target_stops_the_fleet_and_keep_going_applies_the_others_with_exit_4() {
    let f = Fleet::new(3);
    f.manifest(1, "guards: {max_delete: 1}\n");
    let refused = f.run(&["apply", "-f", "fleet", "--auto-approve"]).expect(3);
    assert!(
        refused.stderr.contains("fleet/t1.yaml"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stdout.ends_with(
            "\nFleet: nothing deleted in any of 3 targets.\n  at fault: fleet/t1.yaml\n"
        ),
        "{}",
        refused.stdout
    );
    for i in 0..3 {
        assert_eq!(f.deletes(i), 0, "target {i}");
    }
    let kept = f
        .run(&[
            "apply",
            "-f",
            "fleet",
            "--auto-approve",
            "--keep-going",
            "--format",
            "json",
        ])
        .expect(4);
    let doc = json(&kept);
    assert_eq!(doc["exit_code"], 4);
    let error = doc["error"].as_str().expect("error");
    assert!(
        error.contains("applied 2 of 3 targets; left out (--keep-going): fleet/t1.yaml"),
        "{error}"
    );
    assert_eq!(f.live(0), vec!["id-0-keep"]);
    assert_eq!(f.live(1).len(), 3, "the refused target is untouched");
    assert_eq!(f.live(2), vec!["id-2-keep"]);
    let targets = doc["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 3);
    assert_eq!(targets[0]["summary"]["deleted"], 2);
    assert_eq!(targets[1]["exit_code"], 3);
    assert_eq!(
        targets[1]["outcomes"].as_array().expect("outcomes").len(),
        0
    );
    assert_eq!(doc["summary"]["deleted"], 4);
    assert_eq!(
        doc["summary"]["targets_at_fault"],
        serde_json::json!(["fleet/t1.yaml"])
    );
}

#[test]
fn max_delete_total_guards_the_whole_run() {
    let f = Fleet::new(2);
    let plan = f
        .run(&["plan", "-f", "fleet", "--max-delete-total", "3"])
        .expect(0);
    assert!(
        plan.stdout.contains("Apply would refuse the whole run (exit 3): --max-delete-total 3: the run would delete 4 instances over 2 targets"),
        "{}",
        plan.stdout
    );
    let refused = f
        .run(&[
            "apply",
            "-f",
            "fleet",
            "--auto-approve",
            "--max-delete-total",
            "3",
        ])
        .expect(3);
    assert!(
        refused.stderr.contains("nothing was deleted in any target"),
        "{}",
        refused.stderr
    );
    // No target is at fault, but nothing was deleted: the report does not say "without a
    // fault" of a run that was refused.
    assert!(
        refused
            .stdout
            .ends_with("\nFleet: nothing deleted in any of 2 targets.\n"),
        "{}",
        refused.stdout
    );
    assert_eq!(f.deletes(0) + f.deletes(1), 0);
    let applied = f
        .run(&[
            "apply",
            "-f",
            "fleet",
            "--auto-approve",
            "--max-delete-total",
            "4",
        ])
        .expect(0);
    assert!(
        applied
            .stdout
            .contains("Fleet: 4 deleted, 0 failed; 2 of 2 targets without a fault."),
        "{}",
        applied.stdout
    );
    assert_eq!(f.live(0), vec!["id-0-keep"]);
    assert_eq!(f.live(1), vec!["id-1-keep"]);
}

#[test]
fn a_saved_plan_of_several_targets_applies_each_and_is_refused_whole_when_one_is_stale() {
    let f = Fleet::new(2);
    f.run(&["plan", "-f", "fleet", "--out", "fleet.json"])
        .expect(0);
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(f.dir.path().join("fleet.json")).expect("read"),
    )
    .expect("json");
    assert_eq!(saved["kind"], "fleet");
    assert_eq!(saved["targets"].as_array().expect("targets").len(), 2);

    // A target dropped from the file: refused.
    let mut dropped = saved.clone();
    dropped["targets"].as_array_mut().expect("targets").pop();
    std::fs::write(f.dir.path().join("dropped.json"), dropped.to_string()).expect("write");
    let run = f.run(&["apply", "--plan", "dropped.json"]).expect(1);
    assert!(
        run.stderr.contains(
            "does not match its recorded fleet_sha256; the file was edited after `plan --out` \
             wrote it (a target added, dropped or changed). Make a new plan"
        ),
        "{}",
        run.stderr
    );

    // A target given twice, its hash recomputed (no key is set): refused.
    let mut doubled = saved.clone();
    let first = doubled["targets"][0].clone();
    doubled["targets"].as_array_mut().expect("targets")[1] = first;
    if let Some(o) = doubled.as_object_mut() {
        o.remove("fleet_sha256");
    }
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(doubled.to_string().as_bytes()));
    doubled["fleet_sha256"] = Value::String(digest);
    std::fs::write(f.dir.path().join("doubled.json"), doubled.to_string()).expect("write");
    let run = f.run(&["apply", "--plan", "doubled.json"]).expect(1);
    assert!(run.stderr.contains("are the same target"), "{}", run.stderr);
    assert_eq!(f.deletes(0), 0);

    // Target 1 changed since the plan: nothing is deleted in target 0 either.
    f.emulators[1]
        .shared()
        .update_instances(|v| v.retain(|i| i.id != "id-1-a"));
    let stale = f.run(&["apply", "--plan", "fleet.json"]).expect(3);
    assert!(stale.stderr.contains("fleet/t1.yaml"), "{}", stale.stderr);
    assert!(
        stale
            .stdout
            .contains("is stale (1 of its 2 deletions changed: ")
            && stale.stdout.contains("ci-1-a"),
        "the section names what changed: {}",
        stale.stdout
    );
    let shard = f
        .run(&["apply", "--plan", "fleet.json", "--shard", "0/2"])
        .expect(1);
    assert!(
        shard.stderr.contains("holds its targets already"),
        "{}",
        shard.stderr
    );
    assert_eq!(f.deletes(0), 0);
    assert_eq!(f.live(0).len(), 3);

    // A fresh plan applies, checked against the files given with -f.
    f.run(&["plan", "-f", "fleet", "--out", "fleet.json"])
        .expect(0);
    f.manifest(0, "guards: {max_delete: 5}\n");
    let changed = f
        .run(&["apply", "--plan", "fleet.json", "-f", "fleet"])
        .expect(3);
    assert!(
        changed.stderr.contains("fleet/t0.yaml"),
        "{}",
        changed.stderr
    );
    f.manifest(0, "");
    let applied = f
        .run(&["apply", "--plan", "fleet.json", "-f", "fleet"])
        .expect(0);
    assert!(
        applied.stdout.contains("Fleet: 3 deleted, 0 failed"),
        "{}",
        applied.stdout
    );
    assert_eq!(f.live(0), vec!["id-0-keep"]);
    assert_eq!(f.live(1), vec!["id-1-keep"]);
}

/// The documented shard of a target (docs/ci.md): SHA-256 of path NUL region NUL project,
/// the first 8 bytes big-endian, modulo N.
fn documented_shard(path: &str, region: &str, project: &str, n: u64) -> u64 {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{path}\0{region}\0{project}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_be_bytes(first) % n
}

#[test]
fn every_target_is_in_exactly_one_shard_the_documented_one() {
    // One emulator serving any project: nine targets, nine project ids.
    let emulator = Emulator::start(EmulatorConfig {
        project_id: None,
        ..signed(Vec::new())
    })
    .expect("emulator");
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("m")).expect("mkdir");
    let mut all = Vec::new();
    for i in 0..9 {
        let project = format!("{i:0>32}");
        let name = format!("m/p{i}.yaml");
        std::fs::write(
            dir.path().join(&name),
            format!("project_id: {project}\nendpoint: {}\ninstances: []\nguards: {{allow_empty: true}}\n", emulator.url()),
        )
        .expect("write");
        all.push((name, project));
    }
    let env = vec![
        ("HUAWEICLOUD_SDK_AK".to_owned(), AK.to_owned()),
        ("HUAWEICLOUD_SDK_SK".to_owned(), SK.to_owned()),
    ];
    for n in 1..=7u64 {
        let mut seen: Vec<String> = Vec::new();
        for i in 0..n {
            let shard = format!("{i}/{n}");
            let run = run_in(
                dir.path(),
                &["plan", "-f", "m", "--format", "json", "--shard", &shard],
                &env,
            )
            .expect(0);
            let doc = json(&run);
            assert_eq!(doc["shard"]["targets_in_all"], 9);
            for t in doc["targets"].as_array().expect("targets") {
                let path = t["manifest"]["path"].as_str().expect("path").to_owned();
                let project = t["project_id"].as_str().expect("project");
                assert_eq!(
                    documented_shard(&path, "", project, n),
                    i,
                    "{path} in shard {shard}"
                );
                seen.push(path);
            }
        }
        seen.sort();
        let mut expected: Vec<String> = all.iter().map(|(p, _)| p.clone()).collect();
        expected.sort();
        assert_eq!(seen, expected, "N = {n}: every target exactly once");
    }
    let bad = run_in(dir.path(), &["plan", "-f", "m", "--shard", "3/3"], &env).expect(1);
    assert!(
        bad.stderr.contains("shard 3 of 3 does not exist"),
        "{}",
        bad.stderr
    );
}

#[test]
fn endpoint_and_project_flags_name_one_target_and_are_refused_for_several() {
    let f = Fleet::new(2);
    let run = f
        .run(&["plan", "-f", "fleet", "--project-id", PID])
        .expect(1);
    assert!(
        run.stderr.contains("--project-id names one target"),
        "{}",
        run.stderr
    );
}

fn wait_for(mut ready: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "timed out waiting"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn a_signal_during_the_first_target_leaves_the_next_untouched_and_reports_both() {
    let f = Fleet::with(2, |_, c| EmulatorConfig {
        latency: std::time::Duration::from_millis(800),
        ..c
    });
    let child = command_in(
        f.dir.path(),
        &["apply", "-f", "fleet", "--auto-approve", "--format", "json"],
        &f.env,
    )
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn");
    let first = f.emulators[0].shared();
    // Target 0's listing is answered and its DELETE is in flight. A request is recorded just
    // before its answer is written, so "in flight" right after the GET's record may still be
    // that GET: the DELETE is the request still in flight 150 ms later (it waits 800 ms).
    wait_for(|| {
        first.requests().iter().any(|r| r.method == "GET") && first.in_flight() > 0 && {
            std::thread::sleep(std::time::Duration::from_millis(150));
            first.in_flight() > 0
        }
    });
    send_signal(child.id(), "TERM");
    let run = run_of(child.wait_with_output().expect("wait"));
    assert_eq!(run.code, 4, "a DELETE was sent: {run:?}");
    assert_eq!(f.deletes(0), 1, "the batch in flight finishes");
    assert_eq!(f.deletes(1), 0, "the next target is not started");
    assert_eq!(f.live(1).len(), 3);
    let doc = json(&run);
    let targets = doc["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 2);
    assert_eq!(targets[0]["summary"]["deleted"], 2);
    let second = targets[1]["error"].as_str().expect("second target's error");
    assert!(second.contains("interrupted by SIGTERM"), "{second}");
    assert!(
        run.stderr
            .contains("interrupted by SIGTERM: 2 of 4 planned deletions were not sent"),
        "{}",
        run.stderr
    );
}

#[test]
fn one_confirmation_for_the_fleet_and_a_target_changed_meanwhile_stops_all() {
    let f = Fleet::new(2);
    let both_listed = || {
        f.emulators
            .iter()
            .all(|e| e.shared().requests().iter().any(|r| r.method == "GET"))
    };
    let run = run_on_terminal(
        f.dir.path(),
        &["apply", "-f", "fleet"],
        &f.env,
        Some("yes"),
        || {
            if !both_listed() {
                return false;
            }
            // While the question is open, target 1 changes.
            std::thread::sleep(std::time::Duration::from_millis(200));
            f.emulators[1]
                .shared()
                .update_instances(|v| v.retain(|i| i.id != "id-1-a"));
            true
        },
    );
    assert_eq!(run.code, 3, "{run:?}");
    assert!(
        run.stdout
            .contains("Delete 4 instances in 2 targets, as planned above?"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("stale"), "{}", run.stdout);
    assert_eq!(f.deletes(0) + f.deletes(1), 0, "nothing deleted anywhere");

    let run = run_on_terminal(
        f.dir.path(),
        &["apply", "-f", "fleet"],
        &f.env,
        Some("yes"),
        both_listed,
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(f.live(0), vec!["id-0-keep"]);
    assert_eq!(f.live(1), vec!["id-1-keep"]);
}

#[test]
fn one_credential_fetch_and_one_iam_lookup_serve_every_target_of_a_region() {
    const TEMP: (&str, &str, &str) = ("TEMPAKFLEET000000001", "temp-fleet-sk-0123", "temp-token");
    let f = Fleet::with(3, |i, c| EmulatorConfig {
        credentials: None,
        metadata_credentials: Some((TEMP.0.into(), TEMP.1.into(), TEMP.2.into())),
        iam_projects: (i == 0).then(|| vec![("cn-north-4".to_owned(), PID.to_owned())]),
        ..c
    });
    for i in 0..3 {
        // No project id: looked up in IAM by region.
        let path = f.dir.path().join(format!("fleet/t{i}.yaml"));
        let text = format!(
            "region: cn-north-4\nendpoint: {}\nscope: {{name_prefix: ci-}}\ninstances:\n  - name: ci-{i}-keep\n",
            f.emulators[i].url()
        );
        std::fs::write(path, text).expect("write");
    }
    let first = f.emulators[0].url();
    let env = vec![
        (
            "DCS_RECONCILE_CREDENTIALS_SOURCE".to_owned(),
            "metadata".to_owned(),
        ),
        ("DCS_RECONCILE_METADATA_ENDPOINT".to_owned(), first.clone()),
        ("HUAWEICLOUD_SDK_IAM_ENDPOINT".to_owned(), first),
    ];
    let run = run_in(
        f.dir.path(),
        &["plan", "-f", "fleet", "--format", "json"],
        &env,
    )
    .expect(0);
    let doc = json(&run);
    assert_eq!(doc["summary"]["delete"], 6, "{}", run.stdout);
    for t in doc["targets"].as_array().expect("targets") {
        assert_eq!(t["project_id"], PID);
        assert_eq!(t["region"], "cn-north-4");
    }
    let shared = f.emulators[0].shared();
    assert_eq!(
        shared.metadata_fetches(),
        1,
        "one credential chain for the run"
    );
    let lookups = shared
        .requests()
        .iter()
        .filter(|r| r.path == "/v3/projects")
        .count();
    assert_eq!(lookups, 1, "one IAM lookup for the region");
}

#[test]
fn whoami_and_diff_cover_every_target() {
    let f = Fleet::new(2);
    let who = f.run(&["whoami", "-f", "fleet"]).expect(0);
    assert!(
        who.stdout.contains("=== [1/2] fleet/t0.yaml"),
        "{}",
        who.stdout
    );
    assert!(
        who.stdout.contains("=== [2/2] fleet/t1.yaml"),
        "{}",
        who.stdout
    );
    assert_eq!(who.stdout.matches(AK).count(), 0, "the AK is masked");
    let diff = f.run(&["diff", "-f", "fleet"]).expect(2);
    assert!(
        diff.stdout.contains("declared (fleet/t0.yaml)"),
        "{}",
        diff.stdout
    );
    assert!(
        diff.stdout.contains("declared (fleet/t1.yaml)"),
        "{}",
        diff.stdout
    );
    assert!(diff.stdout.contains("-ci-1-b  id-1-b"), "{}", diff.stdout);
}

/// A manifest listing the fleet's emulators as `regions:` (region `r<i>` -> emulator `i`),
/// with entries for every region and for one.
fn regions_manifest(f: &Fleet, entries: &str) -> PathBuf {
    let mut text = String::from("regions:\n");
    for (i, e) in f.emulators.iter().enumerate() {
        text.push_str(&format!(
            "  - region: cn-north-{}\n    project_id: {PID}\n    endpoint: {}\n",
            i + 1,
            e.url()
        ));
    }
    text.push_str(&format!(
        "scope: {{name_prefix: ci-}}\ninstances:\n{entries}"
    ));
    let path = f.dir.path().join("regions.yaml");
    std::fs::write(&path, text).expect("write");
    path
}

#[test]
fn a_manifest_with_regions_is_a_target_per_region_with_its_own_entries() {
    let f = Fleet::new(2);
    // ci-0-keep is kept everywhere it exists; ci-1-a only in cn-north-2 (emulator 1), and
    // ci-1-keep is declared for cn-north-1 only, so it is surplus in cn-north-2.
    regions_manifest(
        &f,
        "  - name: ci-0-keep\n  - name: ci-1-a\n    region: cn-north-2\n  - name: ci-1-keep\n    region: cn-north-1\n",
    );
    let doc = json(
        &f.run(&["plan", "-f", "regions.yaml", "--format", "json"])
            .expect(0),
    );
    let targets = doc["targets"].as_array().expect("targets");
    assert_eq!(targets.len(), 2);
    let deleted = |t: &Value| -> Vec<String> {
        let mut v: Vec<String> = t["delete"]
            .as_array()
            .expect("delete")
            .iter()
            .map(|d| d["name"].as_str().expect("name").to_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(targets[0]["region"], "cn-north-1");
    assert_eq!(deleted(&targets[0]), ["ci-0-a", "ci-0-b"]);
    assert_eq!(targets[1]["region"], "cn-north-2");
    assert_eq!(deleted(&targets[1]), ["ci-1-b", "ci-1-keep"]);
    // Missing entries are those of the target's own region only.
    let missing: Vec<&str> = targets[0]["missing"]
        .as_array()
        .expect("missing")
        .iter()
        .map(|m| m["name"].as_str().expect("name"))
        .collect();
    assert_eq!(missing, ["ci-1-keep"], "ci-1-a belongs to cn-north-2 only");

    // Saved, then applied: each region's own deletions.
    f.run(&["plan", "-f", "regions.yaml", "--out", "regions.json"])
        .expect(0);
    f.run(&["apply", "--plan", "regions.json", "-f", "regions.yaml"])
        .expect(0);
    assert_eq!(f.live(0), vec!["id-0-keep"]);
    assert_eq!(f.live(1), vec!["id-1-a"]);
}

#[test]
fn two_regions_naming_the_same_endpoint_and_project_are_refused() {
    let f = Fleet::new(1);
    let url = f.emulators[0].url();
    std::fs::write(
        f.dir.path().join("twice.yaml"),
        format!(
            "regions:\n  - region: cn-north-1\n    project_id: {PID}\n    endpoint: {url}\n  - region: cn-north-2\n    project_id: {PID}\n    endpoint: {url}\ninstances: []\nguards: {{allow_empty: true}}\n"
        ),
    )
    .expect("write");
    let run = f
        .run(&["apply", "-f", "twice.yaml", "--auto-approve"])
        .expect(1);
    assert!(
        run.stderr
            .contains("twice.yaml (cn-north-1) and twice.yaml (cn-north-2) are the same target"),
        "{}",
        run.stderr
    );
    assert_eq!(f.deletes(0), 0);
}

#[test]
fn each_target_asks_its_own_cloud_eye_and_an_instance_in_use_is_skipped_there_only() {
    use dcs_reconcile::emulator::Activity;
    let f = Fleet::with(2, |i, c| {
        let mut activity = std::collections::BTreeMap::new();
        if i == 1 {
            activity.insert(
                "ci-1-a".to_owned(),
                Activity {
                    ops: 5.0,
                    connections: 9.0,
                    ..Activity::default()
                },
            );
        }
        EmulatorConfig { activity, ..c }
    });
    for i in 0..2 {
        let url = f.emulators[i].url();
        f.manifest(
            i,
            &format!("ces_endpoint: {url}\nguards: {{idle_for: 24h}}\n"),
        );
    }
    let doc = json(
        &f.run(&["plan", "-f", "fleet", "--format", "json"])
            .expect(0),
    );
    let names = |t: &Value, list: &str| -> Vec<String> {
        let mut v: Vec<String> = t[list]
            .as_array()
            .expect("list")
            .iter()
            .map(|d| d["name"].as_str().expect("name").to_owned())
            .collect();
        v.sort();
        v
    };
    let targets = doc["targets"].as_array().expect("targets");
    assert_eq!(names(&targets[0], "delete"), ["ci-0-a", "ci-0-b"]);
    assert_eq!(names(&targets[1], "delete"), ["ci-1-b"]);
    assert_eq!(names(&targets[1], "skip"), ["ci-1-a"]);
    for (i, e) in f.emulators.iter().enumerate() {
        let asked = e
            .shared()
            .requests()
            .iter()
            .filter(|r| r.path.starts_with("/V1.0/"))
            .count();
        assert!(asked > 0, "target {i} asked its own Cloud Eye");
    }
}

/// One random fleet case: 1 to 4 targets, each with random surplus, a random `max_delete`,
/// sometimes a listing that fails; random `--keep-going` and `--max-delete-total`. Checks the
/// all-or-nothing rule, that only planned surplus is deleted, and the exit code.
fn fleet_case(seed: u64) -> Result<(), String> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let targets = rng.usize(1..=4);
    let mut surplus: Vec<Vec<String>> = Vec::new();
    let mut declared: Vec<Vec<String>> = Vec::new();
    let mut inventories: Vec<Vec<EmuInstance>> = Vec::new();
    let mut max_delete: Vec<Option<usize>> = Vec::new();
    let mut failing: Vec<bool> = Vec::new();
    for t in 0..targets {
        let n = rng.usize(0..6);
        let mut inv = Vec::new();
        let (mut keep, mut drop) = (Vec::new(), Vec::new());
        for j in 0..n {
            let (id, name) = (format!("id-{t}-{j}"), format!("ci-{t}-{j}"));
            inv.push(EmuInstance::new(&id, &name));
            if rng.bool() {
                keep.push(name);
            } else {
                drop.push(id);
            }
        }
        // Out of scope: never touched.
        inv.push(EmuInstance::new(&format!("id-{t}-x"), &format!("app-{t}")));
        inventories.push(inv);
        surplus.push(drop);
        declared.push(keep);
        max_delete.push(rng.bool().then(|| rng.usize(0..4)));
        failing.push(rng.u8(0..5) == 0);
    }
    let keep_going = rng.bool();
    let max_total = rng.bool().then(|| rng.usize(0..8));
    let scenario = format!(
        "seed {seed}: surplus {surplus:?}, declared {declared:?}, max_delete {max_delete:?}, \
         failing {failing:?}, keep_going {keep_going}, max_total {max_total:?}"
    );
    let emulators: Vec<Emulator> = (0..targets)
        .map(|t| {
            Emulator::start(EmulatorConfig {
                faults: if failing[t] {
                    vec!["list:400".parse().expect("fault")]
                } else {
                    Vec::new()
                },
                ..signed(inventories[t].clone())
            })
            .expect("emulator")
        })
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join("m")).expect("mkdir");
    for t in 0..targets {
        let mut text = format!(
            "project_id: {PID}\nendpoint: {}\nscope: {{name_prefix: ci-}}\nguards: {{allow_empty: true{}}}\ninstances:\n",
            emulators[t].url(),
            max_delete[t]
                .map(|m| format!(", max_delete: {m}"))
                .unwrap_or_default()
        );
        text.push_str(&format!("  - name: ci-{t}-ghost\n"));
        for name in &declared[t] {
            text.push_str(&format!("  - name: {name}\n"));
        }
        std::fs::write(dir.path().join(format!("m/t{t}.yaml")), text).expect("write");
    }
    let mut args = vec!["apply", "-f", "m", "--auto-approve"];
    if keep_going {
        args.push("--keep-going");
    }
    let total_arg = max_total.map(|m| m.to_string());
    if let Some(m) = &total_arg {
        args.extend(["--max-delete-total", m.as_str()]);
    }
    let env = vec![
        ("HUAWEICLOUD_SDK_AK".to_owned(), AK.to_owned()),
        ("HUAWEICLOUD_SDK_SK".to_owned(), SK.to_owned()),
    ];
    let run = run_in(dir.path(), &args, &env);

    // The oracle.
    let planned: Vec<usize> = (0..targets).filter(|&t| !failing[t]).collect();
    let refused: Vec<usize> = planned
        .iter()
        .copied()
        .filter(|&t| max_delete[t].is_some_and(|m| surplus[t].len() > m))
        .collect();
    // What the run could delete: the targets refused by their own guards delete nothing.
    let total: usize = planned
        .iter()
        .filter(|t| !refused.contains(t))
        .map(|&t| surplus[t].len())
        .sum();
    let fleet_refused = max_total.is_some_and(|m| total > m);
    let faults = failing.iter().filter(|f| **f).count() + refused.len();
    let applied: Vec<usize> = if fleet_refused || (faults > 0 && !keep_going && targets > 1) {
        Vec::new()
    } else {
        planned
            .iter()
            .copied()
            .filter(|t| !refused.contains(t))
            .collect()
    };
    let expected_code = if fleet_refused {
        3
    } else if targets == 1 {
        match (failing[0], refused.is_empty()) {
            (true, _) => 1,
            (false, false) => 3,
            (false, true) => 0,
        }
    } else if faults > 0 && !keep_going {
        if failing.iter().any(|f| *f) { 1 } else { 3 }
    } else if faults > 0 {
        4
    } else {
        0
    };
    if run.code != expected_code {
        return Err(format!(
            "{scenario}: exit {} expected {expected_code}\n{}\n{}",
            run.code, run.stdout, run.stderr
        ));
    }
    for t in 0..targets {
        let mut gone: Vec<String> = inventories[t]
            .iter()
            .map(|i| i.id.clone())
            .filter(|id| !emulators[t].shared().instance_ids().contains(id))
            .collect();
        gone.sort();
        let mut expected: Vec<String> = if applied.contains(&t) {
            surplus[t].clone()
        } else {
            Vec::new()
        };
        expected.sort();
        if gone != expected {
            return Err(format!(
                "{scenario}: target {t} lost {gone:?}, expected {expected:?}\n{}",
                run.stderr
            ));
        }
    }
    Ok(())
}

#[test]
fn randomized_fleets_keep_all_or_nothing_and_delete_only_planned_surplus() {
    let cases: u64 = std::env::var("DCS_RECONCILE_FLEET_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let failures: Vec<String> = (0..cases)
        .filter_map(|i| fleet_case(0xF1EE_7000 + i * 104_729).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Runs `args` with standard output a pipe whose reader is closed at once.
fn with_closed_stdout(f: &Fleet, args: &[&str]) -> Option<i32> {
    let mut child = command_in(f.dir.path(), args, &f.env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    drop(child.stdout.take());
    child.wait().expect("wait").code()
}

#[test]
fn a_closed_stdout_deletes_nothing_before_the_plan_is_shown_and_never_exits_1_after() {
    // Text: the plans cannot be shown, so nothing is deleted, and the exit code says so.
    let f = Fleet::new(2);
    assert_eq!(
        with_closed_stdout(&f, &["apply", "-f", "fleet", "--auto-approve"]),
        Some(1)
    );
    assert_eq!(f.deletes(0) + f.deletes(1), 0);
    // JSON: the report is written at the end; the deletions were done: exit 0, not 1.
    let args = ["apply", "-f", "fleet", "--auto-approve", "--format", "json"];
    assert_eq!(with_closed_stdout(&f, &args), Some(0));
    assert_eq!(f.live(0), vec!["id-0-keep"]);
    assert_eq!(f.live(1), vec!["id-1-keep"]);
}

#[test]
fn a_saved_plan_of_one_target_takes_its_one_manifest_or_none() {
    let f = Fleet::new(2);
    f.run(&["plan", "-f", "fleet/t0.yaml", "--out", "one.json"])
        .expect(0);
    let run = f
        .run(&[
            "apply",
            "--plan",
            "one.json",
            "-f",
            "fleet/t0.yaml",
            "-f",
            "fleet/t1.yaml",
            "--auto-approve",
        ])
        .expect(1);
    assert!(
        run.stderr
            .contains("has one target; give its one manifest with -f, or none"),
        "{}",
        run.stderr
    );
    assert_eq!(f.deletes(0) + f.deletes(1), 0);
}

#[test]
fn a_saved_plan_keeps_its_max_delete_total_unless_apply_gives_its_own() {
    let f = Fleet::new(2);
    f.run(&[
        "plan",
        "-f",
        "fleet",
        "--max-delete-total",
        "3",
        "--out",
        "fleet.json",
    ])
    .expect(0);
    let saved: Value = serde_json::from_str(
        &std::fs::read_to_string(f.dir.path().join("fleet.json")).expect("read"),
    )
    .expect("json");
    assert_eq!(saved["max_delete_total"], 3);
    // Applied without the flag: the plan's own limit refuses it.
    let refused = f
        .run(&["apply", "--plan", "fleet.json", "--auto-approve"])
        .expect(3);
    assert!(
        refused.stderr.contains(
            "--max-delete-total 3 (saved in fleet.json): the run would delete 4 instances over 2 \
             targets"
        ),
        "{}",
        refused.stderr
    );
    assert_eq!(f.deletes(0) + f.deletes(1), 0);
    // The limit cannot be edited away: it is under the plan's hash.
    let mut loosened = saved.clone();
    loosened["max_delete_total"] = Value::from(100);
    std::fs::write(f.dir.path().join("loosened.json"), loosened.to_string()).expect("write");
    let run = f
        .run(&["apply", "--plan", "loosened.json", "--auto-approve"])
        .expect(1);
    assert!(run.stderr.contains("fleet_sha256"), "{}", run.stderr);
    assert_eq!(f.deletes(0) + f.deletes(1), 0);

    // One target: the same, its limit among the plan's overrides.
    f.run(&[
        "plan",
        "-f",
        "fleet/t0.yaml",
        "--max-delete-total",
        "1",
        "--out",
        "one.json",
    ])
    .expect(0);
    let refused = f
        .run(&["apply", "--plan", "one.json", "--auto-approve"])
        .expect(3);
    assert!(
        refused
            .stderr
            .contains("--max-delete-total 1 (saved in one.json): the run would delete 2 instances"),
        "{}",
        refused.stderr
    );
    assert_eq!(f.deletes(0), 0);
    // The command line's own limit wins, as `--max-delete` does.
    f.run(&[
        "apply",
        "--plan",
        "one.json",
        "--auto-approve",
        "--max-delete-total",
        "2",
    ])
    .expect(0);
    assert_eq!(f.live(0).len(), 1);
}

#[test]
fn the_text_report_names_a_refused_target_at_fault_when_the_others_are_applied() {
    let f = Fleet::new(2);
    f.manifest(1, "guards: {max_delete: 1}\n");
    let run = f
        .run(&["apply", "-f", "fleet", "--auto-approve", "--keep-going"])
        .expect(4);
    assert!(
        run.stdout.ends_with(
            "\nFleet: 2 deleted, 0 failed; 1 of 2 targets without a fault.\n  at fault: \
             fleet/t1.yaml\n"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn max_delete_total_counts_only_what_the_run_could_delete() {
    // t0 is refused by its own guard (2 deletions, max_delete 1), t1 would delete 2: with
    // --keep-going the run deletes t1's 2 and nothing of t0's, which --max-delete-total 2
    // allows. Counting t0's refused deletions would refuse the whole run.
    let f = Fleet::new(2);
    f.manifest(0, "guards: {max_delete: 1}\n");
    let plan = f
        .run(&["plan", "-f", "fleet", "--max-delete-total", "2"])
        .expect(0);
    assert!(
        !plan.stdout.contains("Apply would refuse the whole run"),
        "{}",
        plan.stdout
    );
    f.run(&[
        "apply",
        "-f",
        "fleet",
        "--auto-approve",
        "--keep-going",
        "--max-delete-total",
        "2",
    ])
    .expect(4);
    assert_eq!(f.deletes(0), 0);
    assert_eq!(f.live(1), vec!["id-1-keep"]);
    // And one more than the limit is still refused.
    let f = Fleet::new(2);
    f.manifest(0, "guards: {max_delete: 1}\n");
    f.run(&[
        "apply",
        "-f",
        "fleet",
        "--auto-approve",
        "--keep-going",
        "--max-delete-total",
        "1",
    ])
    .expect(3);
    assert_eq!(f.deletes(0) + f.deletes(1), 0);
}
