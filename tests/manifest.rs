use crate::support::*;

/// Each bad manifest gives one line naming the file (and line/column where there is one),
/// exits 1, and sends no request at all.
#[test]
fn bad_manifests_give_one_clear_line_and_send_nothing() {
    let p = Project::new(sample());
    let head = format!("project_id: {PID}\nendpoint: {}\n", p.emulator.url());
    // (what, file, location, message fragment)
    let cases: Vec<(&str, String, &str, &str)> = vec![
        ("empty file", String::new(), "dcs.yaml", "the file is empty"),
        (
            "comments only",
            "# nothing\n".to_owned(),
            "dcs.yaml",
            "the file is empty",
        ),
        (
            "unknown key",
            format!("{head}instances: []\nregoin: x\n"),
            "dcs.yaml:4:1",
            "unknown field `regoin`",
        ),
        (
            "unknown entry key",
            format!("{head}instances:\n  - nmae: a\n"),
            "dcs.yaml:4:5",
            "instances[0]: unknown key `nmae` in an instance entry",
        ),
        (
            "duplicate id",
            format!("{head}instances:\n  - id: x1\n  - id: x1\n"),
            "dcs.yaml:5:5",
            "duplicate entry: id `x1` is already declared by instances[0]",
        ),
        (
            "duplicate name",
            format!("{head}instances:\n  - name: a\n  - name: a\n"),
            "dcs.yaml:5:5",
            "duplicate entry: name `a` is already declared by instances[0]",
        ),
        (
            "neither key",
            format!("{head}instances:\n  - {{}}\n"),
            "dcs.yaml:4:5",
            "an instance entry needs `name`, `id` or both",
        ),
        (
            "wrong type",
            format!("{head}instances:\n  - name: [a]\n"),
            "dcs.yaml:4:11",
            "invalid type: sequence, expected a string",
        ),
        (
            "a list, not a mapping",
            "- a\n- b\n".to_owned(),
            "dcs.yaml:1:1",
            "invalid type: sequence, expected a mapping with `instances:`",
        ),
        (
            "instances not a list",
            format!("{head}instances: a\n"),
            "dcs.yaml:3:12",
            "expected a list of instances",
        ),
        (
            "syntax error",
            format!("{head}instances:\n  - name: a\n - name: b\n"),
            "dcs.yaml:5:",
            "",
        ),
        (
            "no instances key",
            head.clone(),
            "dcs.yaml",
            "missing `instances:`",
        ),
        (
            "a secret",
            format!("{head}instances: []\nsk: abc\n"),
            "dcs.yaml:4:1",
            "credentials do not belong in the manifest",
        ),
        (
            "tab indentation",
            format!("{head}instances:\n\t- name: a\n"),
            "dcs.yaml:4:",
            "",
        ),
    ];
    for (what, text, location, fragment) in cases {
        p.write("dcs.yaml", &text);
        for cmd in ["validate", "plan", "apply"] {
            let run = p.run(&[cmd, "--auto-approve"][..if cmd == "apply" { 2 } else { 1 }]);
            assert_eq!(run.code, 1, "{what} / {cmd}: {run:?}");
            assert!(run.stdout.is_empty(), "{what} / {cmd}: {}", run.stdout);
            let first = run.stderr.lines().next().unwrap_or_default();
            assert!(
                first.starts_with(&format!("error: {location}")),
                "{what} / {cmd}: {}",
                run.stderr
            );
            assert!(first.contains(fragment), "{what} / {cmd}: {}", run.stderr);
            assert_eq!(
                run.stderr.lines().count(),
                1,
                "{what} / {cmd}: one line: {}",
                run.stderr
            );
        }
    }
    assert!(
        p.requests().is_empty(),
        "no request may be sent for a bad manifest"
    );
}

#[test]
fn a_missing_manifest_says_how_to_name_one() {
    let p = Project::new(sample());
    let run = p.run(&["plan"]).expect(1);
    assert!(
        run.stderr
            .starts_with("error: dcs.yaml: no such file (use -f"),
        "{}",
        run.stderr
    );
    let run = p.run(&["plan", "-f", "other.yaml"]).expect(1);
    assert!(
        run.stderr.starts_with("error: other.yaml: no such file"),
        "{}",
        run.stderr
    );
    assert!(p.requests().is_empty());
}

#[test]
fn invalid_utf8_and_binary_garbage_are_refused() {
    let p = Project::new(sample());
    let path = p.dir.path().join("dcs.yaml");
    std::fs::write(&path, b"instances:\n  - name: \xff\xfe\n").unwrap_or_else(|e| panic!("{e}"));
    let run = p.run(&["validate"]).expect(1);
    assert_eq!(
        run.stderr,
        "error: dcs.yaml:2: the file is not valid UTF-8\n"
    );
    std::fs::write(&path, [0u8, 1, 2, 3, 0x7f, b'\n']).unwrap_or_else(|e| panic!("{e}"));
    let run = p.run(&["validate"]).expect(1);
    assert!(run.stderr.starts_with("error: dcs.yaml"), "{}", run.stderr);
    assert!(p.requests().is_empty());
}

/// Runs the binary in `dir` like [`run_in`], with `stdin` piped in (written from a thread, so a
/// reader that stops early does not block the test).
fn run_with_stdin(dir: &std::path::Path, args: &[&str], stdin: Vec<u8>) -> Run {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(bin())
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("HOME", dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin()));
    let mut input = child.stdin.take().unwrap_or_else(|| panic!("no stdin"));
    let writer = std::thread::spawn(move || {
        // The binary may stop reading (and close the pipe) once it has seen enough.
        let _ = input.write_all(&stdin);
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"));
    let _ = writer.join();
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The names in one category of a JSON plan, sorted.
fn plan_names(p: &Project, category: &str) -> Vec<String> {
    let run = p.run(&["plan", "--format", "json"]).expect(0);
    let doc: serde_json::Value =
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout));
    let mut names: Vec<String> = doc[category]
        .as_array()
        .unwrap_or_else(|| panic!("no `{category}` in {doc}"))
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_owned())
        .collect();
    names.sort();
    names
}

fn inst(name: &str, tags: &[(&str, &str)]) -> EmuInstance {
    let hex: String = name.bytes().map(|b| format!("{b:02x}")).collect();
    let hex = format!("{hex:0<32}");
    let id = format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    );
    EmuInstance::new(&id, name)
        .created("2024-01-01T00:00:00.000Z")
        .tagged(tags)
}

#[test]
fn invisible_characters_in_names_and_ids_are_refused_and_shown_escaped() {
    let p = Project::new(sample());
    for (body, shown) in [
        (
            "instances:\n  - name: \"caf\\u200Be\"\n",
            r#""caf\u{200b}e""#,
        ),
        (
            "instances:\n  - name: \"\\uFEFFcache\"\n",
            r#""\u{feff}cache""#,
        ),
        ("instances:\n  - name: \"a\\u202Eb\"\n", r#""a\u{202e}b""#),
        ("instances:\n  - name: \"a\\eb\"\n", r#""a\u{1b}b""#),
        ("instances:\n  - name: \"a\\nb\"\n", r#""a\nb""#),
        ("instances:\n  - id: \"x\\u200By\"\n", r#""x\u{200b}y""#),
        (
            "scope:\n  name_prefix: \"ci\\u200B\"\ninstances: []\n",
            r#""ci\u{200b}""#,
        ),
        (
            "protect:\n  - name: \"prod-\\u200B*\"\ninstances: []\n",
            r#""prod-\u{200b}*""#,
        ),
        (
            "protect:\n  - id: \"x\\u00ADy\"\ninstances: []\n",
            r#""x\u{ad}y""#,
        ),
    ] {
        p.manifest(body);
        for cmd in ["validate", "plan"] {
            let run = p.run(&[cmd]).expect(1);
            assert!(
                run.stderr.starts_with("error: dcs.yaml:"),
                "{body}: {}",
                run.stderr
            );
            assert!(run.stderr.contains(shown), "{body}: {}", run.stderr);
            assert!(
                run.stderr.contains("invisible or control character"),
                "{}",
                run.stderr
            );
            assert_eq!(run.stderr.lines().count(), 1, "{body}: {}", run.stderr);
        }
    }
    assert!(p.requests().is_empty());
}

#[test]
fn yaml_typing_does_not_change_what_a_protect_or_scope_tag_matches() {
    let p = Project::new(vec![
        inst("keep-a", &[("keep", "1.10")]),
        inst("keep-b", &[("keep", "0x1F")]),
        inst("keep-c", &[("keep", "True")]),
        inst("retyped", &[("keep", "1.1")]),
        inst("thirty-one", &[("keep", "31")]),
        inst("other", &[("keep", "true")]),
    ]);
    p.manifest(
        "protect:\n  - tag: {keep: 1.10}\n  - tag: {keep: 0x1F}\n  - tag: {keep: True}\n\
         instances: []\nguards:\n  allow_empty: true\n",
    );
    assert_eq!(plan_names(&p, "protected"), ["keep-a", "keep-b", "keep-c"]);
    assert_eq!(plan_names(&p, "delete"), ["other", "retyped", "thirty-one"]);
    // In scope, too: `1e3` means the text 1e3, not 1000.
    let p = Project::new(vec![
        inst("in", &[("v", "1e3")]),
        inst("out", &[("v", "1000")]),
    ]);
    p.manifest("scope:\n  tags: {v: 1e3}\ninstances: []\nguards:\n  allow_empty: true\n");
    assert_eq!(plan_names(&p, "delete"), ["in"]);
}

#[test]
fn null_is_no_value_for_every_text_value() {
    let p = Project::new(sample());
    for body in [
        "scope:\n  name_prefix: null\ninstances: []\n",
        "scope:\n  name_regex: ~\ninstances: []\n",
        "protect:\n  - name: null\ninstances: []\n",
        "protect:\n  - id: ~\ninstances: []\n",
        "protect:\n  - tag: {keep: null}\ninstances: []\n",
        "instances:\n  - name: null\n",
        "instances:\n  - id:\n",
    ] {
        p.manifest(body);
        let run = p.run(&["validate"]).expect(1);
        assert!(
            run.stderr.contains("no value given for "),
            "{body}: {}",
            run.stderr
        );
        assert_eq!(run.stderr.lines().count(), 1, "{body}: {}", run.stderr);
    }
    // Quoted, `null` is a name like any other.
    p.manifest("instances:\n  - name: 'null'\n");
    p.run(&["validate"]).expect(0);
}

#[test]
fn a_scope_regex_that_selects_everything_is_refused() {
    let p = Project::new(sample());
    for regex in ["''", "'|'", "'()'", "'.*'", "'^'", "'x*'"] {
        p.manifest(&format!("scope:\n  name_regex: {regex}\ninstances: []\n"));
        for cmd in ["validate", "plan"] {
            let run = p.run(&[cmd]).expect(1);
            assert!(
                run.stderr
                    .starts_with("error: dcs.yaml:4:15: scope.name_regex: "),
                "{regex}: {}",
                run.stderr
            );
            assert!(
                run.stderr.contains("would select every instance"),
                "{regex}: {}",
                run.stderr
            );
        }
    }
    assert!(p.requests().is_empty());
}

#[test]
fn the_manifest_can_come_from_stdin_with_the_same_checks_and_cap() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let run = run_with_stdin(
        dir.path(),
        &["validate", "-f", "-"],
        b"instances:\n  - name: a\n".to_vec(),
    )
    .expect(0);
    assert!(run.stdout.contains("1 instance"), "{}", run.stdout);
    let run = run_with_stdin(
        dir.path(),
        &["validate", "-f", "-"],
        b"instances:\n  - nmae: a\n".to_vec(),
    )
    .expect(1);
    assert!(
        run.stderr.starts_with("error: <stdin>:2:5: "),
        "{}",
        run.stderr
    );
    let run = run_with_stdin(dir.path(), &["validate", "-f", "-"], Vec::new()).expect(1);
    assert!(
        run.stderr.starts_with("error: <stdin>: the file is empty"),
        "{}",
        run.stderr
    );
    let mut big = b"instances:\n".to_vec();
    big.resize((16 << 20) + 10, b' ');
    let run = run_with_stdin(dir.path(), &["validate", "-f", "-"], big).expect(1);
    assert_eq!(
        run.stderr,
        "error: <stdin>: more than 16777216 bytes; manifests larger than that are refused\n"
    );
    // Exactly at the limit is still read (and then parsed).
    let mut full = b"instances: []\n".to_vec();
    full.resize(16 << 20, b' ');
    run_with_stdin(dir.path(), &["validate", "-f", "-"], full).expect(0);
}

#[test]
fn deletion_idle_guards_and_ces_endpoint_validate() {
    let p = Project::new(sample());
    p.manifest(
        "ces_endpoint: https://ces.cn-north-4.myhuaweicloud.com\n\
         deletion:\n  recycle_bin: true\n  require_recoverable: true\n  grace: 24h\n\
         guards:\n  idle_for: 7d\n  idle_max_ops: 0.5\n  idle_max_connections: 0\n\
         instances: []\n",
    );
    p.run(&["validate"]).expect(0);
    for (body, message) in [
        (
            "deletion: {require_recoverable: true}\ninstances: []\n",
            "error: dcs.yaml: `deletion.require_recoverable: true` needs `deletion.recycle_bin: true`",
        ),
        (
            "deletion: {grace: 30m}\ninstances: []\n",
            "error: dcs.yaml:3:19: deletion.grace: invalid grace `30m`: at least 1h",
        ),
        (
            "guards: {idle_for: 200d}\ninstances: []\n",
            "error: dcs.yaml:3:20: guards.idle_for: invalid idle_for `200d`: at most 180d",
        ),
        (
            "guards: {idle_max_ops: 1}\ninstances: []\n",
            "error: dcs.yaml: `guards.idle_max_ops` and `guards.idle_max_connections` need",
        ),
        (
            "ces_endpoint: http://ces.example.com\ninstances: []\n",
            "error: dcs.yaml:3:15: ces_endpoint: `ces_endpoint`: refusing plain http://",
        ),
    ] {
        p.manifest(body);
        let run = p.run(&["validate"]).expect(1);
        assert!(run.stderr.starts_with(message), "{body}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{body}: {}", run.stderr);
    }
    assert!(p.requests().is_empty());
}

/// A manifest for several regions validates; each of its errors exits 1 with one line naming
/// the file and the line, and sends nothing.
#[test]
fn a_regions_manifest_validates_and_its_errors_name_the_line() {
    let p = Project::new(sample());
    let url = p.emulator.url();
    let good = format!(
        "regions:\n  - region: cn-north-4\n  - region: ap-southeast-1\n    project_id: {PID}\n    \
         endpoint: {url}\nscope: {{name_prefix: ci-}}\nguards: {{allow_empty: true}}\n\
         instances:\n  - name: shared-cache\n  - name: eu-only\n    region: ap-southeast-1\n  \
         - name: eu-only\n    region: cn-north-4\n"
    );
    p.write("fleet.yaml", &good);
    let run = p.run(&["validate", "-f", "fleet.yaml"]).expect(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    let head = "regions:\n  - region: cn-north-4\n  - region: ap-southeast-1\n";
    for (text, location, message) in [
        (
            format!("{head}region: cn-north-4\ninstances: []\n"),
            "fleet.yaml:4:9: region: ",
            "`region:` cannot be given with `regions:`",
        ),
        (
            format!("instances: []\nendpoint: {url}\n{head}"),
            "fleet.yaml:2:11: endpoint: ",
            "`endpoint:` cannot be given with `regions:`",
        ),
        (
            "instances: []\nregions: []\n".to_owned(),
            "fleet.yaml:2:",
            "`regions:` is empty",
        ),
        (
            format!("{head}  - region: cn-north-4\ninstances: []\n"),
            "fleet.yaml:4:5: regions[2]: ",
            "region `cn-north-4` is listed twice",
        ),
        (
            format!("{head}  - project_id: {PID}\ninstances: []\n"),
            "fleet.yaml:4:5: regions[2]: ",
            "a `regions:` item needs `region:`",
        ),
        (
            format!("{head}    zone: a\ninstances: []\n"),
            "fleet.yaml:3:5: regions[1]: ",
            "unknown key `zone` in a `regions:` item",
        ),
        (
            format!("{head}instances:\n  - name: a\n    region: eu-west-101\n"),
            "fleet.yaml:6:13: instances[0].region: ",
            "region `eu-west-101` is not listed in `regions:` (`cn-north-4`, `ap-southeast-1`)",
        ),
        (
            "region: cn-north-4\ninstances:\n  - {name: a, region: cn-north-4}\n".to_owned(),
            "fleet.yaml:3:",
            "the manifest has no `regions:`; for the manifest's one region use `region:` at the top",
        ),
        (
            format!("{head}instances:\n  - name: a\n  - name: a\n    region: cn-north-4\n"),
            "fleet.yaml:6:5: instances[1]: ",
            "duplicate entry: name `a` is already declared by instances[0], which has no \
             `region:` and so belongs to every region, `cn-north-4` included",
        ),
    ] {
        p.write("fleet.yaml", &text);
        let run = p.run(&["validate", "-f", "fleet.yaml"]).expect(1);
        assert!(run.stdout.is_empty(), "{text}: {}", run.stdout);
        assert!(
            run.stderr.starts_with(&format!("error: {location}")),
            "{text}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(message), "{text}: {}", run.stderr);
        assert_eq!(run.stderr.lines().count(), 1, "{text}: {}", run.stderr);
    }
    assert!(p.requests().is_empty());
}
