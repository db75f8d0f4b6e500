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
