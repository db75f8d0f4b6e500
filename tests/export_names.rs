//! `export` with odd instance names: what it writes reads back, declaring every instance once.

use std::path::Path;

use dcs_reconcile::manifest::{Export, export_text, parse};
use dcs_reconcile::model::{Instance, Scope};
use proptest::prelude::*;

fn instance(i: usize, name: &str) -> Instance {
    Instance {
        id: format!("00000000-0000-4000-8000-{i:012x}"),
        name: name.to_owned(),
        status: "RUNNING".to_owned(),
        ..Instance::default()
    }
}

/// Exports `names`, reads the text back, and checks that every instance is declared exactly
/// once, in order, by its id, with its name when that name reads back byte-identical. Returns
/// which instances were declared by name.
fn round_trip(names: &[String]) -> Vec<bool> {
    let instances: Vec<Instance> = names
        .iter()
        .enumerate()
        .map(|(i, n)| instance(i, n))
        .collect();
    let scope = Scope::default();
    let export = Export {
        header: vec!["Exported for a test.".to_owned()],
        project_id: "0123456789abcdef0123456789abcdef",
        region: Some("cn-north-4"),
        endpoint: None,
        scope: &scope,
        instances: instances
            .iter()
            .map(|i| (i, format!("{}, created {}", i.status, i.name)))
            .collect(),
    };
    let text = export_text(&export);
    let back = parse(text.as_bytes(), Path::new("export.yaml"))
        .unwrap_or_else(|e| panic!("{e}\n--- exported:\n{text}"));
    assert_eq!(back.instances.len(), instances.len(), "{text}");
    back.instances
        .iter()
        .zip(&instances)
        .map(|(entry, i)| {
            assert_eq!(entry.id.as_deref(), Some(i.id.as_str()), "{text}");
            match &entry.name {
                Some(name) => {
                    assert_eq!(name.as_bytes(), i.name.as_bytes(), "{text}");
                    true
                }
                None => false,
            }
        })
        .collect()
}

/// Pieces that YAML treats specially, put together at random.
fn odd_name() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just(" ".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("#".to_owned()),
        Just(" #".to_owned()),
        Just(": ".to_owned()),
        Just(":".to_owned()),
        Just("\n".to_owned()),
        Just("\r\n".to_owned()),
        Just("\t".to_owned()),
        Just("\\".to_owned()),
        Just("yes".to_owned()),
        Just("null".to_owned()),
        Just("~".to_owned()),
        Just("1e3".to_owned()),
        Just("0x1F".to_owned()),
        Just("-".to_owned()),
        Just("- ".to_owned()),
        Just("---".to_owned()),
        Just("*".to_owned()),
        Just("&".to_owned()),
        Just("!".to_owned()),
        Just("%".to_owned()),
        Just("@".to_owned()),
        Just("`".to_owned()),
        Just("|".to_owned()),
        Just(">".to_owned()),
        Just("[".to_owned()),
        Just("{".to_owned()),
        Just(",".to_owned()),
        Just("?".to_owned()),
        Just("caf\u{e9}".to_owned()),
        Just("e\u{301}".to_owned()),
        Just("\u{200b}".to_owned()),
        Just("\u{feff}".to_owned()),
        Just("\u{2028}".to_owned()),
        Just("\u{85}".to_owned()),
        Just("\u{1b}".to_owned()),
        Just("数据库".to_owned()),
        Just("orders".to_owned()),
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn export_then_parse_declares_every_instance_once(names in prop::collection::vec(odd_name(), 1..8)) {
        let by_name = round_trip(&names);
        // A plain name is never demoted to an id-only entry.
        for (name, by_name) in names.iter().zip(by_name) {
            if !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
                prop_assert!(by_name, "{name:?} was declared by id only");
            }
        }
    }
}

#[test]
fn names_yaml_would_misread_are_quoted_and_kept_and_odd_ones_go_by_id() {
    let kept: Vec<String> = [
        "yes",
        "null",
        "~",
        "1e3",
        "0x1F",
        "1.10",
        "a: b",
        "a #b",
        "#a",
        "-a",
        "- a",
        "*a",
        "&a",
        "!a",
        "%a",
        "@a",
        "'a",
        "\"a",
        "a'b",
        "---",
        "[a]",
        "{a}",
        "caf\u{e9}",
        "e\u{301}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert!(round_trip(&kept).iter().all(|b| *b), "{kept:?}");
    let odd: Vec<String> = [
        "",
        " ",
        " a",
        "a ",
        "a\nb",
        "a\r\nb",
        "\n",
        "a\u{200b}",
        "a\u{2028}b",
        "\u{feff}",
        "\t",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert!(round_trip(&odd).iter().all(|b| !*b), "{odd:?}");
}

#[test]
fn an_odd_name_is_shown_escaped_on_one_comment_line() {
    let i = instance(0, "a\nb: c\u{2028}");
    let scope = Scope::default();
    let text = export_text(&Export {
        header: Vec::new(),
        project_id: "p",
        region: None,
        endpoint: None,
        scope: &scope,
        instances: vec![(&i, "RUNNING\nnext: line".to_owned())],
    });
    assert_eq!(
        text,
        "project_id: p\ninstances:\n  # RUNNING\\nnext: line\n  # name \"a\\nb: c\\u{2028}\" \
         would not read back the same, so this entry gives only the id\n  \
         - id: 00000000-0000-4000-8000-000000000000\n"
    );
}
