//! Test helpers: a project (an emulator plus a temporary folder for the manifest) and a runner
//! for the real binary with a scrubbed environment.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use dcs_reconcile::emulator::{EmuInstance, Emulator, EmulatorConfig, RequestRecord};

pub const PID: &str = dcs_reconcile::emulator::EXAMPLE_PROJECT_ID;
pub const AK: &str = "AKTESTEXAMPLE0000001";
pub const SK: &str = "SK-test-secret-value-9f8e7d6c5b4a";

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_dcs-reconcile")
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with both streams unless the exit code is `code`.
    #[track_caller]
    pub fn expect(self, code: i32) -> Run {
        assert_eq!(
            self.code, code,
            "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// An emulator configuration serving [`PID`] with these instances, checking signatures made
/// with [`AK`]/[`SK`]; override fields with `EmulatorConfig { faults, ..signed(instances) }`.
pub fn signed(instances: Vec<EmuInstance>) -> EmulatorConfig {
    EmulatorConfig {
        project_id: Some(PID.to_owned()),
        credentials: Some((AK.to_owned(), SK.to_owned())),
        instances,
        ..EmulatorConfig::default()
    }
}

/// An emulator (signatures checked) and a folder holding the manifest.
pub struct Project {
    pub emulator: Emulator,
    pub dir: tempfile::TempDir,
    pub env: Vec<(String, String)>,
}

impl Project {
    /// A project with these instances, checking signatures made with [`AK`]/[`SK`].
    pub fn new(instances: Vec<EmuInstance>) -> Project {
        Self::with_config(signed(instances))
    }

    pub fn with_config(config: EmulatorConfig) -> Project {
        let emulator = Emulator::start(config).expect("emulator");
        let dir = tempfile::tempdir().expect("tempdir");
        Project {
            emulator,
            dir,
            env: vec![
                ("HUAWEICLOUD_SDK_AK".to_owned(), AK.to_owned()),
                ("HUAWEICLOUD_SDK_SK".to_owned(), SK.to_owned()),
            ],
        }
    }

    /// Writes `dcs.yaml` with this project's id and the emulator's endpoint, then `body`.
    pub fn manifest(&self, body: &str) -> PathBuf {
        let text = format!(
            "project_id: {PID}\nendpoint: {}\n{body}",
            self.emulator.url()
        );
        self.write("dcs.yaml", &text)
    }

    /// Writes a file in the project folder.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }

    /// Runs the binary in the project folder with only this project's environment.
    pub fn run(&self, args: &[&str]) -> Run {
        run_in(self.dir.path(), args, &self.env)
    }

    /// The requests the emulator answered.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.emulator.shared().requests()
    }

    /// The DELETE requests the emulator answered.
    pub fn deletes(&self) -> Vec<RequestRecord> {
        self.requests()
            .into_iter()
            .filter(|r| r.method == "DELETE")
            .collect()
    }

    /// Ids of the instances still there, sorted.
    pub fn live_ids(&self) -> Vec<String> {
        let mut ids = self.emulator.shared().instance_ids();
        ids.sort();
        ids
    }
}

/// The binary's command line in `dir` with a scrubbed environment plus `env`, stdin closed.
pub fn command_in(dir: &Path, args: &[&str], env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

/// The output of a finished child as a [`Run`].
pub fn run_of(out: std::process::Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Sends `signal` (`INT`, `TERM`) to the process `pid` with the `kill` command.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([format!("-{signal}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{signal} {pid}");
}

/// Runs the binary in `dir` with a scrubbed environment plus `env`, stdin closed.
pub fn run_in(dir: &Path, args: &[&str], env: &[(String, String)]) -> Run {
    let mut cmd = command_in(dir, args, env);
    run_of(
        cmd.output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin())),
    )
}

/// The sample project of the docs: 2 documented instances plus a few more.
pub fn sample() -> Vec<EmuInstance> {
    dcs_reconcile::emulator::sample_instances()
}

/// `n` generated instances.
pub fn generated(n: usize) -> Vec<EmuInstance> {
    dcs_reconcile::emulator::generate_instances(n)
}

/// Sorted ids of `instances`.
pub fn ids_of(instances: &[EmuInstance]) -> Vec<String> {
    let mut ids: Vec<String> = instances.iter().map(|i| i.id.clone()).collect();
    ids.sort();
    ids
}

/// A `dcs-reconcile emulator` process, killed when dropped.
pub struct EmulatorProcess {
    pub child: std::process::Child,
    /// The URL from its first line.
    pub url: String,
    /// Its first line.
    pub banner: String,
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `dcs-reconcile emulator --listen 127.0.0.1:0 <args>` and reads its first line.
pub fn spawn_emulator(args: &[&std::ffi::OsStr]) -> EmulatorProcess {
    use std::io::BufRead;
    let mut child = Command::new(bin())
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .args(args)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the emulator starts");
    let mut banner = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = std::io::BufReader::new(out).read_line(&mut banner);
    }
    let url = banner
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_default()
        .to_owned();
    assert!(!url.is_empty(), "no URL in the emulator's banner: {banner}");
    EmulatorProcess { child, url, banner }
}

/// Runs `dcs-reconcile <args>` on a pseudo-terminal (via `script`, util-linux) in `dir` with
/// `env`; once `ready()` holds (or after 20 s), waits a little and types `input` (nothing when
/// `None`).
pub fn run_on_terminal(
    dir: &Path,
    args: &[&str],
    env: &[(String, String)],
    input: Option<&str>,
    ready: impl Fn() -> bool,
) -> Run {
    let quoted: Vec<String> = args.iter().map(|a| format!("'{a}'")).collect();
    run_on_terminal_shell(
        dir,
        &format!("{} {}", bin(), quoted.join(" ")),
        env,
        input,
        ready,
    )
}

/// [`run_on_terminal`] for a shell command line.
pub fn run_on_terminal_shell(
    dir: &Path,
    command: &str,
    env: &[(String, String)],
    input: Option<&str>,
    ready: impl Fn() -> bool,
) -> Run {
    use std::time::{Duration, Instant};
    let mut cmd = Command::new("script");
    cmd.args(["-qec", command, "/dev/null"])
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("TERM", "dumb")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .expect("`script` (util-linux) is needed for this test");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(300));
    if let (Some(stdin), Some(input)) = (child.stdin.as_mut(), input) {
        use std::io::Write;
        let _ = stdin.write_all(format!("{input}\n").as_bytes());
    }
    let out = child.wait_with_output().expect("script runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
