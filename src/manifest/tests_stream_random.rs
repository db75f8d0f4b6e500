//! Seeded campaigns for the fast reading: random documents made of the pieces that break YAML
//! readers, and random manifests, read both ways (`DCS_RECONCILE_YAML_CASES` cases each,
//! 4,000 by default).

use super::tests_stream::agree;
use super::*;

const KEYS: &[&str] = &[
    "name",
    "id",
    "region",
    "a",
    "b",
    "y",
    "n",
    "on",
    "null",
    "true",
    "1",
    "0x1",
    "_x",
    "a.b",
    "a-b",
    "a/b",
    "instances",
    "key",
    "K",
];

const SCALARS: &[&str] = &[
    "",
    "~",
    "null",
    "Null",
    "NULL",
    "true",
    "True",
    "TRUE",
    "false",
    "yes",
    "no",
    "0",
    "00",
    "0123",
    "-0123",
    "0x1f",
    "0x",
    "0x+1",
    "0o17",
    "0o8",
    "0b101",
    "-0x1f",
    "-0b1",
    "+5",
    "-5",
    "+-5",
    "+0x10",
    "1e3",
    "1E-3",
    "1.5",
    "1.",
    ".5",
    "-.5",
    ".inf",
    "-.inf",
    "+.inf",
    ".nan",
    ".NaN",
    "inf",
    "nan",
    "infinity",
    "1_000",
    "18446744073709551615",
    "18446744073709551616",
    "-9223372036854775808",
    "-9223372036854775809",
    "340282366920938463463374607431768211456",
    "abc",
    "a b",
    "a  b",
    "a#b",
    "a #b",
    "a:b",
    "a: b",
    "a:",
    "http://x:80/p?q=1&r",
    "-x",
    "- x",
    "-",
    "--",
    "-1-2",
    "4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192",
    "'q'",
    "'q' #c",
    "'q'#c",
    "'it''s'",
    "''",
    "'a b '",
    "\"dq\"",
    "\"a\\nb\"",
    "\"\"",
    "\"a'b\"",
    "'a\"b'",
    "'a'b",
    "[a]",
    "[]",
    "{}",
    "{a: 1}",
    "&a x",
    "*a",
    "!t x",
    "!!str 1",
    "|",
    ">",
    "%x",
    "@x",
    "`x`",
    "?x",
    "? x",
    ":x",
    "x  ",
    "x #",
    "'unterminated",
    "\"unterminated",
    "a,b",
    "a]",
    "a}",
    "#",
    "# c",
    "=",
    "^ci-[0-9]+$",
    "\\x",
    "a\\b",
];

fn pick<'a>(rng: &mut fastrand::Rng, from: &[&'a str]) -> &'a str {
    from[rng.usize(..from.len())]
}

/// A document of random lines: keys, items, scalars, comments, blank lines, at random
/// indentations (mostly the ones a real document uses).
fn random_document(rng: &mut fastrand::Rng) -> String {
    let mut doc = String::new();
    let lines = rng.usize(1..12);
    for i in 0..lines {
        let indent = if i == 0 {
            0
        } else {
            [0, 0, 2, 2, 4, 4, 6, 1, 3, 8][rng.usize(..10)]
        };
        doc.push_str(&" ".repeat(indent));
        match rng.usize(..10) {
            0..=3 => {
                doc.push_str(pick(rng, KEYS));
                doc.push(':');
                if rng.bool() {
                    doc.push(' ');
                    doc.push_str(pick(rng, SCALARS));
                }
            }
            4..=6 => {
                doc.push('-');
                doc.push_str(&" ".repeat(rng.usize(1..4)));
                if rng.bool() {
                    doc.push_str(pick(rng, KEYS));
                    doc.push(':');
                    if rng.bool() {
                        doc.push(' ');
                    }
                }
                doc.push_str(pick(rng, SCALARS));
            }
            7 => doc.push_str("# comment"),
            8 => {}
            _ => doc.push_str(pick(rng, SCALARS)),
        }
        if rng.usize(..8) == 0 {
            doc.push_str("  # trailing");
        }
        doc.push('\n');
    }
    doc
}

/// A document rendered from a random tree in block style (random indentation width, sequences
/// sometimes at their key's indentation), then sometimes damaged: a line moved in or out, or
/// a random line put in.
fn random_tree_document(rng: &mut fastrand::Rng) -> String {
    fn mapping(rng: &mut fastrand::Rng, out: &mut Vec<String>, indent: usize, depth: usize) {
        for _ in 0..rng.usize(1..4) {
            let key = pick(rng, KEYS);
            let pad = " ".repeat(indent);
            match rng.usize(..6) {
                0 if depth < 3 => {
                    out.push(format!("{pad}{key}:"));
                    let deeper = indent + rng.usize(1..5);
                    mapping(rng, out, deeper, depth + 1);
                }
                1 if depth < 3 => {
                    out.push(format!("{pad}{key}:"));
                    let at = if rng.bool() {
                        indent
                    } else {
                        indent + rng.usize(1..5)
                    };
                    sequence(rng, out, at, depth + 1);
                }
                2 => out.push(format!("{pad}{key}:")),
                _ => out.push(format!("{pad}{key}: {}", pick(rng, SCALARS))),
            }
        }
    }
    fn sequence(rng: &mut fastrand::Rng, out: &mut Vec<String>, indent: usize, depth: usize) {
        for _ in 0..rng.usize(1..4) {
            let pad = " ".repeat(indent);
            let gap = " ".repeat(rng.usize(1..4));
            if depth < 3 && rng.bool() {
                // `- key: value` and the item's other keys under its first one.
                let mut inner = Vec::new();
                let column = indent + 1 + gap.len();
                mapping(rng, &mut inner, column, depth + 1);
                for (i, line) in inner.into_iter().enumerate() {
                    if i == 0 {
                        out.push(format!("{pad}-{gap}{}", &line[column..]));
                    } else {
                        out.push(line);
                    }
                }
            } else {
                out.push(format!("{pad}-{gap}{}", pick(rng, SCALARS)));
            }
        }
    }
    let mut lines = Vec::new();
    mapping(rng, &mut lines, 0, 0);
    if rng.usize(..3) == 0 {
        let at = rng.usize(..lines.len());
        match rng.usize(..3) {
            0 => lines[at].insert(0, ' '),
            1 => {
                if lines[at].starts_with(' ') {
                    lines[at].remove(0);
                }
            }
            _ => {
                let mut other = random_document(rng);
                other.pop();
                lines.insert(at, other);
            }
        }
    }
    if rng.usize(..4) == 0 {
        let at = rng.usize(..=lines.len());
        lines.insert(at, " ".repeat(rng.usize(..6)) + "# comment");
    }
    let mut doc = lines.join("\n");
    doc.push('\n');
    doc
}

/// Cases per campaign; `DCS_RECONCILE_YAML_CASES` raises it for a long run.
fn cases() -> usize {
    std::env::var("DCS_RECONCILE_YAML_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4000)
}

#[test]
fn random_documents_are_read_as_serde_yaml_reads_them_or_left_to_it() {
    let mut rng = fastrand::Rng::with_seed(0x5eed_0001);
    let mut taken = 0usize;
    let total = cases();
    for case in 0..total {
        let doc = if case % 2 == 0 {
            random_document(&mut rng)
        } else {
            random_tree_document(&mut rng)
        };
        if agree(&doc).is_some() {
            taken += 1;
        }
    }
    eprintln!("{taken} of {total} documents taken");
    // The campaign must exercise the fast reading, not only its refusals.
    assert!(
        taken * 10 >= total,
        "only {taken} of {total} documents taken"
    );
}

/// A manifest of random keys and values, mostly well-formed, some not.
fn random_manifest(rng: &mut fastrand::Rng) -> String {
    const NAMES: &[&str] = &[
        "a",
        "b",
        "dcs-1",
        "'dcs-1'",
        "A",
        "0123",
        "1e3",
        "true",
        "~",
        "",
        "'~'",
        "ci-x #c",
        "4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192",
        "4F3A8D2E-92B6-4E1F-9A4C-7D5E6F708192",
        "\"b\"",
        "x y",
        " pad",
        "a: b",
        "[a]",
    ];
    const TOP: &[&str] = &[
        "project_id: 0123456789abcdef0123456789abcdef",
        "project_id: 123",
        "region: cn-north-4",
        "region: ~",
        "endpoint: http://127.0.0.1:8080",
        "scope:\n  name_prefix: ci-",
        "scope:\n  name_prefix:",
        "scope:\n  tags:\n    env: ci\n    team: '1'",
        "scope:\n  name_regex: ^ci-[0-9]+$",
        "guards:\n  max_delete: 5",
        "guards:\n  max_delete: 20%",
        "guards:\n  max_delete: -1",
        "guards:\n  allow_empty: true\n  min_age: 2h",
        "guards:\n  min_age: 7200",
        "guards:\n  idle_for: 7d\n  idle_max_ops: 0.5\n  idle_max_connections: 2",
        "deletion:\n  recycle_bin: true\n  grace: 1d",
        "deletion:\n  recycle_bin: yes",
        "protect:\n  - name: keep-*",
        "password: x",
        "unknown: 1",
    ];
    let mut doc = String::new();
    for _ in 0..rng.usize(0..4) {
        doc.push_str(pick(rng, TOP));
        doc.push('\n');
    }
    doc.push_str("instances:\n");
    let indent = [0, 2, 4][rng.usize(..3)];
    for _ in 0..rng.usize(0..8) {
        let pad = " ".repeat(indent);
        match rng.usize(..4) {
            0 => doc.push_str(&format!("{pad}- id: {}\n", pick(rng, NAMES))),
            1 => doc.push_str(&format!(
                "{pad}- name: {}\n{pad}  id: {}\n",
                pick(rng, NAMES),
                pick(rng, NAMES)
            )),
            _ => doc.push_str(&format!("{pad}- name: {}\n", pick(rng, NAMES))),
        }
    }
    if rng.usize(..4) == 0 {
        doc.push_str(pick(rng, TOP));
        doc.push('\n');
    }
    doc
}

#[test]
fn random_manifests_parse_the_same_with_and_without_the_fast_reading() {
    let mut rng = fastrand::Rng::with_seed(0x5eed_0002);
    let path = Path::new("dcs.yaml");
    let (mut taken, mut valid) = (0usize, 0usize);
    let total = cases();
    for _ in 0..total {
        let doc = random_manifest(&mut rng);
        let fast = parse_with(doc.as_bytes(), path, Reader::Fast);
        let full = parse_with(doc.as_bytes(), path, Reader::Full);
        match (&fast, &full) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{doc}"),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "{doc}"),
            _ => panic!("the readings differ for:\n{doc}\nfast: {fast:?}\nfull: {full:?}"),
        }
        if stream::from_str::<RawManifest>(&doc).is_some() {
            taken += 1;
        }
        valid += usize::from(full.is_ok());
    }
    assert!(
        taken * 10 >= total,
        "only {taken} of {total} manifests taken"
    );
    assert!(
        valid * 10 >= total,
        "only {valid} of {total} manifests valid"
    );
}
