use super::limits::too_deep;
use super::*;
use crate::model::ProtectRule;

fn parse_str(text: &str) -> Result<Manifest> {
    parse(text.as_bytes(), Path::new("dcs.yaml"))
}

fn error_of(text: &str) -> String {
    match parse_str(text) {
        Ok(m) => panic!("expected an error, got {m:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn deep_flow_nesting_is_refused_before_parsing_but_quotes_and_comments_do_not_count() {
    let deep = format!("instances: {}{}\n", "[".repeat(65), "]".repeat(65));
    assert_eq!(too_deep(&deep), Some((1, 76)));
    let e = error_of(&deep);
    assert!(e.starts_with("dcs.yaml:1:76: more than 64 levels"), "{e}");
    let fine = format!(
        "instances: # {}\n  - name: '{}'\n  - name: \"{}\\\"[\"\n",
        "[".repeat(100),
        "[".repeat(100),
        "{".repeat(100)
    );
    assert_eq!(too_deep(&fine), None);
    assert_eq!(
        too_deep(&format!("{}{}", "[".repeat(64), "]".repeat(64))),
        None
    );
}

#[test]
fn parses_the_documented_example() -> Result<()> {
    let m = parse_str(
        "project_id: 7d80ae32f57b499eb8781f9a9f57c538\n\
         region: cn-north-4\n\
         endpoint: http://127.0.0.1:8080\n\
         instances:\n\
         \x20 - name: dcs-8b1c-000\n\
         \x20 - id: 9d78d0f4-a110-4bcd-8ca3-5aec414163c1\n\
         \x20 - name: orders-cache\n\
         \x20   id: aabe73af-1db8-4401-b39c-c56996023989   # both\n",
    )?;
    assert_eq!(
        m.project_id.as_deref(),
        Some("7d80ae32f57b499eb8781f9a9f57c538")
    );
    assert_eq!(m.region.as_deref(), Some("cn-north-4"));
    assert_eq!(m.endpoint.as_deref(), Some("http://127.0.0.1:8080"));
    assert_eq!(m.instances.len(), 3);
    assert_eq!(m.instances[0].name.as_deref(), Some("dcs-8b1c-000"));
    assert_eq!(m.instances[0].id, None);
    assert_eq!(m.instances[1].index, 1);
    assert_eq!(
        m.instances[2].id.as_deref(),
        Some("aabe73af-1db8-4401-b39c-c56996023989")
    );
    assert_eq!(m.sha256.len(), 64);
    Ok(())
}

#[test]
fn empty_list_is_allowed_but_missing_key_is_not() -> Result<()> {
    assert!(parse_str("instances: []\n")?.instances.is_empty());
    assert_eq!(
        error_of("project_id: abc\n"),
        "dcs.yaml: missing `instances:`; list the instances that should exist (an empty list is `instances: []`)"
    );
    Ok(())
}

#[test]
fn empty_files_are_refused() {
    for text in ["", "\n\n", "# only a comment\n", "---\n"] {
        assert!(
            error_of(text).starts_with("dcs.yaml: the file is empty"),
            "{text:?}"
        );
    }
}

#[test]
fn unknown_top_level_key_names_line_and_column() {
    let e = error_of("instances: []\nregon: cn-north-4\n");
    assert!(e.starts_with("dcs.yaml:2:1: "), "{e}");
    assert!(e.contains("unknown field `regon`"), "{e}");
    assert!(!e.contains(" at line "), "{e}");
}

#[test]
fn unknown_entry_key_names_its_line() {
    let e = error_of("instances:\n  - name: a\n  - nmae: b\n");
    assert!(e.starts_with("dcs.yaml:3:"), "{e}");
    assert!(e.contains("unknown key `nmae`"), "{e}");
}

#[test]
fn entry_without_name_or_id_is_refused() {
    let e = error_of("instances:\n  - name: a\n  - {}\n");
    assert!(e.starts_with("dcs.yaml:3:"), "{e}");
    assert!(e.contains("needs `name`, `id` or both"), "{e}");
}

#[test]
fn duplicate_ids_and_names_are_refused() {
    let e = error_of("instances:\n  - id: x\n  - name: a\n  - id: x\n");
    assert!(e.contains("duplicate entry: id `x`"), "{e}");
    assert!(
        e.starts_with("dcs.yaml:4:") || e.starts_with("dcs.yaml:5:"),
        "{e}"
    );
    let e = error_of("instances:\n  - id: Abc-1\n  - id: aBC-1\n");
    assert!(
        e.contains("duplicate entry: id `aBC-1` is already declared by instances[0]"),
        "{e}"
    );
    let e = error_of("instances:\n  - name: a\n  - name: a\n");
    assert!(e.contains("duplicate entry: name `a`"), "{e}");
    // The same name once alone and once pinned to an id is not a duplicate.
    assert!(parse_str("instances:\n  - name: a\n  - name: a\n    id: x\n").is_ok());
}

#[test]
fn wrong_types_are_refused() {
    let e = error_of("instances:\n  - name: [a, b]\n");
    assert!(e.starts_with("dcs.yaml:2:"), "{e}");
    assert!(e.contains("invalid type"), "{e}");
    let e = error_of("instances: cache-1\n");
    assert!(e.contains("a list of instances"), "{e}");
    let e = error_of("instances: []\nproject_id: [1]\n");
    assert!(e.starts_with("dcs.yaml:2:"), "{e}");
    let e = error_of("- name: a\n");
    assert!(e.contains("invalid type"), "{e}");
}

#[test]
fn empty_and_padded_values_are_refused() {
    assert!(error_of("instances:\n  - name: ''\n").contains("`name` is empty"));
    assert!(error_of("instances:\n  - id: ' x'\n").contains("leading or trailing spaces"));
    assert!(error_of("project_id: ''\ninstances: []\n").contains("`project_id` is empty"));
    let e = error_of("instances:\n  - name: a\n    name: b\n");
    assert!(e.contains("duplicate") || e.contains("given twice"), "{e}");
}

#[test]
fn syntax_errors_name_line_and_column() {
    let e = error_of("instances:\n  - name: a\n - name: b\n");
    assert!(e.starts_with("dcs.yaml:3:"), "{e}");
    let e = error_of("instances: [\n");
    assert!(e.starts_with("dcs.yaml:"), "{e}");
}

#[test]
fn secrets_are_refused_with_a_pointer_to_the_environment() {
    for key in [
        "ak",
        "sk",
        "secret_key",
        "token",
        "password",
        "security_token",
    ] {
        for value in [
            "hunter2",
            "~",
            "null",
            "''",
            "{a: hunter2}",
            "[hunter2]",
            "",
        ] {
            let e = error_of(&format!("instances: []\n{key}: {value}\n"));
            assert!(e.contains("HUAWEICLOUD_SDK_SK"), "{key}: {value}: {e}");
            assert!(e.contains("credentials do not belong"), "{key}: {e}");
            assert!(!e.contains("hunter2"), "{key}: {e}");
            assert!(e.starts_with("dcs.yaml:2:"), "{key}: {e}");
        }
    }
    // Upper case, and inside an entry or a nested section, too.
    for text in [
        "instances: []\nSK: hunter2\n",
        "instances:\n  - name: a\n    password: hunter2\n",
        "instances: []\nguards:\n  token: ~\n",
    ] {
        let e = error_of(text);
        assert!(e.contains("credentials do not belong"), "{text}: {e}");
        assert!(!e.contains("hunter2"), "{text}: {e}");
    }
}

#[test]
fn unknown_keys_do_not_suggest_secret_keys() {
    let e = error_of("instances: []\nregoin: cn-north-4\n");
    assert!(e.contains("unknown field `regoin`"), "{e}");
    assert!(e.contains("`region`"), "{e}");
    for key in SECRET_KEYS {
        assert!(!e.contains(&format!("`{key}`")), "{key}: {e}");
    }
}

#[test]
fn invalid_utf8_is_refused_with_its_line() {
    let e = match parse(b"instances:\n  - name: \xff\n", Path::new("dcs.yaml")) {
        Ok(_) => String::new(),
        Err(e) => e.to_string(),
    };
    assert_eq!(e, "dcs.yaml:2: the file is not valid UTF-8");
}

#[test]
fn several_documents_are_refused() {
    let e = error_of("instances: []\n---\ninstances: []\n");
    assert!(e.contains("more than one document"), "{e}");
}

#[test]
fn hash_is_of_the_exact_bytes() -> Result<()> {
    let a = parse_str("instances: []\n")?;
    let b = parse_str("instances: []\n# comment\n")?;
    assert_ne!(a.sha256, b.sha256);
    assert_eq!(a.sha256, crate::util::sha256_hex(b"instances: []\n"));
    Ok(())
}

#[test]
fn invisible_characters_are_refused_in_names_prefixes_globs_and_ids_with_the_value_escaped() {
    for (text, location, shown) in [
        (
            "instances:\n  - name: \"caf\\u200be\"\n",
            "dcs.yaml:2:11: instances[0].name: `name` ",
            "\"caf\\u{200b}e\"",
        ),
        (
            "instances:\n  - name: \"\\ufeffa\"\n",
            "dcs.yaml:2:",
            "\"\\u{feff}a\"",
        ),
        (
            "instances:\n  - name: \"a\\u202eb\"\n",
            "dcs.yaml:2:",
            "\"a\\u{202e}b\"",
        ),
        (
            "instances:\n  - name: \"a\\eb\"\n",
            "dcs.yaml:2:",
            "\"a\\u{1b}b\"",
        ),
        (
            "instances:\n  - name: \"a\\0b\"\n",
            "dcs.yaml:2:",
            "\"a\\u{0}b\"",
        ),
        (
            "instances:\n  - name: \"a\\nb\"\n",
            "dcs.yaml:2:",
            "\"a\\nb\"",
        ),
        (
            "instances:\n  - name: \"a\\u2028b\"\n",
            "dcs.yaml:2:",
            "\"a\\u{2028}b\"",
        ),
        (
            "instances:\n  - name: a\n    id: \"x\\u200by\"\n",
            "dcs.yaml:3:9: instances[0].id: `id` ",
            "\"x\\u{200b}y\"",
        ),
        (
            "scope:\n  name_prefix: \"ci\\u200b-\"\ninstances: []\n",
            "dcs.yaml:2:16: scope.name_prefix: ",
            "\"ci\\u{200b}-\"",
        ),
        (
            "protect:\n  - name: \"prod\\u200b-*\"\ninstances: []\n",
            "dcs.yaml:2:11: protect[0].name: ",
            "\"prod\\u{200b}-*\"",
        ),
        (
            "protect:\n  - id: \"x\\u00ady\"\ninstances: []\n",
            "dcs.yaml:2:9: protect[0].id: ",
            "\"x\\u{ad}y\"",
        ),
        (
            "scope:\n  enterprise_project_id: \"0\\u200b\"\ninstances: []\n",
            "dcs.yaml:2:26: ",
            "\"0\\u{200b}\"",
        ),
        (
            "scope:\n  tags: {\"k\\u200b\": v}\ninstances: []\n",
            "dcs.yaml:2:10: ",
            "\"k\\u{200b}\"",
        ),
        (
            "scope:\n  name_regex: \"^a\\u200b\"\ninstances: []\n",
            "dcs.yaml:2:15: ",
            "\"^a\\u{200b}\"",
        ),
    ] {
        let e = error_of(text);
        assert!(e.starts_with(location), "{text}: {e}");
        assert!(e.contains(&format!("{shown} holds U+")), "{text}: {e}");
        assert!(e.contains("invisible or control character"), "{text}: {e}");
        assert!(
            !e.contains('\u{200b}') && !e.contains('\n'),
            "{text}: {e:?}"
        );
    }
    // Visible non-ASCII is fine and kept verbatim (not normalised).
    let m = parse_str("instances:\n  - name: \"cafe\\u0301\"\n  - name: caf\u{e9}\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(m.instances[0].name.as_deref(), Some("cafe\u{301}"));
    assert_eq!(m.instances[1].name.as_deref(), Some("caf\u{e9}"));
}

#[test]
fn values_compared_as_text_keep_their_source_text() -> Result<()> {
    for v in [
        "1.10", "True", "0x1F", "1e3", "+1", ".5", "0o17", "1.0", "007", "yes", "-0",
    ] {
        let m = parse_str(&format!(
            "scope:\n  name_prefix: {v}\n  enterprise_project_id: {v}\n  tags: {{{v}: {v}}}\n\
             protect:\n  - tag: {{keep: {v}}}\n  - id: {v}\n  - name: {v}\n\
             instances:\n  - id: {v}\n    name: {v}\n"
        ))?;
        let s = &m.rules.scope;
        assert_eq!(s.name_prefix.as_deref(), Some(v));
        assert_eq!(s.enterprise_project_id.as_deref(), Some(v));
        assert_eq!(s.tags, vec![(v.to_owned(), v.to_owned())]);
        assert_eq!(
            m.rules.protect[0],
            ProtectRule::Tag(vec![("keep".to_owned(), v.to_owned())])
        );
        assert_eq!(m.rules.protect[1], ProtectRule::Id(v.to_owned()));
        assert_eq!(m.rules.protect[2].describe(), format!("name: '{v}'"));
        assert_eq!(m.instances[0].id.as_deref(), Some(v));
        assert_eq!(m.instances[0].name.as_deref(), Some(v));
    }
    // A regex given as a number is its digits as written, not YAML's value.
    let m = parse_str("scope:\n  name_regex: 0x1F\ninstances: []\n")?;
    assert_eq!(
        m.rules
            .scope
            .name_regex
            .map(|r| r.source().to_owned())
            .as_deref(),
        Some("0x1F")
    );
    // Quoted, the YAML keywords are plain text.
    let m = parse_str(
        "protect:\n  - tag: {keep: 'null'}\ninstances:\n  - name: 'null'\n  - name: '~'\n",
    )?;
    assert_eq!(m.instances[0].name.as_deref(), Some("null"));
    assert_eq!(m.instances[1].name.as_deref(), Some("~"));
    assert_eq!(
        m.rules.protect[0],
        ProtectRule::Tag(vec![("keep".to_owned(), "null".to_owned())])
    );
    Ok(())
}

#[test]
fn null_means_no_value_everywhere_text_is_expected() {
    let positions: [(&str, &str); 11] = [
        ("project_id: V\ninstances: []\n", "`project_id`"),
        ("region: V\ninstances: []\n", "`region`"),
        ("endpoint: V\ninstances: []\n", "`endpoint`"),
        ("instances:\n  - name: V\n", "`name`"),
        ("instances:\n  - id: V\n", "`id`"),
        ("scope:\n  name_prefix: V\ninstances: []\n", "`name_prefix`"),
        ("scope:\n  name_regex: V\ninstances: []\n", "`name_regex`"),
        (
            "scope:\n  enterprise_project_id: V\ninstances: []\n",
            "`enterprise_project_id`",
        ),
        ("scope:\n  tags: {k: V}\ninstances: []\n", "a tag value"),
        ("protect:\n  - id: V\ninstances: []\n", "`id`"),
        ("protect:\n  - name: V\ninstances: []\n", "`name`"),
    ];
    for (template, subject) in positions {
        for v in ["~", "null", "Null", "NULL", ""] {
            let text = template.replace('V', v);
            let e = error_of(&text);
            assert!(
                e.contains(&format!("no value given for {subject}")),
                "{text}: {e}"
            );
            assert!(e.starts_with("dcs.yaml:"), "{text}: {e}");
        }
    }
    let e = error_of("protect:\n  - tag: {~: x}\ninstances: []\n");
    assert!(e.contains("no value given for a tag key"), "{e}");
}

#[test]
fn a_scope_regex_that_matches_the_empty_string_is_refused() -> Result<()> {
    for regex in [
        "''", "'|'", "'()'", "'.*'", "'^'", "'$'", "'a*'", "'^|x'", "'(?:)'", "'x?'",
    ] {
        let e = error_of(&format!("scope:\n  name_regex: {regex}\ninstances: []\n"));
        assert!(
            e.starts_with("dcs.yaml:2:15: scope.name_regex: "),
            "{regex}: {e}"
        );
        assert!(e.contains("would select every instance"), "{regex}: {e}");
    }
    for regex in ["'^ci-'", "'.'", "'a+'", "'^[0-9]+$'"] {
        parse_str(&format!("scope:\n  name_regex: {regex}\ninstances: []\n"))?;
    }
    Ok(())
}
