//! Hostile manifests: each gives one clear error line quickly, never a hang, a panic or an
//! out-of-memory. Every case runs the real binary with a watchdog.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

/// Runs `validate -f FILE` with a watchdog: a hang fails the test instead of blocking it.
fn validate_with_watchdog(dir: &std::path::Path, file: &str) -> Run {
    let mut child = Command::new(bin())
        .args(["validate", "-f", file])
        .current_dir(dir)
        .env_clear()
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                panic!("validate -f {file} hung for 30 s");
            }
            Err(e) => panic!("{e}"),
        }
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut stdout);
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut stderr);
    }
    Run {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr,
    }
}

#[test]
fn hostile_manifests_fail_fast_with_one_line() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let head = "project_id: p\nregion: cn-north-4\n";
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "billion laughs (alias bomb)",
            format!(
                "{head}a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n\
                 c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n\
                 e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n\
                 g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n\
                 instances: [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n"
            )
            .into_bytes(),
            "dcs.yaml",
        ),
        (
            "a recursive alias",
            format!("{head}instances: &x [ *x ]\n").into_bytes(),
            "dcs.yaml:3",
        ),
        (
            "aliases inside instances",
            format!(
                "{head}instances:\n  - &e {{name: a}}\n  - *e\n  - *e\n"
            )
            .into_bytes(),
            "dcs.yaml",
        ),
        (
            "deep nesting of lists",
            format!("{head}instances: {}{}\n", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            "dcs.yaml",
        ),
        (
            "deep nesting after an apostrophe in a plain scalar",
            format!("{head}instances:\n  - name: don't\nx: {}\n", "[".repeat(60_000)).into_bytes(),
            "dcs.yaml",
        ),
        (
            "deep nesting of mappings",
            format!("{head}instances:\n  - name: {}x{}\n", "{a: ".repeat(50_000), "}".repeat(50_000))
                .into_bytes(),
            "dcs.yaml",
        ),
        (
            "tabs for indentation",
            format!("{head}instances:\n\t- name: a\n").into_bytes(),
            "dcs.yaml:4",
        ),
        (
            "invalid UTF-8",
            b"instances:\n  - name: \xc3\x28\n".to_vec(),
            "dcs.yaml:2",
        ),
        (
            "binary garbage",
            (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
            "dcs.yaml",
        ),
        (
            "NUL bytes",
            format!("{head}instances:\n  - name: a\0b\n").into_bytes(),
            "dcs.yaml",
        ),
        (
            "a huge scalar",
            format!("{head}instances:\n  - name: {}\n", "x".repeat(8 << 20)).into_bytes(),
            "",
        ),
        (
            "too large a file",
            {
                let mut v = format!("{head}instances:\n").into_bytes();
                v.resize(17 << 20, b' ');
                v
            },
            "dcs.yaml",
        ),
        (
            "a document of only a tag",
            b"!!binary AAAA\n".to_vec(),
            "dcs.yaml",
        ),
        (
            "many documents",
            "instances: []\n---\n".repeat(1000).into_bytes(),
            "dcs.yaml",
        ),
        (
            "a stray BOM in the middle",
            format!("{head}instances:\n  - name: a\u{feff}b\n  - \u{feff}name: c\n").into_bytes(),
            "dcs.yaml",
        ),
    ];
    // A 100,000-entry manifest is large but legitimate: it must be accepted.
    let many: String = (0..100_000).map(|i| format!("  - name: n{i}\n")).collect();
    cases.push(("", format!("{head}instances:\n{many}").into_bytes(), "OK"));

    for (what, bytes, location) in cases {
        let path = dir.path().join("dcs.yaml");
        std::fs::write(&path, &bytes).unwrap_or_else(|e| panic!("{e}"));
        let run = validate_with_watchdog(dir.path(), "dcs.yaml");
        if location == "OK" {
            assert_eq!(run.code, 0, "{}", run.stderr);
            continue;
        }
        if what == "a huge scalar" {
            // A long name is not an error by itself; it must not crash.
            assert!(run.code == 0 || run.code == 1, "{what}: {}", run.stderr);
            continue;
        }
        assert_eq!(
            run.code, 1,
            "{what}: exit code\n{}\n{}",
            run.stdout, run.stderr
        );
        assert!(
            run.stderr.starts_with(&format!("error: {location}")),
            "{what}: {}",
            run.stderr
        );
        assert_eq!(
            run.stderr.lines().count(),
            1,
            "{what}: one line: {}",
            run.stderr
        );
        assert!(
            run.stderr.len() < 2000,
            "{what}: a short line: {}",
            &run.stderr[..300]
        );
        assert!(!run.stderr.contains("panicked"), "{what}: {}", run.stderr);
    }
}

/// A device reports no size: the cap counts the bytes read, so an endless one is refused fast.
#[cfg(unix)]
#[test]
fn an_endless_device_is_refused_once_the_cap_is_read() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for device in ["/dev/zero", "/dev/urandom"] {
        let run = validate_with_watchdog(dir.path(), device);
        assert_eq!(run.code, 1, "{device}: {}", run.stderr);
        assert_eq!(
            run.stderr,
            format!(
                "error: {device}: more than 16777216 bytes; manifests larger than that are refused\n"
            )
        );
    }
}
