//! The layer rules of docs/design.md, checked on the sources: the planner and the printers do
//! no I/O and know no HTTP, async runtime or YAML; the API client knows no YAML; the command
//! line knows no emulator; settings take the manifest's target fields, not the manifest.

use std::path::{Path, PathBuf};

fn sources(under: &str) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(under);
    if root.is_file() {
        return vec![root];
    }
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("src is readable") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    assert!(!out.is_empty(), "no sources under {under}");
    out
}

/// The code of a file without its comments (a doc comment may name anything).
fn code(path: &Path) -> String {
    std::fs::read_to_string(path)
        .expect("readable")
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[track_caller]
fn never(modules: &[&str], words: &[&str]) {
    for module in modules {
        for file in sources(module) {
            let text = code(&file);
            for word in words {
                assert!(
                    !text.contains(word),
                    "{} mentions `{word}`: it breaks a layer rule (docs/design.md)",
                    file.display()
                );
            }
        }
    }
}

#[test]
fn the_pure_steps_know_no_http_runtime_yaml_or_files() {
    never(
        &[
            "plan",
            "saved.rs",
            "util.rs",
            "activity.rs",
            "recycle.rs",
            "grace.rs",
            "model.rs",
        ],
        &[
            "reqwest",
            "tokio",
            "serde_yaml",
            "std::fs",
            "crate::api::Client",
        ],
    );
}

#[test]
fn printers_know_no_http_runtime_or_yaml() {
    never(
        &["render"],
        &[
            "reqwest",
            "tokio",
            "serde_yaml",
            "crate::api::Client",
            "std::fs",
        ],
    );
}

#[test]
fn the_api_client_knows_no_yaml_no_plans_and_no_manifest() {
    never(
        &["api"],
        &[
            "serde_yaml",
            "crate::manifest",
            "crate::plan",
            "crate::render",
        ],
    );
}

#[test]
fn the_command_line_knows_no_emulator_and_settings_no_manifest() {
    never(&["cli"], &["crate::emulator"]);
    never(
        &["config"],
        &["crate::manifest", "serde_yaml", "reqwest::Client"],
    );
}

#[test]
fn commands_write_no_prose_to_stdout_themselves() {
    // Commands hand values to the printers (render); they never format a sentence to the
    // user's stdout with writeln!.
    for file in sources("commands") {
        let text = code(&file);
        assert!(
            !text.contains("writeln!(io.out, \""),
            "{} writes prose itself; use a printer in src/render",
            file.display()
        );
    }
}

/// The top-level modules each file of `src/` refers to as `crate::<module>` (tests and
/// comments aside).
fn module_graph() -> std::collections::BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut graph: std::collections::BTreeMap<String, std::collections::BTreeSet<String>> =
        Default::default();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for file in sources("") {
        let rel = file.strip_prefix(&root).expect("under src");
        let top = rel
            .components()
            .next()
            .map(|c| {
                c.as_os_str()
                    .to_string_lossy()
                    .trim_end_matches(".rs")
                    .to_owned()
            })
            .unwrap_or_default();
        if top == "lib" || top == "main" {
            continue;
        }
        let text = code(&file);
        let text = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (at, _) in text.match_indices("crate::") {
            let name: String = text[at + 7..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() && name != top {
                graph.entry(top.clone()).or_default().insert(name);
            }
        }
    }
    graph
}

#[test]
fn the_module_graph_has_no_cycle() {
    let graph = module_graph();
    assert!(graph.len() > 10, "{graph:?}");
    // Depth-first search with an explicit path: a module met again on the path is a cycle.
    fn visit(
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut std::collections::BTreeSet<String>,
    ) {
        let Some(at) = path.last().cloned() else {
            return;
        };
        for next in graph.get(&at).into_iter().flatten() {
            if let Some(start) = path.iter().position(|m| m == next) {
                panic!("import cycle: {} -> {next}", path[start..].join(" -> "));
            }
            if done.contains(next) {
                continue;
            }
            path.push(next.clone());
            visit(graph, path, done);
            path.pop();
        }
        done.insert(at);
    }
    let mut done = std::collections::BTreeSet::new();
    for module in graph.keys() {
        visit(&graph, &mut vec![module.clone()], &mut done);
    }
}
