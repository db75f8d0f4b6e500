//! `dcs-reconcile schema` stays true to the parser: the examples validate against it, a
//! manifest with an unknown key or a wrong type is refused by both, every key of the schema
//! is a key `validate` accepts, and every key the parser names is in the schema.
//!
//! The validator here implements exactly the keywords the schema uses and fails on any other,
//! so a keyword added to the schema cannot be silently ignored. CI also validates the example
//! manifests with check-jsonschema (`.ci/run`), a full draft 2020-12 validator.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::support::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn schema() -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_in(dir.path(), &["schema"], &[]).expect(0);
    let schema: Value = serde_json::from_str(&run.stdout).expect("schema is JSON");
    assert_eq!(
        schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
        "draft 2020-12"
    );
    schema
}

/// YAML text as the JSON value a YAML language server sees.
fn yaml(text: &str) -> Value {
    let v: serde_yaml::Value = serde_yaml::from_str(text).expect("YAML");
    serde_json::to_value(v).expect("YAML as JSON")
}

/// Validates `v` against `s` (`root` resolves `$ref`); the errors, each with its JSON path.
fn check(root: &Value, s: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(obj) = s.as_object() else {
        if s == &Value::Bool(false) {
            errors.push(format!("{at}: not allowed"));
        }
        return;
    };
    let mut fail = |m: String| errors.push(format!("{at}: {m}"));
    let mut sub: Vec<(String, Value, Value)> = Vec::new();
    for (k, kw) in obj {
        match k.as_str() {
            "$schema" | "$id" | "title" | "description" | "$defs" => {}
            "$ref" => {
                let name = kw
                    .as_str()
                    .and_then(|r| r.strip_prefix("#/$defs/"))
                    .expect("local $ref");
                sub.push((at.to_owned(), root["$defs"][name].clone(), v.clone()));
            }
            "type" => {
                let types: Vec<&str> = match kw {
                    Value::String(t) => vec![t.as_str()],
                    Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
                    _ => panic!("type {kw}"),
                };
                let ok = types.iter().any(|t| match *t {
                    "object" => v.is_object(),
                    "array" => v.is_array(),
                    "string" => v.is_string(),
                    "boolean" => v.is_boolean(),
                    "number" => v.is_number(),
                    "integer" => v.is_i64() || v.is_u64(),
                    other => panic!("type {other}"),
                });
                if !ok {
                    fail(format!("{v} is not of type {kw}"));
                }
            }
            "const" => {
                if v != kw {
                    fail(format!("{v} is not {kw}"));
                }
            }
            "minimum" => {
                if let (Some(n), Some(min)) = (v.as_f64(), kw.as_f64())
                    && n < min
                {
                    fail(format!("{v} is less than {kw}"));
                }
            }
            "minLength" => {
                if let (Some(t), Some(min)) = (v.as_str(), kw.as_u64())
                    && (t.chars().count() as u64) < min
                {
                    fail(format!("{v} is shorter than {kw}"));
                }
            }
            "pattern" => {
                if let Some(t) = v.as_str() {
                    let re = regex::Regex::new(kw.as_str().expect("pattern")).expect("regex");
                    if !re.is_match(t) {
                        fail(format!("{v} does not match {kw}"));
                    }
                }
            }
            "required" => {
                if let Some(o) = v.as_object() {
                    for r in kw.as_array().expect("required") {
                        if !o.contains_key(r.as_str().expect("key")) {
                            fail(format!("{r} is required"));
                        }
                    }
                }
            }
            "minProperties" | "maxProperties" => {
                if let Some(o) = v.as_object() {
                    let n = kw.as_u64().expect("count") as usize;
                    if (k == "minProperties" && o.len() < n)
                        || (k == "maxProperties" && o.len() > n)
                    {
                        fail(format!("{} properties, {k} {n}", o.len()));
                    }
                }
            }
            "minItems" => {
                if let (Some(a), Some(min)) = (v.as_array(), kw.as_u64())
                    && (a.len() as u64) < min
                {
                    fail(format!("{} items, minItems {min}", a.len()));
                }
            }
            "dependentRequired" => {
                if let Some(o) = v.as_object() {
                    for (key, needs) in kw.as_object().expect("dependentRequired") {
                        for need in needs.as_array().expect("list") {
                            if o.contains_key(key) && !o.contains_key(need.as_str().expect("key")) {
                                fail(format!("{key} needs {need}"));
                            }
                        }
                    }
                }
            }
            "properties" | "additionalProperties" | "propertyNames" => {
                let Some(o) = v.as_object() else { continue };
                let props = obj.get("properties").and_then(Value::as_object);
                for (key, value) in o {
                    let path = format!("{at}.{key}");
                    match k.as_str() {
                        "properties" => {
                            if let Some(ps) = kw.as_object().and_then(|p| p.get(key)) {
                                sub.push((path, ps.clone(), value.clone()));
                            }
                        }
                        "additionalProperties" => {
                            if !props.is_some_and(|p| p.contains_key(key)) {
                                sub.push((path, kw.clone(), value.clone()));
                            }
                        }
                        _ => sub.push((path, kw.clone(), Value::String(key.clone()))),
                    }
                }
            }
            "items" => {
                if let Some(a) = v.as_array() {
                    for (i, item) in a.iter().enumerate() {
                        sub.push((format!("{at}[{i}]"), kw.clone(), item.clone()));
                    }
                }
            }
            "anyOf" | "oneOf" => {
                let passing = kw
                    .as_array()
                    .expect("list")
                    .iter()
                    .filter(|alt| {
                        let mut e = Vec::new();
                        check(root, alt, v, at, &mut e);
                        e.is_empty()
                    })
                    .count();
                if passing == 0 || (k == "oneOf" && passing > 1) {
                    fail(format!("{v}: {passing} of the {k} alternatives match"));
                }
            }
            other => panic!("the test validator does not know the keyword `{other}`"),
        }
    }
    for (path, s, v) in sub {
        check(root, &s, &v, &path, errors);
    }
}

fn errors(schema: &Value, text: &str) -> Vec<String> {
    let mut e = Vec::new();
    check(schema, schema, &yaml(text), "$", &mut e);
    e
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The fenced ```yaml blocks of a Markdown file that are manifests (they have `instances:`).
fn yaml_blocks(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut block: Option<String> = None;
    for line in markdown.lines() {
        match (&mut block, line.trim_end()) {
            (None, "```yaml") => block = Some(String::new()),
            (Some(b), "```") => {
                if b.lines().any(|l| l.starts_with("instances:")) {
                    out.push(b.clone());
                }
                block = None;
            }
            (Some(b), l) => {
                b.push_str(l);
                b.push('\n');
            }
            (None, _) => {}
        }
    }
    out
}

/// The manifest `demo` prints (indented by four spaces after "The manifest, …:").
fn demo_manifest() -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let run = run_in(dir.path(), &["demo"], &[]).expect(0);
    let mut out = String::new();
    let mut inside = false;
    for line in run.stdout.lines() {
        if line.starts_with("The manifest, ") {
            inside = true;
        } else if inside && line.starts_with("== ") {
            break;
        } else if inside && let Some(l) = line.strip_prefix("    ") {
            out.push_str(l);
            out.push('\n');
        }
    }
    assert!(out.contains("instances:"), "{}", run.stdout);
    out
}

/// Whether `validate` accepts `text`; the error line when it does not.
fn validate(text: &str) -> Result<(), String> {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("dcs.yaml"), text).expect("write");
    let run = run_in(dir.path(), &["validate"], &[]);
    match run.code {
        0 => Ok(()),
        1 => Err(run.stderr),
        other => panic!("validate exited {other}: {run:?}"),
    }
}

#[test]
fn every_example_manifest_validates_against_the_schema() {
    let schema = schema();
    let mut manifests: Vec<(String, String)> = Vec::new();
    let dir = root().join("examples/manifests");
    for e in std::fs::read_dir(&dir).expect("examples/manifests") {
        let path = e.expect("entry").path();
        if path.extension().is_some_and(|x| x == "yaml") {
            manifests.push((path.display().to_string(), read(&path)));
        }
    }
    for (i, block) in yaml_blocks(&read(&root().join("README.md")))
        .into_iter()
        .enumerate()
    {
        manifests.push((format!("README.md yaml block {i}"), block));
    }
    for (i, block) in yaml_blocks(&read(&root().join("docs/manifest.md")))
        .into_iter()
        .enumerate()
    {
        manifests.push((format!("docs/manifest.md yaml block {i}"), block));
    }
    manifests.push(("the demo's manifest".to_owned(), demo_manifest()));
    assert!(manifests.len() >= 7, "{manifests:?}");
    for (name, text) in &manifests {
        let e = errors(&schema, text);
        assert!(
            e.is_empty(),
            "{name} does not match the schema: {e:?}\n{text}"
        );
        assert_eq!(validate(text), Ok(()), "{name}");
    }
}

#[test]
fn unknown_keys_and_wrong_types_are_refused_by_both() {
    let schema = schema();
    for bad in [
        "instances: []\nregoin: cn-north-4\n",
        "instances: [{name: a, size: 2}]\n",
        "instances: []\nsk: x\n",
        "instances: []\nguards: {max_deletes: 3}\n",
        "instances: []\nscope: {prefix: ci-}\n",
        "instances: []\nprotect: [{label: x}]\n",
        "instances: []\ndeletion: {recycle: true}\n",
        "instances: {name: a}\n",
        "instances: [a]\n",
        "instances: [{name: [a]}]\n",
        "instances: []\nguards: {allow_empty: \"yes\"}\n",
        "instances: []\nguards: {max_delete: -1}\n",
        "instances: []\nguards: {max_delete: \"120%\"}\n",
        "instances: []\nguards: {min_age: 7200}\n",
        "instances: []\nguards: {idle_for: 7d, idle_max_connections: 1.5}\n",
        "instances: []\nguards: {idle_max_ops: 5}\n",
        "instances: []\nscope: {}\n",
        "instances: []\nscope: {tags: {}}\n",
        "instances: []\nprotect: [{name: a, id: b}]\n",
        "instances: []\nregion:\n",
        "instances: [{name: ' a'}]\n",
        "region: cn-north-4\n",
        "- name: a\n",
        "instances: []\nregions: []\n",
        "instances: []\nregions: [{project_id: abc}]\n",
        "instances: []\nregions: [{region: a, zone: b}]\n",
        "instances: []\nregions: [{region: a, endpoint: [x]}]\n",
        "instances: []\nregions: [cn-north-4]\n",
        "instances: []\nregion: a\nregions: [{region: b}]\n",
        "instances: []\nproject_id: abc\nregions: [{region: b}]\n",
        "instances: []\nendpoint: 'https://x.example.com'\nregions: [{region: b}]\n",
        "instances: []\nces_endpoint: 'https://x.example.com'\nregions: [{region: b}]\n",
        "instances: [{name: a, region: b}]\n",
        "region: a\ninstances: [{name: a, region: a}]\n",
        "regions: [{region: a}]\ninstances: [{name: a, region: [a]}]\n",
    ] {
        let e = errors(&schema, bad);
        assert!(!e.is_empty(), "the schema accepts {bad:?}");
        assert!(validate(bad).is_err(), "validate accepts {bad:?}");
    }
}

/// Every object of the schema with its path of keys from the manifest's root, and whether a
/// list item sits in between (for building a manifest that reaches it).
/// A path of keys from the manifest's root; `true` where a list item sits in between.
type KeyPath = Vec<(String, bool)>;

/// Every object of the schema: its path and its properties.
type Objects = Vec<(KeyPath, Map<String, Value>)>;

fn objects(schema: &Value) -> Objects {
    fn walk(root: &Value, s: &Value, path: KeyPath, out: &mut Objects) {
        let s = match s.get("$ref").and_then(Value::as_str) {
            Some(r) => &root["$defs"][r.trim_start_matches("#/$defs/")],
            None => s,
        };
        if let Some(items) = s.get("items") {
            let mut p = path.clone();
            if let Some(last) = p.last_mut() {
                last.1 = true;
            }
            walk(root, items, p, out);
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            out.push((path.clone(), props.clone()));
            for (k, v) in props {
                let mut p = path.clone();
                p.push((k.clone(), false));
                walk(root, v, p, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(schema, schema, Vec::new(), &mut out);
    out
}

/// A manifest holding `{key}: VALUE` at `path` (`instances: []` added at the root).
fn manifest_at(path: &[(String, bool)], inner: &str) -> String {
    let mut value = inner.to_owned();
    for (key, list) in path.iter().rev() {
        value = if *list {
            format!("{{{key}: [{value}]}}")
        } else {
            format!("{{{key}: {value}}}")
        };
    }
    let value = value
        .strip_prefix('{')
        .and_then(|v| v.strip_suffix('}'))
        .unwrap_or(&value)
        .to_owned();
    if path.first().is_some_and(|(k, _)| k == "instances") {
        format!("{{{value}}}\n")
    } else {
        format!("{{instances: [], {value}}}\n")
    }
}

/// A value of the right type for a key, so that only the key is being tested.
fn good_value(key: &str) -> &'static str {
    match key {
        "allow_empty" | "recycle_bin" | "require_recoverable" => "true",
        "max_delete" | "idle_max_ops" | "idle_max_connections" => "1",
        "min_age" | "idle_for" | "grace" => "2h",
        "tags" | "tag" => "{owner: ci}",
        "endpoint" => "'https://dcs.cn-north-4.myhuaweicloud.com'",
        "ces_endpoint" => "'https://ces.cn-north-4.myhuaweicloud.com'",
        "name_regex" => "'^ci-'",
        _ => "abc",
    }
}

/// The keys the parser says it expects, from its "unknown key" error.
fn expected_keys(error: &str) -> BTreeSet<String> {
    let at = error.find("expected").expect("an `expected` list");
    error[at..]
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_schema_has_exactly_the_keys_the_parser_accepts() {
    let schema = schema();
    let objects = objects(&schema);
    // The root, regions[], instances[], scope, protect[], guards and deletion.
    assert!(objects.len() >= 7, "{objects:?}");
    for (path, props) in &objects {
        let keys: BTreeSet<String> = props.keys().cloned().collect();
        // Each key of the schema is accepted by `validate` (with a value of its type, plus
        // what it depends on).
        for key in &keys {
            let mut inner = format!("{key}: {}", good_value(key));
            if key.starts_with("idle_max") {
                inner.push_str(", idle_for: 7d");
            }
            if key == "require_recoverable" {
                inner.push_str(", recycle_bin: true");
            }
            let in_regions = path.first().is_some_and(|(k, _)| k == "regions");
            if in_regions && key != "region" {
                inner.push_str(", region: abc");
            }
            let text = match (path.is_empty(), key.as_str()) {
                (true, "instances") => "instances: []\n".to_owned(),
                (true, "scope") => "{instances: [], scope: {name_prefix: ci-}}\n".to_owned(),
                (true, "guards") => "{instances: [], guards: {max_delete: 1}}\n".to_owned(),
                (true, "deletion") => {
                    "{instances: [], deletion: {recycle_bin: false}}\n".to_owned()
                }
                (true, "protect") => "{instances: [], protect: [{name: 'prod-*'}]}\n".to_owned(),
                (true, "regions") => "{instances: [], regions: [{region: abc}]}\n".to_owned(),
                // An entry's region must be one of `regions:`.
                (false, "region") if !in_regions => {
                    "{regions: [{region: abc}], instances: [{name: a, region: abc}]}\n".to_owned()
                }
                (true, _) => format!("{{instances: [], {inner}}}\n"),
                (false, _) => manifest_at(path, &format!("{{{inner}}}")),
            };
            assert_eq!(
                validate(&text),
                Ok(()),
                "the schema has `{key}` under {path:?}, validate refuses {text:?}"
            );
            assert!(errors(&schema, &text).is_empty(), "{text}");
        }
        // The parser names the keys it accepts when it meets an unknown one: the same set.
        let text = if path.is_empty() {
            "{instances: [], not_a_key: 1}\n".to_owned()
        } else {
            manifest_at(path, "{not_a_key: 1}")
        };
        let error = validate(&text).expect_err("an unknown key is refused");
        assert_eq!(
            expected_keys(&error),
            keys,
            "under {path:?}: the parser's keys (left) differ from the schema's (right): {error}"
        );
        assert!(!errors(&schema, &text).is_empty(), "{text}");
    }
}

#[test]
fn a_manifest_for_several_regions_is_accepted_by_both() {
    let schema = schema();
    for good in [
        "regions:\n  - region: cn-north-4\n  - region: ap-southeast-1\n    project_id: \
         0123456789abcdef0123456789abcdef\n    endpoint: http://127.0.0.1:8081\n    \
         ces_endpoint: http://127.0.0.1:8082\nscope: {name_prefix: ci-}\nguards: \
         {allow_empty: true}\ninstances:\n  - name: shared-cache\n  - name: eu-only\n    \
         region: ap-southeast-1\n",
        "regions: [{region: a}]\ninstances: []\n",
        "instances: [{name: x, region: a}, {name: x, region: b}]\nregions: [{region: a}, {region: b}]\n",
    ] {
        let e = errors(&schema, good);
        assert!(e.is_empty(), "{good}: {e:?}");
        assert_eq!(validate(good), Ok(()), "{good}");
    }
}
