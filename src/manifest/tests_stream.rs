//! The fast reading against serde_yaml: whatever the fast reading accepts, serde_yaml reads
//! the same way (the same values, typed the same way), and manifests parse to the same result
//! or the same error either way.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::block::{Event, Scanner};
use super::*;

/// Any YAML value, as `deserialize_any` gives it: what each reading says the document is.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tree {
    Unit,
    None,
    Bool(bool),
    U64(u64),
    I64(i64),
    U128(u128),
    I128(i128),
    /// The bits, so that NaN equals NaN.
    F64(u64),
    Str(String),
    Seq(Vec<Tree>),
    Map(Vec<(Tree, Tree)>),
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Tree, D::Error> {
        d.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("anything")
    }
    fn visit_unit<E: de::Error>(self) -> std::result::Result<Tree, E> {
        Ok(Tree::Unit)
    }
    fn visit_none<E: de::Error>(self) -> std::result::Result<Tree, E> {
        Ok(Tree::None)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Tree, E> {
        Ok(Tree::Bool(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Tree, E> {
        Ok(Tree::U64(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Tree, E> {
        Ok(Tree::I64(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> std::result::Result<Tree, E> {
        Ok(Tree::U128(v))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> std::result::Result<Tree, E> {
        Ok(Tree::I128(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Tree, E> {
        Ok(Tree::F64(v.to_bits()))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Tree, E> {
        Ok(Tree::Str(v.to_owned()))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Tree, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Tree::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Tree, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Tree::Map(entries))
    }
}

/// The fast reading's tree, if it takes the document; then serde_yaml must agree.
pub(super) fn agree(doc: &str) -> Option<Tree> {
    let fast = stream::from_str::<Tree>(doc)?;
    match serde_yaml::from_str::<Tree>(doc) {
        Ok(full) => assert_eq!(fast, full, "the readings differ for:\n{doc}"),
        Err(e) => panic!("the fast reading took a document serde_yaml refuses ({e}):\n{doc}"),
    }
    Some(fast)
}

fn s(v: &str) -> Tree {
    Tree::Str(v.to_owned())
}

fn map(entries: &[(&str, Tree)]) -> Tree {
    Tree::Map(entries.iter().map(|(k, v)| (s(k), v.clone())).collect())
}

#[test]
fn the_usual_manifest_shapes_are_read_fast_and_as_serde_yaml_reads_them() {
    let doc = "# a manifest\nproject_id: 0123456789abcdef0123456789abcdef\n\
               endpoint: https://dcs.cn-north-4.myhuaweicloud.com   # the region's\n\
               instances:\n  - name: a-1\n    id: 4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192\n\n\
               \x20 # a comment\n  -   name: 'b #1'\n      region: \"eu-west-101\"\n\
               guards:\n  max_delete: 5\n  allow_empty: true\n  min_age: 2h\n\
               scope:\n  tags:\n    env: ci\n";
    let tree = agree(doc).expect("the fast reading takes it");
    let instances = Tree::Seq(vec![
        map(&[
            ("name", s("a-1")),
            ("id", s("4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192")),
        ]),
        map(&[("name", s("b #1")), ("region", s("eu-west-101"))]),
    ]);
    assert_eq!(
        tree,
        map(&[
            ("project_id", s("0123456789abcdef0123456789abcdef")),
            ("endpoint", s("https://dcs.cn-north-4.myhuaweicloud.com")),
            ("instances", instances),
            (
                "guards",
                map(&[
                    ("max_delete", Tree::U64(5)),
                    ("allow_empty", Tree::Bool(true)),
                    ("min_age", s("2h")),
                ])
            ),
            ("scope", map(&[("tags", map(&[("env", s("ci"))]))])),
        ])
    );
    // A sequence at its key's indentation, and a key with nothing after it.
    let doc = "instances:\n- name: a\n- b\nprotect:\nscope:\n";
    assert_eq!(
        agree(doc).expect("taken"),
        map(&[
            (
                "instances",
                Tree::Seq(vec![map(&[("name", s("a"))]), s("b")])
            ),
            ("protect", Tree::Unit),
            ("scope", Tree::Unit),
        ])
    );
}

#[test]
fn plain_scalars_are_typed_as_serde_yaml_types_them() {
    let values = [
        ("~", Tree::Unit),
        ("null", Tree::Unit),
        ("NULL", Tree::Unit),
        ("Null", Tree::Unit),
        ("nULL", s("nULL")),
        ("true", Tree::Bool(true)),
        ("False", Tree::Bool(false)),
        ("yes", s("yes")),
        ("on", s("on")),
        ("0", Tree::U64(0)),
        ("0123", s("0123")),
        ("0x1f", Tree::U64(31)),
        ("0o17", Tree::U64(15)),
        ("0b101", Tree::U64(5)),
        ("-0x1f", Tree::I64(-31)),
        ("+5", Tree::U64(5)),
        ("-5", Tree::I64(-5)),
        (
            "18446744073709551616",
            Tree::U128(18_446_744_073_709_551_616),
        ),
        ("1e3", Tree::F64(1000f64.to_bits())),
        (".5", Tree::F64(0.5f64.to_bits())),
        (".inf", Tree::F64(f64::INFINITY.to_bits())),
        ("inf", s("inf")),
        ("1_000", s("1_000")),
        ("4f3a8d2e-92b6", s("4f3a8d2e-92b6")),
        ("a#b", s("a#b")),
        ("http://x:8080/y", s("http://x:8080/y")),
        ("-x", s("-x")),
        ("'12'", s("12")),
        ("\"true\"", s("true")),
        ("''", s("")),
    ];
    for (written, expected) in values {
        let doc = format!("key: {written}\n");
        let tree = agree(&doc).unwrap_or_else(|| panic!("not taken: {doc}"));
        assert_eq!(tree, map(&[("key", expected)]), "{doc}");
    }
}

#[test]
fn what_is_outside_the_subset_is_left_to_serde_yaml() {
    for doc in [
        "key: [a]\n",
        "key: {a: 1}\n",
        "key: &a x\nother: *a\n",
        "key: !!str 5\n",
        "key: |\n  text\n",
        "key: >\n  text\n",
        "key: 'it''s'\n",
        "key: \"a\\tb\"\n",
        "key: 'unterminated\n",
        "key: a\n  continued\n",
        "key:\tx\n",
        "key: x\r\n",
        "key: caf\u{e9}\n",
        "---\nkey: x\n",
        "key: x\n---\nkey: y\n",
        "%YAML 1.2\n---\nkey: x\n",
        "? key\n: x\n",
        "'key': x\n",
        "key: a: b\n",
        "key: a:\n",
        "key: - a\n",
        "key:\n  - - a\n",
        "key:\n  -\n    a: 1\n",
        "  key: x\n",
        "- a\n",
        "key: x\n  other: y\n",
        "key:\n  - a: 1\n   b: 2\n",
        "a:\n  b: 1\n c: 2\n",
        "key: @x\n",
        "key: `x`\n",
        "key: %x\n",
        "key: 'a'b\n",
        "key: 'a'# not a comment\n",
        "<<: x\n",
        "",
        "# only a comment\n",
    ] {
        assert_eq!(stream::from_str::<Tree>(doc), None, "taken: {doc:?}");
    }
}

#[test]
fn the_events_of_nested_blocks() {
    let mut scanner = Scanner::new("a:\n  - b: 1\n    c:\n  - d\ne: f\n").expect("ascii");
    let mut events = Vec::new();
    while let Some(event) = scanner.next_event().expect("in the subset") {
        events.push(event);
    }
    use Event::*;
    assert_eq!(
        events,
        vec![
            MappingStart,
            Scalar("a", true),
            SequenceStart,
            MappingStart,
            Scalar("b", true),
            Scalar("1", true),
            Scalar("c", true),
            Scalar("", true),
            MappingEnd,
            Scalar("d", true),
            SequenceEnd,
            Scalar("e", true),
            Scalar("f", true),
            MappingEnd,
        ]
    );
}

#[test]
fn a_large_generated_manifest_is_read_fast() {
    let mut doc = String::from("project_id: 0123456789abcdef0123456789abcdef\ninstances:\n");
    for i in 0..2000 {
        doc.push_str(&format!("  - name: dcs-bench-{i:06}\n"));
    }
    assert!(stream::from_str::<RawManifest>(&doc).is_some());
    let m = parse_with(doc.as_bytes(), Path::new("m.yaml"), Reader::Fast).expect("valid");
    assert_eq!(
        m,
        parse_with(doc.as_bytes(), Path::new("m.yaml"), Reader::Full).expect("valid")
    );
    assert_eq!(m.instances.len(), 2000);
}

#[test]
fn the_fuzz_corpus_and_the_examples_parse_the_same_with_and_without_the_fast_reading() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        "fuzz/corpus/manifest",
        "examples/manifests",
        "examples/kubernetes",
    ] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
            if path.is_file() && (yaml || dir.starts_with("fuzz")) {
                files.push(path);
            }
        }
    }
    assert!(files.len() > 20, "{files:?}");
    let mut taken = 0usize;
    for path in &files {
        let bytes = std::fs::read(path).expect("readable");
        let fast = parse_with(&bytes, path, Reader::Fast);
        let full = parse_with(&bytes, path, Reader::Full);
        match (&fast, &full) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", path.display()),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{}", path.display()),
            _ => panic!("{}: fast {fast:?}, full {full:?}", path.display()),
        }
        if let Ok(text) = std::str::from_utf8(&bytes)
            && let Some(tree) = stream::from_str::<Tree>(text)
        {
            taken += 1;
            assert_eq!(
                Some(tree),
                serde_yaml::from_str::<Tree>(text).ok(),
                "{}",
                path.display()
            );
        }
    }
    assert!(taken > 0, "no file of the corpus was read fast");
}
