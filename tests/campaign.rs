//! The seeded randomized fault campaign: each case derives from one seed a random inventory, a
//! random manifest (sometimes invalid), random emulator faults and sometimes a SIGINT/SIGTERM,
//! runs `apply` (JSON or text, directly or through `plan --out` and `apply --plan`) and checks
//! the invariants that make deletion safe:
//!
//! 1. no id outside the plan the run printed was ever sent in a DELETE;
//! 2. no declared, protected, out-of-scope or skipped instance was deleted (the expected plan is
//!    computed here, independently of the planner, from the inventory and the manifest);
//! 3. every id the report calls deleted is gone from the emulator or `DELETING`;
//! 4. the exit code follows docs/output.md, and JSON's `exit_code` is the process's.
//!
//! `DCS_RECONCILE_CAMPAIGN_SEED=N` replays one case; `DCS_RECONCILE_CAMPAIGN_CASES=N` runs the
//! first N cases of the seed sequence (the default is [`DEFAULT_CASES`]). A failure panics with
//! the seed and the whole scenario. See docs/testing.md.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::*;

/// How many cases `cargo test` runs by default.
const DEFAULT_CASES: u64 = 28;

/// The seed of case `i`: a fixed sequence, so that CI is reproducible.
fn seed_of(i: u64) -> u64 {
    0x00C0_FFEE_0000_u64.wrapping_add(i.wrapping_mul(7919))
}

// ---------------------------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Age {
    /// Years old.
    Old,
    /// Ten minutes old (younger than the `min_age` of 2h used here).
    Young,
    /// `created_at` is empty.
    Missing,
    /// `created_at` is not a time.
    Unreadable,
}

#[derive(Debug, Clone)]
struct Inst {
    id: String,
    name: String,
    status: &'static str,
    prepaid: bool,
    tags: Vec<(&'static str, &'static str)>,
    age: Age,
}

#[derive(Debug, Clone, Default)]
struct Entry {
    name: Option<String>,
    id: Option<String>,
}

/// `scope.name_regex`, restricted to shapes the oracle can evaluate without a regex engine.
#[derive(Debug, Clone)]
enum NameRegex {
    /// `^lit`
    Starts(&'static str),
    /// `lit`
    Contains(&'static str),
    /// `lit$`
    Ends(&'static str),
}

#[derive(Debug, Clone, Default)]
struct Scope {
    name_prefix: Option<&'static str>,
    name_regex: Option<NameRegex>,
    tags: Vec<(&'static str, &'static str)>,
}

#[derive(Debug, Clone)]
enum Protect {
    Name(&'static str),
    Id(String),
    Tag(&'static str, &'static str),
}

#[derive(Debug, Clone, Copy)]
enum MaxDelete {
    Count(usize),
    Percent(usize),
}

#[derive(Debug, Clone, Default)]
struct Manifest {
    entries: Vec<Entry>,
    scope: Scope,
    protect: Vec<Protect>,
    max_delete: Option<MaxDelete>,
    min_age: bool,
    allow_empty: bool,
    /// A line that makes the manifest invalid, appended at the end (or replacing the entries).
    invalid: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// `apply --auto-approve --format json`.
    ApplyJson,
    /// `apply --auto-approve` (text), checked against `plan --format json` of a twin emulator.
    ApplyText,
    /// `plan --out` then `apply --plan --format json`.
    SavedJson,
    /// `plan --out` then `apply --plan` (text).
    SavedText,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Int,
    Term,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// Once the emulator has answered the first DELETE.
    FirstDelete,
    /// Once the emulator has answered the first request (usually before any DELETE).
    FirstRequest,
}

#[derive(Debug, Clone)]
struct Scenario {
    seed: u64,
    instances: Vec<Inst>,
    manifest: Manifest,
    faults: Vec<String>,
    fail_delete: Vec<String>,
    fail_delete_requests: usize,
    linger: usize,
    latency_ms: u64,
    mode: Mode,
    signal: Option<(Signal, When)>,
}

const NAME_PARTS: &[&str] = &["ci", "ci-pr", "prod", "cache", "a", "ci-golden"];
const NAME_TAILS: &[&str] = &["", "-1", "-2", "-10", "-cache", "-a", "1"];

fn pick<T: Copy>(rng: &mut fastrand::Rng, items: &[T]) -> T {
    items[rng.usize(..items.len())]
}

fn random_id(rng: &mut fastrand::Rng, i: usize) -> String {
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        rng.u32(..),
        i,
        rng.u16(..0x1000),
        rng.u16(..0x1000),
        rng.u64(..0x1_0000_0000_0000)
    )
}

fn random_name(rng: &mut fastrand::Rng) -> String {
    format!("{}{}", pick(rng, NAME_PARTS), pick(rng, NAME_TAILS))
}

impl Scenario {
    fn generate(seed: u64) -> Scenario {
        let mut rng = fastrand::Rng::with_seed(seed);
        let rng = &mut rng;
        // Mostly small inventories, sometimes more than one batch of 50.
        let n = if rng.u8(..4) == 0 {
            rng.usize(50..=120)
        } else {
            rng.usize(0..=20)
        };
        let instances: Vec<Inst> = (0..n)
            .map(|i| Inst {
                id: random_id(rng, i),
                name: random_name(rng),
                status: match rng.u8(..10) {
                    0 => "ERROR",
                    1 => "CREATEFAILED",
                    2 => "CREATING",
                    3 => "RESTARTING",
                    4 => "FROZENISH",
                    _ => "RUNNING",
                },
                prepaid: rng.u8(..8) == 0,
                tags: {
                    let mut t = Vec::new();
                    if rng.bool() {
                        t.push(("owner", pick(rng, &["ci", "prod"])));
                    }
                    if rng.u8(..4) == 0 {
                        t.push(("keep", pick(rng, &["true", "false"])));
                    }
                    t
                },
                age: match rng.u8(..8) {
                    0 => Age::Young,
                    1 => Age::Missing,
                    2 => Age::Unreadable,
                    _ => Age::Old,
                },
            })
            .collect();

        let mut m = Manifest::default();
        // Entries: some live names, some live ids, some pinned, some missing.
        let entries = if rng.u8(..6) == 0 {
            0
        } else {
            rng.usize(0..=8)
        };
        for _ in 0..entries {
            let live = (!instances.is_empty()).then(|| &instances[rng.usize(..instances.len())]);
            let e = match (rng.u8(..6), live) {
                (0 | 1, Some(i)) => Entry {
                    name: Some(i.name.clone()),
                    id: None,
                },
                (2, Some(i)) => Entry {
                    name: None,
                    id: Some(i.id.clone()),
                },
                (3, Some(i)) => Entry {
                    name: Some(i.name.clone()),
                    id: Some(i.id.clone()),
                },
                (4, _) => Entry {
                    name: Some(format!("missing-{}", rng.u8(..10))),
                    id: None,
                },
                _ => Entry {
                    name: None,
                    id: Some(random_id(rng, 9999)),
                },
            };
            m.entries.push(e);
        }
        // Rarely a pinned entry whose name and id disagree: a conflict.
        if instances.len() >= 2 && rng.u8(..12) == 0 {
            let a = &instances[0];
            let b = &instances[1];
            if a.name != b.name {
                m.entries.push(Entry {
                    name: Some(b.name.clone()),
                    id: Some(a.id.clone()),
                });
            }
        }
        if rng.u8(..3) == 0 {
            m.scope.name_prefix = Some(pick(rng, &["ci", "ci-", "prod", "a"]));
        }
        if rng.u8(..4) == 0 {
            m.scope.name_regex = Some(match rng.u8(..3) {
                0 => NameRegex::Starts(pick(rng, &["ci-", "prod", "ci-pr-"])),
                1 => NameRegex::Contains(pick(rng, &["cache", "-1", "pr"])),
                _ => NameRegex::Ends(pick(rng, &["-1", "-cache", "a"])),
            });
        }
        if rng.u8(..4) == 0 {
            m.scope.tags.push(("owner", pick(rng, &["ci", "prod"])));
        }
        for _ in 0..rng.usize(0..=3) {
            let rule = match rng.u8(..3) {
                0 => Protect::Name(pick(rng, &["prod*", "*-cache", "ci-golden*", "ci-?", "a"])),
                1 if !instances.is_empty() => {
                    Protect::Id(instances[rng.usize(..instances.len())].id.clone())
                }
                _ => Protect::Tag("keep", "true"),
            };
            m.protect.push(rule);
        }
        m.max_delete = match rng.u8(..6) {
            0 => Some(MaxDelete::Count(rng.usize(0..=15))),
            1 => Some(MaxDelete::Percent(rng.usize(0..=100))),
            _ => None,
        };
        m.min_age = rng.u8(..3) == 0;
        m.allow_empty = rng.bool();
        if rng.u8(..10) == 0 {
            m.invalid = Some(pick(
                rng,
                &[
                    "colour: red",
                    "instances:\n  - name: ~",
                    "scope:\n  name_regex: '.*'",
                    "guards:\n  max_delete: lots",
                    "guards:\n  min_age: soon",
                    "protect:\n  - {name: 'a*', id: 'x'}",
                ],
            ));
        }

        let ids: Vec<String> = instances.iter().map(|i| i.id.clone()).collect();
        let mut faults = Vec::new();
        for _ in 0..rng.usize(0..=3) {
            let spec = pick(
                rng,
                &[
                    "list:503",
                    "list:500",
                    "list:502-html",
                    "list:close",
                    "list:504x2",
                    "list:503x7",
                    "list:garbage",
                    "list:insert",
                    "delete:503",
                    "delete:500",
                    "delete:502-html",
                    "delete:close",
                    "delete:closex2",
                    "delete:lose-answer",
                    "delete:400",
                    "any:close",
                ],
            );
            faults.push(spec.to_owned());
        }
        // Throttling costs a whole second (Retry-After: 1): rarely.
        if rng.u8(..8) == 0 {
            faults.push(pick(rng, &["list:429", "delete:429"]).to_owned());
        }
        let fail_delete = if ids.is_empty() || rng.u8(..3) != 0 {
            Vec::new()
        } else {
            (0..rng.usize(1..=3))
                .map(|_| ids[rng.usize(..ids.len())].clone())
                .collect()
        };
        let fail_delete_requests = if rng.u8(..8) == 0 {
            rng.usize(1..=2)
        } else {
            0
        };
        let linger = if rng.bool() { 0 } else { rng.usize(1..=3) };
        let mode = match rng.u8(..8) {
            0 | 1 | 2 => Mode::ApplyJson,
            3 | 4 => Mode::ApplyText,
            5 | 6 => Mode::SavedJson,
            _ => Mode::SavedText,
        };
        let signal = match rng.u8(..6) {
            0 => Some((
                pick(rng, &[Signal::Int, Signal::Term]),
                pick(rng, &[When::FirstDelete, When::FirstRequest]),
            )),
            _ => None,
        };
        let latency_ms = if signal.is_some() { 40 } else { 0 };
        Scenario {
            seed,
            instances,
            manifest: m,
            faults,
            fail_delete,
            fail_delete_requests,
            linger,
            latency_ms,
            mode,
            signal,
        }
    }

    fn emulator_instances(&self, now: time::OffsetDateTime) -> Vec<EmuInstance> {
        self.instances
            .iter()
            .map(|i| {
                let created = match i.age {
                    Age::Old => "2021-03-04T05:06:07.000Z".to_owned(),
                    Age::Young => rfc3339(now - time::Duration::minutes(10)),
                    Age::Missing => String::new(),
                    Age::Unreadable => "yesterday".to_owned(),
                };
                let mut e = EmuInstance::new(&i.id, &i.name)
                    .with_status(i.status)
                    .created(&created);
                if i.prepaid {
                    e = e.prepaid();
                }
                if !i.tags.is_empty() {
                    e = e.tagged(&i.tags);
                }
                e
            })
            .collect()
    }

    fn manifest_body(&self) -> String {
        let m = &self.manifest;
        let mut s = String::new();
        if let Some(inv) = m.invalid.filter(|l| l.starts_with("instances:")) {
            let _ = writeln!(s, "{inv}");
        } else if m.entries.is_empty() {
            s.push_str("instances: []\n");
        } else {
            s.push_str("instances:\n");
            for e in &m.entries {
                match (&e.name, &e.id) {
                    (Some(n), Some(i)) => {
                        let _ = writeln!(s, "  - name: '{n}'\n    id: '{i}'");
                    }
                    (Some(n), None) => {
                        let _ = writeln!(s, "  - name: '{n}'");
                    }
                    (None, Some(i)) => {
                        let _ = writeln!(s, "  - id: '{i}'");
                    }
                    (None, None) => {}
                }
            }
        }
        let invalid_scope = m.invalid.filter(|l| l.starts_with("scope:"));
        if let Some(inv) = invalid_scope {
            let _ = writeln!(s, "{inv}");
        } else if m.scope.name_prefix.is_some()
            || m.scope.name_regex.is_some()
            || !m.scope.tags.is_empty()
        {
            s.push_str("scope:\n");
            if let Some(p) = m.scope.name_prefix {
                let _ = writeln!(s, "  name_prefix: '{p}'");
            }
            match &m.scope.name_regex {
                Some(NameRegex::Starts(l)) => {
                    let _ = writeln!(s, "  name_regex: '^{l}'");
                }
                Some(NameRegex::Contains(l)) => {
                    let _ = writeln!(s, "  name_regex: '{l}'");
                }
                Some(NameRegex::Ends(l)) => {
                    let _ = writeln!(s, "  name_regex: '{l}$'");
                }
                None => {}
            }
            if !m.scope.tags.is_empty() {
                s.push_str("  tags:\n");
                for (k, v) in &m.scope.tags {
                    let _ = writeln!(s, "    {k}: '{v}'");
                }
            }
        }
        if let Some(inv) = m.invalid.filter(|l| l.starts_with("protect:")) {
            let _ = writeln!(s, "{inv}");
        } else if !m.protect.is_empty() {
            s.push_str("protect:\n");
            for p in &m.protect {
                match p {
                    Protect::Name(g) => {
                        let _ = writeln!(s, "  - name: '{g}'");
                    }
                    Protect::Id(i) => {
                        let _ = writeln!(s, "  - id: '{i}'");
                    }
                    Protect::Tag(k, v) => {
                        let _ = writeln!(s, "  - tag: {{{k}: '{v}'}}");
                    }
                }
            }
        }
        if let Some(inv) = m.invalid.filter(|l| l.starts_with("guards:")) {
            let _ = writeln!(s, "{inv}");
        } else {
            s.push_str("guards:\n");
            match m.max_delete {
                Some(MaxDelete::Count(c)) => {
                    let _ = writeln!(s, "  max_delete: {c}");
                }
                Some(MaxDelete::Percent(p)) => {
                    let _ = writeln!(s, "  max_delete: '{p}%'");
                }
                None => {}
            }
            if m.min_age {
                s.push_str("  min_age: 2h\n");
            }
            let _ = writeln!(s, "  allow_empty: {}", m.allow_empty);
        }
        if let Some(inv) = m
            .invalid
            .filter(|l| !l.contains(':') || l.starts_with("colour"))
        {
            let _ = writeln!(s, "{inv}");
        }
        s
    }

    /// The scenario, for a failure message: enough to read and to replay.
    fn describe(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "seed {} (replay: DCS_RECONCILE_CAMPAIGN_SEED={} cargo test --test integration campaign)",
            self.seed, self.seed
        );
        let _ = writeln!(
            s,
            "mode {:?}, signal {:?}, faults {:?}, fail_delete {:?}, fail_delete_requests {}, delete_linger {}, latency {} ms",
            self.mode,
            self.signal,
            self.faults,
            self.fail_delete,
            self.fail_delete_requests,
            self.linger,
            self.latency_ms
        );
        let _ = writeln!(s, "manifest:\n{}", self.manifest_body());
        let _ = writeln!(s, "inventory ({}):", self.instances.len());
        for i in &self.instances {
            let _ = writeln!(
                s,
                "  {} {} {} {} {:?} {:?}",
                i.name,
                i.id,
                i.status,
                if i.prepaid { "prepaid" } else { "pay-per-use" },
                i.tags,
                i.age
            );
        }
        s
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

// ---------------------------------------------------------------------------------------------
// The oracle: what the plan must be, computed from the scenario alone
// ---------------------------------------------------------------------------------------------

/// A shell glob with `*` and `?` over the whole name.
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    match (pattern.first(), name.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            glob(&pattern[1..], name) || (!name.is_empty() && glob(pattern, &name[1..]))
        }
        (Some(b'?'), Some(_)) => glob(&pattern[1..], &name[1..]),
        (Some(p), Some(n)) if p == n => glob(&pattern[1..], &name[1..]),
        _ => false,
    }
}

#[derive(Debug, Default)]
struct Expected {
    /// Ids the plan must delete.
    delete: BTreeSet<String>,
    out_of_scope: usize,
    /// The manifest conflicts with the live instances (exit 1, nothing planned).
    conflict: bool,
    /// Two entries repeat an id (in any case), or a name without an id: an invalid manifest.
    duplicate: bool,
    /// A guard refuses the plan.
    refused: bool,
}

fn has_tags(i: &Inst, want: &[(&str, &str)]) -> bool {
    want.iter()
        .all(|(k, v)| i.tags.iter().any(|(tk, tv)| tk == k && tv == v))
}

fn oracle(sc: &Scenario) -> Expected {
    let m = &sc.manifest;
    let mut x = Expected::default();
    let in_scope = |i: &Inst| {
        m.scope.name_prefix.is_none_or(|p| i.name.starts_with(p))
            && match &m.scope.name_regex {
                Some(NameRegex::Starts(l)) => i.name.starts_with(l),
                Some(NameRegex::Contains(l)) => i.name.contains(l),
                Some(NameRegex::Ends(l)) => i.name.ends_with(l),
                None => true,
            }
            && has_tags(i, &m.scope.tags)
    };
    for e in &m.entries {
        if let (Some(name), Some(id)) = (&e.name, &e.id) {
            match sc.instances.iter().find(|i| &i.id == id) {
                Some(i) => x.conflict |= &i.name != name,
                None => x.conflict |= sc.instances.iter().any(|i| &i.name == name),
            }
        }
    }
    for (n, e) in m.entries.iter().enumerate() {
        for f in &m.entries[..n] {
            let same_id = matches!((&e.id, &f.id), (Some(a), Some(b)) if a.eq_ignore_ascii_case(b));
            let same_name = e.id.is_none()
                && f.id.is_none()
                && matches!((&e.name, &f.name), (Some(a), Some(b)) if a == b);
            x.duplicate |= same_id || same_name;
        }
    }
    let mut managed = 0usize;
    for i in &sc.instances {
        if !in_scope(i) {
            x.out_of_scope += 1;
            continue;
        }
        managed += 1;
        let declared = m.entries.iter().any(|e| match (&e.name, &e.id) {
            (Some(n), Some(id)) => &i.id == id && &i.name == n,
            (Some(n), None) => &i.name == n,
            (None, Some(id)) => &i.id == id,
            (None, None) => false,
        });
        let protected = m.protect.iter().any(|p| match p {
            Protect::Name(g) => glob(g.as_bytes(), i.name.as_bytes()),
            Protect::Id(id) => &i.id == id,
            Protect::Tag(k, v) => has_tags(i, &[(k, v)]),
        });
        let skipped = i.prepaid
            || !matches!(i.status, "RUNNING" | "ERROR" | "CREATEFAILED")
            || (m.min_age && i.age != Age::Old);
        if !declared && !protected && !skipped {
            x.delete.insert(i.id.clone());
        }
    }
    let n = x.delete.len();
    let empty = m.entries.is_empty() && !m.allow_empty && n > 0;
    let cap = match m.max_delete {
        Some(MaxDelete::Count(c)) => Some(c),
        Some(MaxDelete::Percent(p)) => Some(p.saturating_mul(managed) / 100),
        None => None,
    };
    x.refused = empty || cap.is_some_and(|c| n > c);
    x
}

// ---------------------------------------------------------------------------------------------
// Running a case
// ---------------------------------------------------------------------------------------------

/// One run of the binary, possibly interrupted.
struct Outcome {
    code: i32,
    stdout: String,
    stderr: String,
    signalled: Option<Signal>,
}

/// Runs the binary in `dir`, stdout to a file (a big JSON report must not fill a pipe), and
/// sends `signal` with the `kill` command once `p`'s emulator has answered what `when` asks.
fn run_with_signal(p: &Project, args: &[&str], signal: Option<(Signal, When)>) -> Outcome {
    let dir = p.dir.path();
    let out_path = dir.join("stdout.txt");
    let err_path = dir.join("stderr.txt");
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).expect("stdout file"))
        .stderr(std::fs::File::create(&err_path).expect("stderr file"));
    for (k, v) in &p.env {
        cmd.env(k, v);
    }
    let before = p.requests().len();
    let mut child = cmd.spawn().expect("the binary runs");
    let mut signalled = None;
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "the run did not end in 120 s");
        if let (Some((sig, when)), None) = (signal, signalled) {
            let reqs = p.requests();
            let ready = match when {
                When::FirstDelete => reqs[before..].iter().any(|r| r.method == "DELETE"),
                When::FirstRequest => reqs.len() > before,
            };
            if ready {
                let name = match sig {
                    Signal::Int => "-INT",
                    Signal::Term => "-TERM",
                };
                let ok = Command::new("kill")
                    .args([name, &child.id().to_string()])
                    .status()
                    .expect("kill runs");
                assert!(ok.success(), "kill {name} failed");
                signalled = Some(sig);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Outcome {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
        signalled,
    }
}

/// Ids of a JSON plan's list `key`.
fn plan_ids(plan: &Value, key: &str) -> BTreeSet<String> {
    plan[key]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A case's failure: the message with the scenario and both streams.
struct Checker<'a> {
    sc: &'a Scenario,
    log: String,
}

impl Checker<'_> {
    #[track_caller]
    fn check(&self, ok: bool, what: impl FnOnce() -> String) {
        if !ok {
            panic!(
                "campaign invariant violated: {}\n\n{}\n{}",
                what(),
                self.sc.describe(),
                self.log
            );
        }
    }
}

fn run_case(seed: u64) {
    let sc = Scenario::generate(seed);
    let now = time::OffsetDateTime::now_utc();
    let instances = sc.emulator_instances(now);
    let faults = sc
        .faults
        .iter()
        .map(|f| f.parse().expect("a valid fault spec"))
        .collect();
    let p = Project::with_config(EmulatorConfig {
        faults,
        fail_delete: sc.fail_delete.clone(),
        fail_delete_requests: sc.fail_delete_requests,
        delete_linger: sc.linger,
        latency: Duration::from_millis(sc.latency_ms),
        ..signed(instances.clone())
    });
    p.manifest(&sc.manifest_body());
    let x = oracle(&sc);
    let mut c = Checker {
        sc: &sc,
        log: String::new(),
    };
    let json = matches!(sc.mode, Mode::ApplyJson | Mode::SavedJson);
    let saved = matches!(sc.mode, Mode::SavedJson | Mode::SavedText);
    let x_invalid = sc.manifest.invalid.is_some() || x.duplicate;
    let invalid = x_invalid;

    // The plan the run is held to: printed by the run itself (JSON), by a twin emulator with the
    // same instances and no faults (text), or saved by `plan --out`.
    let mut printed_plan: Option<Value> = None;
    if saved {
        let mut args = vec!["plan", "--out", "plan.json"];
        if json {
            args.extend(["--format", "json"]);
        }
        let run = p.run(&args);
        let _ = writeln!(
            c.log,
            "--- plan --out: exit {}\n--- stdout:\n{}\n--- stderr:\n{}",
            run.code, run.stdout, run.stderr
        );
        c.check(p.deletes().is_empty(), || "plan sent a DELETE".into());
        if run.code != 0 {
            c.check(run.code == 1, || format!("plan exited {}", run.code));
            c.check(invalid || x.conflict || !sc.faults.is_empty(), || {
                "plan failed without an invalid manifest, a conflict or a fault".into()
            });
            return;
        }
        c.check(!invalid && !x.conflict, || {
            "plan succeeded on an invalid or conflicting manifest".into()
        });
        let text = std::fs::read_to_string(p.dir.path().join("plan.json")).expect("plan.json");
        printed_plan = Some(serde_json::from_str(&text).expect("plan.json is JSON"));
    } else if !json && !invalid && !x.conflict {
        let twin = Emulator::start(signed(instances.clone())).expect("twin emulator");
        let run = p.run(&["plan", "--format", "json", "--endpoint", &twin.url()]);
        let _ = writeln!(
            c.log,
            "--- twin plan: exit {}\n--- stdout:\n{}\n--- stderr:\n{}",
            run.code, run.stdout, run.stderr
        );
        c.check(run.code == 0, || "the twin plan failed".into());
        printed_plan = Some(serde_json::from_str(&run.stdout).expect("plan JSON"));
    }

    let mut args: Vec<&str> = if saved {
        vec!["apply", "--plan", "plan.json"]
    } else {
        vec!["apply", "--auto-approve"]
    };
    if json {
        args.extend(["--format", "json"]);
    }
    let run = run_with_signal(&p, &args, sc.signal);
    let _ = writeln!(
        c.log,
        "--- {}: exit {} (signalled {:?})\n--- stdout:\n{}\n--- stderr:\n{}",
        args.join(" "),
        run.code,
        run.signalled,
        run.stdout,
        run.stderr
    );
    let deletes = p.deletes();
    let sent: BTreeSet<String> = deletes.iter().flat_map(|r| r.delete_ids.clone()).collect();
    let any_sent = !deletes.is_empty();
    let doc: Option<Value> = if json {
        serde_json::from_str(&run.stdout).ok()
    } else {
        None
    };

    // Invalid manifests and conflicts: exit 1, no DELETE.
    if invalid || x.conflict {
        c.check(run.code == 1 && !any_sent, || {
            format!("an invalid or conflicting manifest must exit 1 with no DELETE, got exit {} and {} DELETEs", run.code, deletes.len())
        });
        return;
    }

    // The plan of this run (JSON: the report's `plan`).
    if json {
        if let Some(d) = &doc {
            // Invariant 4 (JSON): exit_code is the process's exit status.
            c.check(d["exit_code"].as_i64() == Some(i64::from(run.code)), || {
                format!(
                    "JSON exit_code {} but the process exited {}",
                    d["exit_code"], run.code
                )
            });
            if d["plan"].is_object() {
                printed_plan = Some(d["plan"].clone());
            }
        } else {
            c.check(!any_sent, || {
                "a DELETE was sent but stdout holds no JSON report".into()
            });
        }
    }

    // Invariant 2 (oracle): the printed plan is the expected plan.
    if let Some(plan) = &printed_plan {
        let delete = plan_ids(plan, "delete");
        c.check(delete == x.delete, || {
            format!(
                "the plan's delete list differs from the oracle's:\n  plan only: {:?}\n  oracle only: {:?}",
                delete.difference(&x.delete).collect::<Vec<_>>(),
                x.delete.difference(&delete).collect::<Vec<_>>()
            )
        });
        for key in ["keep", "protected", "skip"] {
            let other = plan_ids(plan, key);
            c.check(other.is_disjoint(&sent), || {
                format!("an id of the plan's `{key}` list was sent in a DELETE")
            });
        }
        c.check(
            plan["out_of_scope"].as_u64() == u64::try_from(x.out_of_scope).ok(),
            || {
                format!(
                    "out_of_scope {} but the oracle counts {}",
                    plan["out_of_scope"], x.out_of_scope
                )
            },
        );
        let refused = plan["refusals"].as_array().is_some_and(|r| !r.is_empty());
        c.check(refused == x.refused, || {
            format!(
                "the plan's refusals {} but the oracle says refused={}",
                plan["refusals"], x.refused
            )
        });
        // Invariant 1: nothing outside the printed plan was ever sent.
        c.check(sent.is_subset(&delete), || {
            format!(
                "DELETE sent ids outside the printed plan: {:?}",
                sent.difference(&delete).collect::<Vec<_>>()
            )
        });
    }
    // Invariants 1 and 2 against the oracle, whatever was printed.
    c.check(sent.is_subset(&x.delete), || {
        format!(
            "DELETE sent ids the oracle never planned: {:?}",
            sent.difference(&x.delete).collect::<Vec<_>>()
        )
    });
    let live: BTreeMap<String, String> = p
        .emulator
        .shared()
        .instances()
        .into_iter()
        .map(|i| (i.id, i.status))
        .collect();
    for i in &sc.instances {
        if !x.delete.contains(&i.id) {
            c.check(
                live.get(&i.id).map(String::as_str) == Some(i.status),
                || {
                    format!(
                        "{} ({}) is not in the expected plan but is gone or changed",
                        i.name, i.id
                    )
                },
            );
        }
    }

    // Invariant 3: what the report calls deleted is gone or DELETING.
    let mut reported_deleted = BTreeSet::new();
    let mut unconfirmed = 0usize;
    if let Some(d) = &doc {
        for o in d["outcomes"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let id = o["id"].as_str().unwrap_or_default().to_owned();
            match o["outcome"].as_str() {
                Some("deleted" | "deleting") => {
                    reported_deleted.insert(id);
                }
                _ => unconfirmed += 1,
            }
        }
    } else if !json {
        for line in run.stdout.lines() {
            if let Some(rest) = line.strip_prefix("  deleted  ") {
                if let Some(id) = x
                    .delete
                    .iter()
                    .find(|id| rest.contains(&format!(" ({id})")))
                {
                    reported_deleted.insert(id.clone());
                }
            }
            if line.starts_with("  FAILED   ") {
                unconfirmed += 1;
            }
        }
    }
    for id in &reported_deleted {
        c.check(live.get(id).is_none_or(|s| s == "DELETING"), || {
            format!(
                "{id} is reported deleted but the emulator still lists it {:?}",
                live.get(id)
            )
        });
    }

    // Invariant 4: the exit code.
    let code = run.code;
    if any_sent {
        c.check(matches!(code, 0 | 4), || {
            format!("a DELETE was sent, so the exit code must be 0 or 4, not {code}")
        });
        if code == 0 {
            c.check(unconfirmed == 0 && reported_deleted == x.delete, || {
                format!(
                    "exit 0 but not every planned deletion is confirmed ({unconfirmed} unconfirmed, {} of {} reported deleted)",
                    reported_deleted.len(),
                    x.delete.len()
                )
            });
        } else {
            c.check(unconfirmed > 0 || run.signalled.is_some(), || {
                "exit 4 but every outcome is confirmed and no signal was sent".into()
            });
        }
    } else {
        match code {
            0 => c.check(x.delete.is_empty(), || {
                "exit 0 without a DELETE although the plan has deletions".into()
            }),
            3 => c.check(x.refused, || "exit 3 but no guard refuses the plan".into()),
            130 => c.check(run.signalled == Some(Signal::Int), || {
                "exit 130 without a SIGINT".into()
            }),
            143 => c.check(run.signalled == Some(Signal::Term), || {
                "exit 143 without a SIGTERM".into()
            }),
            1 => c.check(!sc.faults.is_empty() || sc.signal.is_some(), || {
                "exit 1 with a valid manifest and no fault".into()
            }),
            other => c.check(false, || format!("unexpected exit code {other}")),
        }
        if code != 1 && code != 130 && code != 143 && run.signalled.is_none() {
            // Without a failure, a refused plan exits 3 and an accepted one sends its DELETEs.
            c.check(x.refused == (code == 3), || {
                format!(
                    "the oracle says refused={} but the run exited {code}",
                    x.refused
                )
            });
            c.check(x.refused || x.delete.is_empty(), || {
                "the plan has deletions, no guard refuses, yet no DELETE was sent".into()
            });
        }
    }
}

/// The seeds to run: one replayed seed, or the first N of the fixed sequence.
fn seeds() -> Vec<u64> {
    if let Ok(s) = std::env::var("DCS_RECONCILE_CAMPAIGN_SEED") {
        let seed = s
            .trim()
            .parse()
            .unwrap_or_else(|e| panic!("DCS_RECONCILE_CAMPAIGN_SEED={s}: {e}"));
        return vec![seed];
    }
    let cases = std::env::var("DCS_RECONCILE_CAMPAIGN_CASES")
        .ok()
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|e| panic!("DCS_RECONCILE_CAMPAIGN_CASES={s}: {e}"))
        })
        .unwrap_or(DEFAULT_CASES);
    (0..cases).map(seed_of).collect()
}

/// The campaign: every seed's case, each checked against the four invariants.
#[test]
fn randomized_fault_campaign_keeps_the_deletion_invariants() {
    let start = Instant::now();
    for seed in seeds() {
        run_case(seed);
    }
    eprintln!("campaign: {:?}", start.elapsed());
}

/// The oracle's glob matches like the manifest's (`*`, `?`, whole name).
#[test]
fn the_oracles_glob_matches_whole_names() {
    assert!(glob(b"prod*", b"prod-1"));
    assert!(glob(b"*-cache", b"ci-cache"));
    assert!(!glob(b"*-cache", b"ci-cache-1"));
    assert!(glob(b"ci-?", b"ci-1"));
    assert!(!glob(b"ci-?", b"ci-10"));
    assert!(glob(b"a", b"a"));
    assert!(!glob(b"a", b"ab"));
}

/// The generator is a pure function of the seed: a replayed seed is the same case.
#[test]
fn a_seed_always_gives_the_same_scenario() {
    for i in 0..5 {
        let a = Scenario::generate(seed_of(i));
        let b = Scenario::generate(seed_of(i));
        assert_eq!(a.describe(), b.describe());
    }
    assert_ne!(
        Scenario::generate(seed_of(0)).describe(),
        Scenario::generate(seed_of(1)).describe()
    );
}
