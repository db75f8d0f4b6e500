//! The examples stay true: every sample manifest validates, and every `dcs-reconcile`
//! command line in the CI recipes parses with today's flags.

use std::path::{Path, PathBuf};

use clap::Parser;
use dcs_reconcile::cli::Cli;

use crate::support::*;

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The manifest embedded in the CronJob's ConfigMap (`dcs.yaml: |` block).
fn configmap_manifest(text: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.trim_end() == "  dcs.yaml: |" {
            inside = true;
            continue;
        }
        if inside {
            if let Some(rest) = line.strip_prefix("    ") {
                out.push_str(rest);
                out.push('\n');
            } else if !line.trim().is_empty() {
                break;
            }
        }
    }
    out
}

#[test]
fn every_example_manifest_validates() {
    let dir = tempfile::tempdir().expect("it works");
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples().join("manifests"))
        .expect("it works")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    let embedded = configmap_manifest(&read(&examples().join("kubernetes/cronjob.yaml")));
    assert!(embedded.contains("instances: []"), "{embedded}");
    let cm = dir.path().join("configmap-dcs.yaml");
    std::fs::write(&cm, embedded).expect("it works");
    files.push(cm);
    for file in files {
        let f = file.display().to_string();
        let run = run_in(dir.path(), &["validate", "-f", &f], &[]).expect(0);
        assert!(run.stdout.contains("is valid"), "{f}: {}", run.stdout);
    }
}

/// `dcs-reconcile …` command lines in a shell script or YAML `run:` line, cut at the first
/// shell operator.
fn command_lines(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line
            .trim_start()
            .trim_start_matches("- ")
            .trim_start_matches("run: ");
        if line.starts_with('#') {
            continue;
        }
        let Some(at) = line.find("dcs-reconcile ") else {
            continue;
        };
        let rest = &line[at..];
        let mut words = Vec::new();
        for w in rest.split_whitespace() {
            if [">", "||", "|", ";", "&&", "2>&1", "\\"].contains(&w) || w.starts_with(['>', '#']) {
                break;
            }
            words.push(w.trim_matches('"').to_owned());
        }
        // `dcs-reconcile --version` style words or URLs are not invocations.
        if words.len() > 1 && !words[1].starts_with("http") {
            out.push(words);
        }
    }
    out
}

#[test]
fn every_command_in_the_ci_recipes_parses() {
    let mut checked = 0;
    for rel in ["github-actions/dcs-reconcile.yml", "gitlab/.gitlab-ci.yml"] {
        let text = read(&examples().join(rel));
        for words in command_lines(&text) {
            if words[1] == "--version" || words.iter().any(|w| w.contains('$')) {
                continue;
            }
            if let Err(e) = Cli::try_parse_from(&words) {
                panic!("{rel}: `{}` does not parse: {e}", words.join(" "));
            }
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} commands found");

    // The CronJob's `args:` list.
    let text = read(&examples().join("kubernetes/cronjob.yaml"));
    let mut args = vec!["dcs-reconcile".to_owned()];
    let mut inside = false;
    for line in text.lines() {
        let t = line.trim();
        if t == "args:" {
            inside = true;
            continue;
        }
        if inside {
            match t.strip_prefix("- ") {
                Some(a) => args.push(a.split('#').next().unwrap_or("").trim().to_owned()),
                None => break,
            }
        }
    }
    assert!(args.len() > 3, "{args:?}");
    if let Err(e) = Cli::try_parse_from(&args) {
        panic!("cronjob args `{}` do not parse: {e}", args.join(" "));
    }
}
