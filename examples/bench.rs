//! Benchmark of `plan` and `validate` against the built-in emulator (docs/performance.md).
//!
//! ```text
//! cargo run --release --example bench -- --instances 10000 --latency-ms 50
//! ```
//!
//! The emulator runs in this process with N generated instances and the given per-request
//! latency. Each measured command runs in a child process: this same program, started again
//! with a hidden `--child` flag, runs the command through `dcs_reconcile::run` exactly as the
//! `dcs-reconcile` binary does (the same runtime, results to stdout, which is
//! `/dev/null`). So the CPU time and peak RSS reported are the command's alone, not the
//! emulator's. The child reads them when the command has finished: CPU time from
//! `/proc/self/stat` (user + system, in clock ticks of 1/100 s) or, when larger, the sum of
//! `/proc/self/task/*/schedstat` (nanoseconds, live threads), and peak RSS from
//! `/proc/self/status` (`VmHWM`). It writes them to a file the parent reads. Wall time is measured by the parent, from starting the child to
//! its exit, so it includes starting the process.
//!
//! Options:
//!   --instances N          live instances in the emulator [default: 10000]
//!   --latency-ms L         latency the emulator adds to every answer [default: 0]
//!   --concurrency C        the concurrent run's --concurrency [default: the tool's default]
//!   --runs R               runs of each command; the median is reported [default: 3]
//!   --validate-entries E   entries of the generated manifest `validate` reads [default: 10000]
//!   --targets T            the fleet benchmark instead: T projects of N instances, one
//!                          manifest each, planned with --parallel 1 and the default
//!   --declared D           instances the plan's manifest declares by name [default: every
//!                          tenth, ceil(N/10)]
//!
//! The plan's manifest declares every tenth instance by name by default, so 90% of the
//! instances are planned for deletion and listed in the output. With `--declared D` it declares
//! the first D instances instead (D = 99,000 of N = 100,000: a large project with a little
//! surplus). `validate` is measured on that manifest too.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use dcs_reconcile::api::DEFAULT_CONCURRENCY;
use dcs_reconcile::cli::Cli;
use dcs_reconcile::config::Env;
use dcs_reconcile::emulator::{Emulator, EmulatorConfig, generate_instances};
use dcs_reconcile::{Confirmation, Io};

const PID: &str = "0123456789abcdef0123456789abcdef";
const AK: &str = "AKBENCHEXAMPLE000001";
const SK: &str = "SK-bench-secret-value-0123456789";

/// Clock ticks per second of `/proc/self/stat` (`USER_HZ`, 100 on Linux).
const TICKS_PER_SECOND: u64 = 100;

type Res<T> = Result<T, String>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("--child") => child(&args[1..]),
        _ => parent(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            ExitCode::FAILURE
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Child: run one command, then report its own CPU time and peak RSS.

/// `--child REPORT_FILE dcs-reconcile-args…`
fn child(args: &[String]) -> Res<()> {
    let (report, rest) = args.split_first().ok_or("--child needs a report file")?;
    let cli = Cli::try_parse_from(std::iter::once("dcs-reconcile".to_owned()).chain(rest.to_vec()))
        .map_err(|e| e.to_string())?;
    let runtime = dcs_reconcile::runtime().map_err(|e| e.to_string())?;
    let env = Env::from_process();
    let mut stdout = std::io::stdout();
    let mut confirm = |_: &str| Confirmation::NoTerminal;
    let mut io = Io {
        out: &mut stdout,
        confirm: &mut confirm,
        color: false,
        progress: false,
    };
    let code = runtime
        .block_on(dcs_reconcile::run(cli, &env, &mut io))
        .map_err(|e| format!("the command failed: {e}"))?;
    // Clock ticks count every thread that ever ran; the scheduler's nanoseconds are precise
    // but cover only live threads. Take the larger.
    let cpu_us = (cpu_ticks()? * 1_000_000 / TICKS_PER_SECOND).max(cpu_ns_live_threads() / 1000);
    let peak_rss_kb = peak_rss_kb()?;
    std::fs::write(report, format!("{code} {cpu_us} {peak_rss_kb}\n"))
        .map_err(|e| format!("{report}: {e}"))
}

/// User + system CPU time of this process so far, in clock ticks.
fn cpu_ticks() -> Res<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").map_err(|e| e.to_string())?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("/proc/self/stat: unexpected format")?;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of the whole line are 12 and 13 after the name.
    let field = |n: usize| -> Res<u64> {
        fields
            .get(n)
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| format!("/proc/self/stat: no field {}", n + 3))
    };
    Ok(field(11)? + field(12)?)
}

/// CPU time of this process's live threads, in nanoseconds (first field of each
/// `/proc/self/task/*/schedstat`); 0 when unavailable.
fn cpu_ns_live_threads() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// `VmHWM` of this process: its peak resident set size, in KiB.
fn peak_rss_kb() -> Res<u64> {
    let status = std::fs::read_to_string("/proc/self/status").map_err(|e| e.to_string())?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "/proc/self/status: no VmHWM".to_owned())
}

// ---------------------------------------------------------------------------------------------
// Parent: the emulator, the manifests, the runs and the table.

struct Options {
    instances: usize,
    latency: Duration,
    concurrency: usize,
    runs: usize,
    validate_entries: usize,
    /// `None`: every tenth instance.
    declared: Option<usize>,
    /// `--targets T`: the fleet benchmark, T projects of `instances` each.
    targets: usize,
}

/// The options; `None` after printing the usage for `--help`.
fn parse_options(args: &[String]) -> Res<Option<Options>> {
    let mut o = Options {
        instances: 10_000,
        latency: Duration::ZERO,
        concurrency: DEFAULT_CONCURRENCY,
        runs: 3,
        validate_entries: 10_000,
        declared: None,
        targets: 0,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || -> Res<usize> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{flag} needs a number"))
        };
        match flag.as_str() {
            "--instances" => o.instances = value()?,
            "--latency-ms" => o.latency = Duration::from_millis(value()? as u64),
            "--concurrency" => o.concurrency = value()?.max(1),
            "--runs" => o.runs = value()?.max(1),
            "--validate-entries" => o.validate_entries = value()?,
            "--declared" => o.declared = Some(value()?),
            "--targets" => o.targets = value()?,
            "-h" | "--help" => {
                println!(
                    "usage: bench [--instances N] [--latency-ms L] [--concurrency C] [--runs R] [--validate-entries E] [--declared D] [--targets T]"
                );
                return Ok(None);
            }
            other => return Err(format!("unknown argument {other} (try --help)")),
        }
    }
    Ok(Some(o))
}

/// One measured run.
#[derive(Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
    peak_rss_kb: u64,
}

/// A measured command: its samples and the requests of its first run.
struct Measured {
    label: String,
    requests: String,
    samples: Vec<Sample>,
}

impl Measured {
    fn median(&self, f: impl Fn(&Sample) -> Duration) -> Duration {
        let mut v: Vec<Duration> = self.samples.iter().map(f).collect();
        v.sort();
        v.get(v.len() / 2).copied().unwrap_or_default()
    }

    fn wall(&self) -> Duration {
        self.median(|s| s.wall)
    }

    fn cpu(&self) -> Duration {
        self.median(|s| s.cpu)
    }

    fn peak_rss_mb(&self) -> f64 {
        let kb = self
            .samples
            .iter()
            .map(|s| s.peak_rss_kb)
            .max()
            .unwrap_or(0);
        kb as f64 / 1024.0
    }
}

/// Runs `dcs-reconcile ARGS` in a child process `runs` times.
fn measure(dir: &Path, args: &[&str], runs: usize) -> Res<Vec<Sample>> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let report = dir.join("report.txt");
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let _ = std::fs::remove_file(&report);
        let start = Instant::now();
        let status = Command::new(&exe)
            .arg("--child")
            .arg(&report)
            .args(args)
            .current_dir(dir)
            .env_clear()
            .env("HUAWEICLOUD_SDK_AK", AK)
            .env("HUAWEICLOUD_SDK_SK", SK)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .map_err(|e| format!("cannot start {}: {e}", exe.display()))?;
        let wall = start.elapsed();
        if !status.success() {
            return Err(format!("{args:?} failed ({status})"));
        }
        let text =
            std::fs::read_to_string(&report).map_err(|e| format!("{}: {e}", report.display()))?;
        let nums: Vec<u64> = text
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let [_code, cpu_us, rss] = nums[..] else {
            return Err(format!("bad report: {text}"));
        };
        samples.push(Sample {
            wall,
            cpu: Duration::from_micros(cpu_us),
            peak_rss_kb: rss,
        });
    }
    Ok(samples)
}

/// The requests the emulator answered since `before`, as `3 GET` or `3 GET + 2 DELETE`.
fn requests_since(emulator: &Emulator, before: usize, runs: usize) -> String {
    let all = emulator.shared().requests();
    let new = &all[before.min(all.len())..];
    let per_run = |m: &str| new.iter().filter(|r| r.method == m).count() / runs.max(1);
    match (per_run("GET"), per_run("DELETE")) {
        (0, 0) => "0".to_owned(),
        (g, 0) => format!("{g} GET"),
        (g, d) => format!("{g} GET + {d} DELETE"),
    }
}

/// The table of measured commands.
fn print_table(rows: &[Measured]) {
    println!(
        "{:<42} {:>10} {:>10} {:>10} {:>14}",
        "command", "requests", "wall ms", "CPU ms", "peak RSS MB"
    );
    for r in rows {
        println!(
            "{:<42} {:>10} {:>10.1} {:>10.1} {:>14.1}",
            r.label,
            r.requests,
            r.wall().as_secs_f64() * 1000.0,
            r.cpu().as_secs_f64() * 1000.0,
            r.peak_rss_mb()
        );
    }
}

fn write(path: &Path, text: &str) -> Res<PathBuf> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(path.to_owned())
}

fn parent(args: &[String]) -> Res<()> {
    let Some(o) = parse_options(args)? else {
        return Ok(());
    };
    if o.targets > 0 {
        return fleet(&o);
    }
    let instances = generate_instances(o.instances);
    let names: Vec<String> = instances.iter().map(|i| i.name.clone()).collect();
    let emulator = start_emulator(instances, Some(PID.to_owned()), &o)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;

    // The plan's manifest: every tenth instance, or the first D, by name.
    let mut plan_manifest = format!(
        "project_id: {PID}\nendpoint: {}\ninstances:\n",
        emulator.url()
    );
    let declared: Vec<&String> = match o.declared {
        None => names.iter().step_by(10).collect(),
        Some(d) => names.iter().take(d).collect(),
    };
    for name in &declared {
        plan_manifest.push_str(&format!("  - name: {name}\n"));
    }
    write(&dir.path().join("dcs.yaml"), &plan_manifest)?;

    // The validate manifest: E entries, alternately by name, by id, and by both.
    let mut big = format!("project_id: {PID}\nregion: cn-north-4\ninstances:\n");
    for i in 0..o.validate_entries {
        let name = format!("ci-{i:06}");
        let id = format!("{:08x}-0000-4000-a000-{i:012x}", i);
        big.push_str(&match i % 3 {
            0 => format!("  - name: {name}\n"),
            1 => format!("  - id: {id}\n"),
            _ => format!("  - name: {name}\n    id: {id}\n"),
        });
    }
    write(&dir.path().join("big.yaml"), &big)?;

    let concurrency = o.concurrency.to_string();
    let plans: [(String, Vec<&str>); 3] = [
        (
            "plan --concurrency 1".to_owned(),
            vec!["plan", "-f", "dcs.yaml", "--concurrency", "1"],
        ),
        (
            format!("plan --concurrency {concurrency}"),
            vec!["plan", "-f", "dcs.yaml", "--concurrency", &concurrency],
        ),
        (
            format!("plan --concurrency {concurrency} --format json"),
            vec![
                "plan",
                "-f",
                "dcs.yaml",
                "--concurrency",
                &concurrency,
                "--format",
                "json",
            ],
        ),
    ];
    let mut rows: Vec<Measured> = Vec::new();
    for (label, args) in &plans {
        let before = emulator.shared().requests().len();
        let samples = measure(dir.path(), args, o.runs)?;
        rows.push(Measured {
            label: label.clone(),
            requests: requests_since(&emulator, before, o.runs),
            samples,
        });
    }
    let samples = measure(dir.path(), &["validate", "-f", "big.yaml"], o.runs)?;
    rows.push(Measured {
        label: format!("validate ({} entries)", o.validate_entries),
        requests: "0".to_owned(),
        samples,
    });
    let before = emulator.shared().requests().len();
    let samples = measure(dir.path(), &["validate", "-f", "dcs.yaml"], o.runs)?;
    rows.push(Measured {
        label: format!("validate (the plan's, {} names)", declared.len()),
        requests: requests_since(&emulator, before, o.runs),
        samples,
    });

    println!(
        "N = {} instances, latency {} ms, {} declared; median of {} runs; {} CPUs",
        o.instances,
        o.latency.as_millis(),
        declared.len(),
        o.runs,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    print_table(&rows);
    if let [seq, conc, ..] = &rows[..] {
        let speedup = seq.wall().as_secs_f64() / conc.wall().as_secs_f64().max(1e-9);
        println!(
            "speed-up of --concurrency {} over sequential paging: {speedup:.1}x",
            o.concurrency
        );
    }
    Ok(())
}

/// The emulator the measured commands talk to, in this process, checking signatures;
/// `project_id` `None` serves every project id (the fleet).
fn start_emulator(
    instances: Vec<dcs_reconcile::emulator::EmuInstance>,
    project_id: Option<String>,
    o: &Options,
) -> Res<Emulator> {
    Emulator::start(EmulatorConfig {
        project_id,
        credentials: Some((AK.to_owned(), SK.to_owned())),
        instances,
        latency: o.latency,
        ..EmulatorConfig::default()
    })
    .map_err(|e| e.to_string())
}

/// `--targets T`: T projects of N instances each (one emulator serving every project id, each
/// listing the same N instances), one manifest per project in a directory, planned with
/// `--parallel 1` (one target after another) and with the default `--parallel`.
fn fleet(o: &Options) -> Res<()> {
    let instances = generate_instances(o.instances);
    let names: Vec<String> = instances.iter().map(|i| i.name.clone()).collect();
    let emulator = start_emulator(instances, None, o)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let fleet = dir.path().join("fleet");
    std::fs::create_dir(&fleet).map_err(|e| e.to_string())?;
    let mut entries = String::new();
    for name in names.iter().step_by(10) {
        entries.push_str(&format!("  - name: {name}\n"));
    }
    for t in 0..o.targets {
        write(
            &fleet.join(format!("t{t:04}.yaml")),
            &format!(
                "project_id: {t:032x}\nendpoint: {}\ninstances:\n{entries}",
                emulator.url()
            ),
        )?;
    }
    let runs: [(&str, Vec<&str>); 4] = [
        (
            "plan -f fleet --parallel 1",
            vec!["plan", "-f", "fleet", "--parallel", "1"],
        ),
        (
            "plan -f fleet (default --parallel 8)",
            vec!["plan", "-f", "fleet"],
        ),
        (
            "plan -f fleet --parallel 32",
            vec!["plan", "-f", "fleet", "--parallel", "32"],
        ),
        (
            "plan -f fleet --format json",
            vec!["plan", "-f", "fleet", "--format", "json"],
        ),
    ];
    let mut rows = Vec::new();
    for (label, args) in &runs {
        let before = emulator.shared().requests().len();
        let samples = measure(dir.path(), args, o.runs)?;
        rows.push(Measured {
            label: (*label).to_owned(),
            requests: requests_since(&emulator, before, o.runs),
            samples,
        });
    }
    println!(
        "T = {} targets x N = {} instances, latency {} ms, every tenth declared; median of {} \
         runs; {} CPUs; requests are per run, over all targets",
        o.targets,
        o.instances,
        o.latency.as_millis(),
        o.runs,
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    print_table(&rows);
    Ok(())
}
