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
const DEFAULT_CASES: u64 = 40;

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
    /// `--allow-empty` and `--max-delete N` on the command line (of `plan --out` for saved
    /// plans, which records them; of `apply` otherwise).
    allow_empty_flag: bool,
    max_delete_flag: Option<usize>,
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
        // Repeated ids, and repeated names without ids, make the manifest invalid: keep them
        // only now and then.
        if rng.u8(..20) != 0 {
            let mut seen_ids = BTreeSet::new();
            let mut seen_names = BTreeSet::new();
            m.entries.retain(|e| {
                let id_ok =
                    e.id.as_ref()
                        .is_none_or(|i| seen_ids.insert(i.to_ascii_lowercase()));
                let name_ok =
                    e.id.is_some() || e.name.as_ref().is_none_or(|n| seen_names.insert(n.clone()));
                id_ok && name_ok
            });
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
                    "list:503",
                    "list:close",
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
        // Faults the run cannot get past (exit 1 before any DELETE): rarely.
        if rng.u8(..12) == 0 {
            faults.push(pick(rng, &["list:503x7", "list:garbage", "list:403"]).to_owned());
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
            0..=2 => Mode::ApplyJson,
            3 | 4 => Mode::ApplyText,
            5 | 6 => Mode::SavedJson,
            _ => Mode::SavedText,
        };
        let signal = match rng.u8(..4) {
            0 => Some((
                pick(rng, &[Signal::Int, Signal::Term]),
                pick(rng, &[When::FirstDelete, When::FirstRequest]),
            )),
            _ => None,
        };
        let latency_ms = if signal.is_some() { 40 } else { 0 };
        let allow_empty_flag = rng.u8(..8) == 0;
        let max_delete_flag = (rng.u8(..6) == 0).then(|| rng.usize(0..=12));
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
            allow_empty_flag,
            max_delete_flag,
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

    /// The `--allow-empty` and `--max-delete N` flags of the scenario.
    fn flags(&self) -> Vec<String> {
        let mut f = Vec::new();
        if self.allow_empty_flag {
            f.push("--allow-empty".to_owned());
        }
        if let Some(n) = self.max_delete_flag {
            f.extend(["--max-delete".to_owned(), n.to_string()]);
        }
        f
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
            "mode {:?}, flags {:?}, signal {:?}, faults {:?}, fail_delete {:?}, fail_delete_requests {}, delete_linger {}, latency {} ms",
            self.mode,
            self.flags(),
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
    let empty = m.entries.is_empty() && !m.allow_empty && !sc.allow_empty_flag && n > 0;
    let cap = match (sc.max_delete_flag, m.max_delete) {
        (Some(c), _) | (None, Some(MaxDelete::Count(c))) => Some(c),
        (None, Some(MaxDelete::Percent(p))) => Some(p.saturating_mul(managed) / 100),
        (None, None) => None,
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

/// Runs one case and returns a label for the campaign's tally (what kind of case it was).
fn run_case(seed: u64) -> String {
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
    let flags = sc.flags();

    // The plan the run is held to: printed by the run itself (JSON), by a twin emulator with the
    // same instances and no faults (text), or saved by `plan --out`.
    let mut printed_plan: Option<Value> = None;
    if saved {
        let mut args = vec!["plan", "--out", "plan.json"];
        if json {
            args.extend(["--format", "json"]);
        }
        args.extend(flags.iter().map(String::as_str));
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
            return format!("plan --out exit {}", run.code);
        }
        c.check(!invalid && !x.conflict, || {
            "plan succeeded on an invalid or conflicting manifest".into()
        });
        let text = std::fs::read_to_string(p.dir.path().join("plan.json")).expect("plan.json");
        printed_plan = Some(serde_json::from_str(&text).expect("plan.json is JSON"));
    } else if !json && !invalid && !x.conflict {
        let twin = Emulator::start(signed(instances.clone())).expect("twin emulator");
        let url = twin.url();
        let mut args = vec!["plan", "--format", "json", "--endpoint", &url];
        args.extend(flags.iter().map(String::as_str));
        let run = p.run(&args);
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
        let mut a = vec!["apply", "--auto-approve"];
        a.extend(flags.iter().map(String::as_str));
        a
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
    let facts = Facts {
        code: run.code,
        signalled: run.signalled,
        json,
        doc: if json {
            serde_json::from_str(&run.stdout).ok()
        } else {
            None
        },
        stdout: run.stdout,
        printed_plan,
        any_sent: !deletes.is_empty(),
        sent: deletes.iter().flat_map(|r| r.delete_ids.clone()).collect(),
        live: p
            .emulator
            .shared()
            .instances()
            .into_iter()
            .map(|i| (i.id, i.status))
            .collect(),
    };
    match check_apply(&sc, &x, &facts) {
        Ok(label) => label,
        Err(why) => {
            c.check(false, || why);
            String::new()
        }
    }
}

/// What one `apply` run did, as observed from outside: its exit, its output, the DELETEs the
/// emulator answered and what the emulator holds afterwards.
struct Facts {
    code: i32,
    signalled: Option<Signal>,
    json: bool,
    stdout: String,
    /// The parsed JSON report (JSON runs whose stdout is one document).
    doc: Option<Value>,
    /// The plan the run is held to: the saved plan, a twin's `plan --format json` (text runs),
    /// or the report's own `plan` (filled in from `doc`).
    printed_plan: Option<Value>,
    any_sent: bool,
    /// Every id sent in any DELETE.
    sent: BTreeSet<String>,
    /// The emulator's instances after the run: id to status.
    live: BTreeMap<String, String>,
}

/// `Err(why)` unless `f` keeps the four invariants for scenario `sc` whose expected plan is
/// `x`; `Ok` holds a label for the tally.
fn check_apply(sc: &Scenario, x: &Expected, f: &Facts) -> Result<String, String> {
    macro_rules! ensure {
        ($ok:expr, $($why:tt)+) => {
            if !$ok {
                return Err(format!($($why)+));
            }
        };
    }
    let code = f.code;
    let interrupted_before = matches!(
        (code, f.signalled),
        (130, Some(Signal::Int)) | (143, Some(Signal::Term))
    );

    // Invalid manifests and conflicts: exit 1 (or 130/143 when a signal came while listing),
    // no DELETE.
    if sc.manifest.invalid.is_some() || x.duplicate || x.conflict {
        ensure!(
            (code == 1 || interrupted_before) && !f.any_sent,
            "an invalid or conflicting manifest must exit 1 with no DELETE, got exit {code} and DELETEs of {:?}",
            f.sent
        );
        return Ok("invalid manifest or conflict: exit 1".to_owned());
    }

    let mut printed_plan = f.printed_plan.clone();
    if f.json {
        if let Some(d) = &f.doc {
            // Invariant 4 (JSON): exit_code is the process's exit status.
            ensure!(
                d["exit_code"].as_i64() == Some(i64::from(code)),
                "JSON exit_code {} but the process exited {code}",
                d["exit_code"]
            );
            if d["plan"].is_object() {
                printed_plan = Some(d["plan"].clone());
            }
        } else {
            ensure!(
                !f.any_sent,
                "a DELETE was sent but stdout holds no JSON report"
            );
        }
    }

    // Invariant 2 (oracle): the printed plan is the expected plan.
    if let Some(plan) = &printed_plan {
        let delete = plan_ids(plan, "delete");
        ensure!(
            delete == x.delete,
            "the plan's delete list differs from the oracle's:\n  plan only: {:?}\n  oracle only: {:?}",
            delete.difference(&x.delete).collect::<Vec<_>>(),
            x.delete.difference(&delete).collect::<Vec<_>>()
        );
        for key in ["keep", "protected", "skip"] {
            let other = plan_ids(plan, key);
            ensure!(
                other.is_disjoint(&f.sent),
                "ids of the plan's `{key}` list were sent in a DELETE: {:?}",
                other.intersection(&f.sent).collect::<Vec<_>>()
            );
        }
        ensure!(
            plan["out_of_scope"].as_u64() == u64::try_from(x.out_of_scope).ok(),
            "out_of_scope {} but the oracle counts {}",
            plan["out_of_scope"],
            x.out_of_scope
        );
        let refused = plan["refusals"].as_array().is_some_and(|r| !r.is_empty());
        ensure!(
            refused == x.refused,
            "the plan's refusals {} but the oracle says refused={}",
            plan["refusals"],
            x.refused
        );
        // Invariant 1: nothing outside the printed plan was ever sent.
        ensure!(
            f.sent.is_subset(&delete),
            "DELETE sent ids outside the printed plan: {:?}",
            f.sent.difference(&delete).collect::<Vec<_>>()
        );
    }
    // Invariants 1 and 2 against the oracle, whatever was printed.
    ensure!(
        f.sent.is_subset(&x.delete),
        "DELETE sent ids the oracle never planned: {:?}",
        f.sent.difference(&x.delete).collect::<Vec<_>>()
    );
    for i in &sc.instances {
        if !x.delete.contains(&i.id) {
            ensure!(
                f.live.get(&i.id).map(String::as_str) == Some(i.status),
                "{} ({}) is not in the expected plan but is now {:?}",
                i.name,
                i.id,
                f.live.get(&i.id)
            );
        }
    }

    // Invariant 3: what the report calls deleted is gone or DELETING.
    let mut reported_deleted = BTreeSet::new();
    let mut unconfirmed = 0usize;
    if let Some(d) = &f.doc {
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
    } else if !f.json {
        for line in f.stdout.lines() {
            // `  deleted  <name> (<id>)[: …]`; the alphabet's names hold no parentheses.
            if let Some((id, _)) = line
                .strip_prefix("  deleted  ")
                .and_then(|rest| rest.split_once(" ("))
                .and_then(|(_, tail)| tail.split_once(')'))
            {
                reported_deleted.insert(id.to_owned());
            }
            if line.starts_with("  FAILED   ") {
                unconfirmed += 1;
            }
        }
    }
    for id in &reported_deleted {
        ensure!(
            f.live.get(id).is_none_or(|s| s == "DELETING"),
            "{id} is reported deleted but the emulator still lists it {:?}",
            f.live.get(id)
        );
    }

    // Invariant 4: the exit code.
    if f.any_sent {
        ensure!(
            matches!(code, 0 | 4),
            "a DELETE was sent, so the exit code must be 0 or 4, not {code}"
        );
        if code == 0 {
            ensure!(
                unconfirmed == 0 && reported_deleted == x.delete,
                "exit 0 but not every planned deletion is confirmed ({unconfirmed} unconfirmed, {} of {} reported deleted)",
                reported_deleted.len(),
                x.delete.len()
            );
        } else {
            ensure!(
                unconfirmed > 0 || f.signalled.is_some(),
                "exit 4 but every outcome is confirmed and no signal was sent"
            );
        }
    } else {
        match code {
            0 => ensure!(
                x.delete.is_empty(),
                "exit 0 without a DELETE although the plan has deletions"
            ),
            3 => ensure!(x.refused, "exit 3 but no guard refuses the plan"),
            130 | 143 => ensure!(
                interrupted_before,
                "exit {code} but the signal sent was {:?}",
                f.signalled
            ),
            // A signal never turns into exit 1: before any DELETE it is 130/143.
            1 => ensure!(
                !sc.faults.is_empty(),
                "exit 1 with a valid manifest and no fault"
            ),
            other => ensure!(false, "unexpected exit code {other}"),
        }
        if !matches!(code, 1 | 130 | 143) && f.signalled.is_none() {
            // Without a failure, a refused plan exits 3 and an accepted one sends its DELETEs.
            ensure!(
                x.refused == (code == 3),
                "the oracle says refused={} but the run exited {code}",
                x.refused
            );
            ensure!(
                x.refused || x.delete.is_empty(),
                "the plan has deletions, no guard refuses, yet no DELETE was sent"
            );
        }
    }
    Ok(format!(
        "{:?} exit {code}{}{}",
        sc.mode,
        if f.any_sent { ", DELETE sent" } else { "" },
        match f.signalled {
            Some(s) => format!(", {s:?}"),
            None => String::new(),
        }
    ))
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
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for seed in seeds() {
        *tally.entry(run_case(seed)).or_default() += 1;
    }
    eprintln!("campaign: {:?}", start.elapsed());
    for (kind, n) in &tally {
        eprintln!("  {n:4}  {kind}");
    }
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

// ---------------------------------------------------------------------------------------------
// The checker checks: every invariant rejects a run that breaks it
// ---------------------------------------------------------------------------------------------

const A: &str = "aaaaaaaa-0000-4000-8000-000000000001";
const B: &str = "bbbbbbbb-0000-4000-8000-000000000002";
const C: &str = "cccccccc-0000-4000-8000-000000000003";
const D: &str = "dddddddd-0000-4000-8000-000000000004";

/// A hand-made case: `a-1` declared, `ci-1` to delete, `prod-1` protected, `ci-2` skipped
/// (CREATING); and the facts of a correct JSON run that deleted `ci-1`.
fn hand_case() -> (Scenario, Facts) {
    let inst = |id: &str, name: &str, status: &'static str| Inst {
        id: id.to_owned(),
        name: name.to_owned(),
        status,
        prepaid: false,
        tags: Vec::new(),
        age: Age::Old,
    };
    let sc = Scenario {
        seed: 0,
        instances: vec![
            inst(A, "a-1", "RUNNING"),
            inst(B, "ci-1", "RUNNING"),
            inst(C, "prod-1", "RUNNING"),
            inst(D, "ci-2", "CREATING"),
        ],
        manifest: Manifest {
            entries: vec![Entry {
                name: Some("a-1".to_owned()),
                id: None,
            }],
            protect: vec![Protect::Name("prod*")],
            ..Manifest::default()
        },
        faults: Vec::new(),
        fail_delete: Vec::new(),
        fail_delete_requests: 0,
        linger: 0,
        latency_ms: 0,
        mode: Mode::ApplyJson,
        signal: None,
        allow_empty_flag: false,
        max_delete_flag: None,
    };
    let list = |ids: &[&str]| {
        Value::from(
            ids.iter()
                .map(|i| serde_json::json!({"id": i}))
                .collect::<Vec<_>>(),
        )
    };
    let doc = serde_json::json!({
        "exit_code": 0,
        "plan": {
            "delete": list(&[B]), "keep": list(&[A]), "protected": list(&[C]), "skip": list(&[D]),
            "out_of_scope": 0, "refusals": [],
        },
        "outcomes": [{"id": B, "name": "ci-1", "outcome": "deleted"}],
    });
    let facts = Facts {
        code: 0,
        signalled: None,
        json: true,
        stdout: String::new(),
        doc: Some(doc),
        printed_plan: None,
        any_sent: true,
        sent: [B.to_owned()].into(),
        live: [(A, "RUNNING"), (C, "RUNNING"), (D, "CREATING")]
            .iter()
            .map(|(i, s)| ((*i).to_owned(), (*s).to_owned()))
            .collect(),
    };
    (sc, facts)
}

/// Asserts that the checker rejects the hand case after `mutate`, with a message holding `why`.
#[track_caller]
fn rejected(why: &str, mutate: impl FnOnce(&mut Scenario, &mut Facts)) {
    let (mut sc, mut f) = hand_case();
    mutate(&mut sc, &mut f);
    let x = oracle(&sc);
    match check_apply(&sc, &x, &f) {
        Ok(label) => panic!("the checker accepted a broken run ({label}); expected: {why}"),
        Err(e) => assert!(e.contains(why), "expected `{why}`, got: {e}"),
    }
}

#[test]
fn the_checker_accepts_a_correct_run_and_its_oracle_plans_the_hand_case() {
    let (sc, f) = hand_case();
    let x = oracle(&sc);
    assert_eq!(x.delete, [B.to_owned()].into());
    assert!(!x.refused && !x.conflict && !x.duplicate);
    assert_eq!(
        check_apply(&sc, &x, &f),
        Ok("ApplyJson exit 0, DELETE sent".to_owned())
    );
}

#[test]
fn the_checker_rejects_a_delete_outside_the_printed_plan() {
    rejected("ids of the plan's `protected` list were sent", |_, f| {
        f.sent.insert(C.to_owned());
    });
    rejected("DELETE sent ids the oracle never planned", |_, f| {
        // A report without a plan: the oracle still holds the run to the expected plan.
        f.doc.as_mut().expect("doc")["plan"] = Value::Null;
        f.sent.insert(C.to_owned());
    });
}

#[test]
fn the_checker_rejects_a_plan_other_than_the_oracles_and_a_lost_kept_instance() {
    rejected("differs from the oracle's", |_, f| {
        f.doc.as_mut().expect("doc")["plan"]["delete"] = serde_json::json!([{"id": B}, {"id": C}]);
    });
    rejected("differs from the oracle's", |sc, _| {
        sc.manifest.protect.clear();
    });
    rejected("is not in the expected plan but is now None", |_, f| {
        f.live.remove(A);
    });
    rejected("refusals", |sc, _| {
        sc.manifest.max_delete = Some(MaxDelete::Count(0));
    });
}

#[test]
fn the_checker_rejects_a_reported_deletion_still_listed() {
    rejected(
        "is reported deleted but the emulator still lists it",
        |_, f| {
            f.live.insert(B.to_owned(), "RUNNING".to_owned());
        },
    );
    rejected(
        "is reported deleted but the emulator still lists it",
        |sc, f| {
            sc.mode = Mode::ApplyText;
            f.json = false;
            f.doc = None;
            f.stdout = format!("  deleted  ci-1 ({B})\n");
            f.live.insert(B.to_owned(), "RUNNING".to_owned());
        },
    );
}

#[test]
fn the_checker_rejects_exit_codes_against_the_contract() {
    let set_code = |f: &mut Facts, code: i32| {
        f.code = code;
        f.doc.as_mut().expect("doc")["exit_code"] = code.into();
    };
    rejected("JSON exit_code 4 but the process exited 0", |_, f| {
        f.doc.as_mut().expect("doc")["exit_code"] = 4.into();
    });
    rejected("must be 0 or 4, not 1", |_, f| set_code(f, 1));
    rejected("must be 0 or 4, not 130", |_, f| set_code(f, 130));
    rejected("exit 4 but every outcome is confirmed", |_, f| {
        set_code(f, 4)
    });
    rejected(
        "exit 0 but not every planned deletion is confirmed",
        |_, f| {
            f.doc.as_mut().expect("doc")["outcomes"][0]["outcome"] = "unknown".into();
            f.live.insert(B.to_owned(), "RUNNING".to_owned());
        },
    );
    let nothing_sent = |f: &mut Facts| {
        f.any_sent = false;
        f.sent.clear();
        f.doc.as_mut().expect("doc")["outcomes"] = Value::Array(Vec::new());
        f.live.insert(B.to_owned(), "RUNNING".to_owned());
    };
    rejected("exit 3 but no guard refuses", |_, f| {
        nothing_sent(f);
        set_code(f, 3);
    });
    rejected("exit 130 but the signal sent was None", |_, f| {
        nothing_sent(f);
        set_code(f, 130);
    });
    rejected("exit 1 with a valid manifest and no fault", |_, f| {
        nothing_sent(f);
        set_code(f, 1);
    });
    rejected(
        "exit 0 without a DELETE although the plan has deletions",
        |_, f| {
            nothing_sent(f);
        },
    );
    rejected("an invalid or conflicting manifest must exit 1", |sc, _| {
        sc.manifest.invalid = Some("colour: red");
    });
}
