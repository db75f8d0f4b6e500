//! Tests of `regions:`, an entry's `region:` and [`Manifest::targets`].

use super::*;

fn parse_str(text: &str) -> Result<Manifest> {
    parse(text.as_bytes(), Path::new("dcs.yaml"))
}

fn error_of(text: &str) -> String {
    match parse_str(text) {
        Ok(m) => panic!("expected an error, got {m:?}"),
        Err(e) => e.to_string(),
    }
}

/// The brief's example: two regions, one entry for both and one for the second only.
const TWO_REGIONS: &str = "\
regions:
  - region: cn-north-4
  - region: ap-southeast-1
    project_id: 0123456789abcdef0123456789abcdef
    endpoint: http://127.0.0.1:8081
    ces_endpoint: http://127.0.0.1:8082
scope: {name_prefix: ci-}
guards: {allow_empty: true}
instances:
  - name: shared-cache
  - name: eu-only
    region: ap-southeast-1
  - id: 4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192
    region: cn-north-4
";

fn names(m: &Manifest) -> Vec<(usize, Option<&str>, Option<&str>)> {
    m.instances
        .iter()
        .map(|e| (e.index, e.name.as_deref(), e.id.as_deref()))
        .collect()
}

#[test]
fn regions_parse_and_each_target_has_its_region_and_entries() -> Result<()> {
    let m = parse_str(TWO_REGIONS)?;
    assert_eq!(
        m.regions,
        vec![
            RegionTarget {
                region: "cn-north-4".to_owned(),
                project_id: None,
                endpoint: None,
                ces_endpoint: None,
            },
            RegionTarget {
                region: "ap-southeast-1".to_owned(),
                project_id: Some("0123456789abcdef0123456789abcdef".to_owned()),
                endpoint: Some("http://127.0.0.1:8081".to_owned()),
                ces_endpoint: Some("http://127.0.0.1:8082".to_owned()),
            },
        ]
    );
    assert_eq!((m.region.as_deref(), m.project_id.as_deref()), (None, None));
    assert_eq!(m.instances.len(), 3);
    assert_eq!(m.instances[0].region, None);
    assert_eq!(m.instances[1].region.as_deref(), Some("ap-southeast-1"));

    let targets = m.targets();
    assert_eq!(targets, m.clone().into_targets());
    assert_eq!(targets.len(), 2);
    let (a, b) = (&targets[0], &targets[1]);
    assert_eq!(a.region.as_deref(), Some("cn-north-4"));
    assert_eq!(
        (a.project_id.as_deref(), a.endpoint.as_deref()),
        (None, None)
    );
    assert_eq!(a.ces_endpoint, None);
    assert_eq!(
        names(a),
        vec![
            (0, Some("shared-cache"), None),
            (2, None, Some("4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192")),
        ]
    );
    assert_eq!(b.region.as_deref(), Some("ap-southeast-1"));
    assert_eq!(
        b.project_id.as_deref(),
        Some("0123456789abcdef0123456789abcdef")
    );
    assert_eq!(b.endpoint.as_deref(), Some("http://127.0.0.1:8081"));
    assert_eq!(b.ces_endpoint.as_deref(), Some("http://127.0.0.1:8082"));
    // Entries keep their index, so messages still say `instances[1]`.
    assert_eq!(
        names(b),
        vec![(0, Some("shared-cache"), None), (1, Some("eu-only"), None)]
    );
    assert_eq!(b.instances[1].label(), "instances[1] (name: eu-only)");
    for t in &targets {
        assert!(t.regions.is_empty());
        assert_eq!(
            (&t.path, &t.sha256, &t.text, &t.rules),
            (&m.path, &m.sha256, &m.text, &m.rules)
        );
    }
    Ok(())
}

#[test]
fn without_regions_the_manifest_is_its_one_target() -> Result<()> {
    let m = parse_str("region: cn-north-4\ninstances:\n  - name: a\n")?;
    assert!(m.regions.is_empty());
    assert_eq!(m.instances[0].region, None);
    assert_eq!(m.targets(), vec![m.clone()]);
    assert_eq!(m.clone().into_targets(), vec![m.clone()]);
    assert!(Manifest::empty(Path::new("x")).regions.is_empty());
    // Consuming it copies nothing: the one target holds the very same buffers.
    let (entries, text) = (m.instances.as_ptr(), m.text.as_ptr());
    let targets = m.into_targets();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].instances.as_ptr(), entries);
    assert_eq!(targets[0].text.as_ptr(), text);
    Ok(())
}

#[test]
fn regions_and_a_top_level_target_key_are_refused_at_the_key() {
    for key in ["region", "project_id", "endpoint", "ces_endpoint"] {
        let value = if key.ends_with("endpoint") {
            "https://x.example.com"
        } else {
            "abc"
        };
        for (text, line) in [
            (
                format!("regions:\n  - region: a\n{key}: {value}\ninstances: []\n"),
                3,
            ),
            (
                format!("instances: []\n{key}: {value}\nregions: [{{region: a}}]\n"),
                2,
            ),
        ] {
            let e = error_of(&text);
            assert!(e.starts_with(&format!("dcs.yaml:{line}:")), "{e}");
            assert!(
                e.contains(&format!("`{key}:` cannot be given with `regions:`")),
                "{e}"
            );
        }
    }
}

#[test]
fn a_bad_regions_list_is_refused_with_its_line() {
    for (text, at, message) in [
        (
            "instances: []\nregions: []\n",
            "dcs.yaml:2:",
            "`regions:` is empty",
        ),
        (
            "instances: []\nregions:\n  - region: a\n  - region: b\n  - region: a\n",
            "dcs.yaml:5:",
            "region `a` is listed twice in `regions:` (regions[0] is `a`",
        ),
        (
            "instances: []\nregions:\n  - region: cn-north-4\n  - region: CN-North-4\n",
            "dcs.yaml:4:",
            "listed twice",
        ),
        (
            "instances: []\nregions:\n  - region: a\n  - project_id: abc\n",
            "dcs.yaml:4:",
            "a `regions:` item needs `region:`",
        ),
        (
            "instances: []\nregions:\n  - region: a\n    zone: z\n",
            "dcs.yaml:3:",
            "unknown key `zone` in a `regions:` item; expected `region`, `project_id`, \
             `endpoint` or `ces_endpoint`",
        ),
        (
            "instances: []\nregions:\n  - region: a\n    region: b\n",
            "dcs.yaml:",
            "`region` is given twice",
        ),
        (
            "instances: []\nregions: cn-north-4\n",
            "dcs.yaml:2:",
            "a list of regions",
        ),
        (
            "instances: []\nregions: [cn-north-4]\n",
            "dcs.yaml:2:",
            "a mapping with `region:`",
        ),
        // Nothing at all reads as an empty list.
        (
            "instances: []\nregions:\n",
            "dcs.yaml:2:",
            "`regions:` is empty",
        ),
    ] {
        let e = error_of(text);
        assert!(e.starts_with(at), "{text}: {e}");
        assert!(e.contains(message), "{text}: {e}");
    }
}

#[test]
fn region_items_are_checked_as_the_top_level_keys_are() -> Result<()> {
    // Text as written: `1.10` stays `1.10`, a number stays its digits.
    let m = parse_str("instances: []\nregions:\n  - {region: 1.10, project_id: 0123}\n")?;
    assert_eq!(m.regions[0].region, "1.10");
    assert_eq!(m.regions[0].project_id.as_deref(), Some("0123"));
    for (text, message) in [
        ("  - region: ~\n", "no value given for `region`"),
        ("  - region: ' a'\n", "leading or trailing spaces"),
        ("  - region: \"a\\u200b\"\n", "invisible"),
        ("  - {region: a, project_id: ''}\n", "`project_id` is empty"),
        (
            "  - {region: a, endpoint: null}\n",
            "no value given for `endpoint`",
        ),
        ("  - {region: a, endpoint: 'ftp://x'}\n", "ftp"),
        ("  - {region: a, endpoint: 'http://example.com'}\n", "http"),
        (
            "  - {region: a, ces_endpoint: 'http://example.com'}\n",
            "http",
        ),
        ("  - {region: a, endpoint: [x]}\n", "invalid type"),
    ] {
        let e = error_of(&format!("instances: []\nregions:\n{text}"));
        assert!(e.starts_with("dcs.yaml:3:"), "{text}: {e}");
        assert!(e.contains(message), "{text}: {e}");
    }
    // An endpoint with a password is refused without repeating it.
    let e =
        error_of("instances: []\nregions:\n  - {region: a, endpoint: 'https://u:hunter2@x.com'}\n");
    assert!(e.contains("user name or password"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    // A secret in an item gets the pointer to the environment, not the list of keys.
    let e = error_of("instances: []\nregions:\n  - {region: a, sk: hunter2}\n");
    assert!(e.contains("credentials do not belong"), "{e}");
    assert!(!e.contains("hunter2"), "{e}");
    Ok(())
}

#[test]
fn an_entry_region_must_be_listed() {
    let e = error_of(
        "regions:\n  - region: a\n  - region: b\ninstances:\n  - name: x\n  - name: y\n    region: c\n",
    );
    assert!(e.starts_with("dcs.yaml:7:13: instances[1].region: "), "{e}");
    assert!(
        e.contains("region `c` is not listed in `regions:` (`a`, `b`)"),
        "{e}"
    );
    // Regions are compared as written.
    let e = error_of("regions: [{region: a}]\ninstances:\n  - {name: y, region: A}\n");
    assert!(e.starts_with("dcs.yaml:3:"), "{e}");
    assert!(e.contains("region `A` is not listed"), "{e}");
    // `instances:` before `regions:` is found the same way.
    let e = error_of("instances:\n  - {name: y, region: c}\nregions: [{region: a}]\n");
    assert!(e.starts_with("dcs.yaml:2:"), "{e}");
    assert!(e.contains("region `c` is not listed"), "{e}");
}

#[test]
fn an_entry_region_needs_regions() {
    let e = error_of("region: a\ninstances:\n  - name: x\n  - name: y\n    region: a\n");
    assert!(e.starts_with("dcs.yaml:5:13: instances[1].region: "), "{e}");
    assert!(e.contains("the manifest has no `regions:`"), "{e}");
    assert!(e.contains("use `region:` at the top"), "{e}");
    assert!(e.contains("or list the regions under `regions:`"), "{e}");
}

#[test]
fn an_entry_region_is_checked_as_text() {
    let head = "regions: [{region: a}]\ninstances:\n";
    for (entry, message) in [
        ("  - {name: x, region: ~}\n", "no value given for `region`"),
        ("  - {name: x, region: ''}\n", "`region` is empty"),
        ("  - {name: x, region: \"a\\u200b\"}\n", "invisible"),
        ("  - {name: x, region: a, region: a}\n", "given twice"),
        (
            "  - {name: x, zone: a}\n",
            "expected `name`, `id` or `region`",
        ),
        ("  - {region: a}\n", "needs `name`, `id` or both"),
    ] {
        let e = error_of(&format!("{head}{entry}"));
        assert!(e.starts_with("dcs.yaml:3:"), "{entry}: {e}");
        assert!(e.contains(message), "{entry}: {e}");
    }
}

#[test]
fn duplicates_are_entries_that_overlap_in_a_region() -> Result<()> {
    let head = "regions: [{region: a}, {region: b}]\ninstances:\n";
    // The same name or id in two regions is fine.
    let m = parse_str(&format!(
        "{head}  - {{name: x, region: a}}\n  - {{name: x, region: b}}\n  - {{id: I, region: a}}\n  - {{id: i, region: b}}\n"
    ))?;
    assert_eq!(m.instances.len(), 4);
    let targets = m.targets();
    assert_eq!(targets[0].instances.len(), 2);
    assert_eq!(targets[1].instances[0].index, 1);
    for (entries, message) in [
        (
            "  - {name: x, region: a}\n  - {name: x, region: a}\n",
            "duplicate entry: name `x` is already declared by instances[0] for region `a`",
        ),
        (
            "  - {name: x}\n  - {name: x, region: b}\n",
            "duplicate entry: name `x` is already declared by instances[0], which has no \
             `region:` and so belongs to every region, `b` included",
        ),
        (
            "  - {name: x, region: b}\n  - {name: x}\n",
            "duplicate entry: name `x` is already declared by instances[0] for region `b`, \
             and an entry without `region:` belongs to every region",
        ),
        (
            "  - {id: abc, region: a}\n  - {id: ABC, region: a}\n",
            "duplicate entry: id `ABC` is already declared by instances[0] for region `a` \
             (ids are compared without regard to case)",
        ),
        (
            "  - {id: abc}\n  - {id: ABC, region: a}\n",
            "id `ABC` is already declared by instances[0], which has no `region:`",
        ),
        (
            "  - {name: x}\n  - {name: x}\n",
            "name `x` is already declared by instances[0]",
        ),
    ] {
        let e = error_of(&format!("{head}{entries}"));
        assert!(e.starts_with("dcs.yaml:4:"), "{entries}: {e}");
        assert!(e.contains(message), "{entries}: {e}");
    }
    Ok(())
}

/// A hasher under which every key has the same hash, to drive [`Seen`] down its collision
/// path.
#[derive(Default)]
struct Colliding;

impl std::hash::Hasher for Colliding {
    fn finish(&self) -> u64 {
        7
    }
    fn write(&mut self, _: &[u8]) {}
}

/// Feeds `entries` to a [`Seen`] as the `instances:` reader does, returning for each the
/// earlier index it repeats. A repeat is not kept (a refused manifest stops there), so the
/// indices count the entries kept.
fn repeats<S: std::hash::BuildHasher>(
    mut seen: seen::Seen<S>,
    of: seen::KeyOf,
    entries: &[(&str, Option<&str>)],
) -> Vec<Option<usize>> {
    let mut earlier: Vec<Entry> = Vec::new();
    let mut out = Vec::new();
    for &(key, region) in entries {
        let entry = Entry {
            index: earlier.len(),
            id: (of == seen::KeyOf::Id).then(|| key.to_owned()),
            name: (of == seen::KeyOf::Name).then(|| key.to_owned()),
            region: region.map(str::to_owned),
        };
        let folded = match of {
            seen::KeyOf::Id => seen::fold_id(key),
            seen::KeyOf::Name => std::borrow::Cow::Borrowed(key),
        };
        let found = seen.insert(&folded, region, earlier.len(), &earlier);
        out.push(found.as_ref().map(|(first, _)| *first));
        if found.is_none() {
            earlier.push(entry);
        }
    }
    out
}

/// Entries are recorded by the hash of their key, and a hash taken by another key falls back
/// to the text: with every hash equal the answers are the same as with real hashes.
#[test]
fn seen_answers_the_same_when_every_hash_collides() {
    let names: &[(&str, Option<&str>)] = &[
        ("a", None),
        ("b", None),
        ("c", None),
        ("b", None),
        ("c", Some("r1")),
        ("d", Some("r1")),
        ("d", Some("r2")),
        ("d", None),
        ("e", Some("r1")),
        ("e", Some("r1")),
        ("A", None),
        ("a", None),
    ];
    let expected = vec![
        None,
        None,
        None,
        Some(1),
        Some(2),
        None,
        None,
        Some(3),
        None,
        Some(5),
        None,
        Some(0),
    ];
    let of = seen::KeyOf::Name;
    assert_eq!(repeats(seen::Seen::new(of), of, names), expected);
    let colliding = std::hash::BuildHasherDefault::<Colliding>::default();
    assert_eq!(
        repeats(seen::Seen::with_hasher(of, colliding), of, names),
        expected
    );

    // Ids are compared without regard to case, ASCII or not.
    let ids: &[(&str, Option<&str>)] = &[
        ("abc", None),
        ("ÄBC", None),
        ("x", None),
        ("ABC", None),
        ("äbc", None),
        ("X", Some("r1")),
    ];
    let expected = vec![None, None, None, Some(0), Some(1), Some(2)];
    let of = seen::KeyOf::Id;
    assert_eq!(repeats(seen::Seen::new(of), of, ids), expected);
    let colliding = std::hash::BuildHasherDefault::<Colliding>::default();
    assert_eq!(
        repeats(seen::Seen::with_hasher(of, colliding), of, ids),
        expected
    );
}

/// A repeat far down a long list is found, and names the first entry.
#[test]
fn a_repeat_in_a_long_list_names_the_first_entry() {
    let mut text = String::from("instances:\n");
    for i in 0..5000 {
        text.push_str(&format!("  - name: cache-{i}\n    id: ID-{i}\n"));
        text.push_str(&format!("  - name: alone-{i}\n"));
    }
    assert_eq!(
        parse_str(&text).map(|m| m.instances.len()).ok(),
        Some(10_000)
    );
    let e = error_of(&format!("{text}  - id: id-1234\n"));
    assert!(
        e.starts_with("dcs.yaml:15002:5: ")
            && e.contains("duplicate entry: id `id-1234` is already declared by instances[2468]"),
        "{e}"
    );
    let e = error_of(&format!("{text}  - name: alone-4321\n"));
    assert!(
        e.starts_with("dcs.yaml:15002:5: ")
            && e.contains(
                "duplicate entry: name `alone-4321` is already declared by instances[8643]"
            ),
        "{e}"
    );
}

/// An entry's keys are read as text, like any key: a key that is not a string is refused
/// with the reader's own words, an unknown one by name.
#[test]
fn entry_keys_that_are_not_known_strings_are_refused() {
    let e = error_of("instances:\n  - ? [a]\n    : b\n");
    assert!(e.starts_with("dcs.yaml:2:"), "{e}");
    assert!(
        e.contains("invalid type: sequence, expected a string"),
        "{e}"
    );
    let e = error_of("instances:\n  - 1: a\n");
    assert!(e.contains("unknown key `1` in an instance entry"), "{e}");
    let e = error_of("instances:\n  - name: a\n    Name: b\n");
    assert!(e.contains("unknown key `Name` in an instance entry"), "{e}");
}
