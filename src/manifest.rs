//! The manifest: the YAML file that lists the instances that should exist.
//!
//! This is the only module that knows YAML (serde_yaml is archived upstream; swapping it for a
//! maintained fork must stay a change to this file alone). It reads the file, rejects anything
//! it does not understand with one line naming the file, line and column, and returns plain
//! values ([`Manifest`], [`Entry`]). It sends no request and knows nothing of HTTP.
//!
//! ```yaml
//! project_id: 7d80ae32f57b499eb8781f9a9f57c538
//! region: cn-north-4
//! instances:
//!   - name: dcs-8b1c-000
//!   - id: 9d78d0f4-a110-4bcd-8ca3-5aec414163c1
//!   - name: orders-cache
//!     id: aabe73af-1db8-4401-b39c-c56996023989
//! ```

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, Result};
use crate::model::{
    Entry, Guards, Instance, Limit, NameGlob, NameRegex, ProtectRule, Rules, Scope,
};

/// A manifest larger than this is refused before parsing.
pub const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// Keys that would hold a secret. The manifest lives in Git, so any of them, even with an empty
/// or null value, is refused with a pointer to where credentials go. They are deliberately not
/// fields of the manifest, so they never show up among the "expected" keys of an error.
const SECRET_KEYS: [&str; 10] = [
    "ak",
    "sk",
    "access_key",
    "secret_key",
    "secret_access_key",
    "security_token",
    "token",
    "auth_token",
    "password",
    "passwd",
];

/// Where credentials go instead, named when a manifest tries to hold one.
const CREDENTIALS_ADVICE: &str = "credentials do not belong in the manifest (it is kept in Git); \
     remove the key and set HUAWEICLOUD_SDK_AK and HUAWEICLOUD_SDK_SK (or HW_ACCESS_KEY and \
     HW_SECRET_KEY, the ~/.huaweicloud/credentials file, or HW_AUTH_TOKEN) in the environment \
     instead; see docs/authentication.md";

/// A parsed, validated manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Where it was read from (for messages).
    pub path: PathBuf,
    /// `project_id`.
    pub project_id: Option<String>,
    /// `region`, e.g. `cn-north-4`.
    pub region: Option<String>,
    /// `endpoint`, overriding the region's.
    pub endpoint: Option<String>,
    /// `instances`: what should exist.
    pub instances: Vec<Entry>,
    /// `scope`, `protect` and `guards`.
    pub rules: Rules,
    /// Lower-hex SHA-256 of the file's bytes.
    pub sha256: String,
    /// The file's text, as read.
    pub text: String,
}

impl Manifest {
    /// A manifest with nothing in it, for commands that can run without a file (`whoami`).
    pub fn empty(path: &Path) -> Manifest {
        Manifest {
            path: path.to_path_buf(),
            project_id: None,
            region: None,
            endpoint: None,
            instances: Vec::new(),
            rules: Rules::default(),
            sha256: String::new(),
            text: String::new(),
        }
    }
}

/// What `export` writes: where the instances live and which ones to declare.
#[derive(Debug, Clone)]
pub struct Export<'a> {
    /// Comment lines for the top of the file (without `# `).
    pub header: Vec<String>,
    /// `project_id:`.
    pub project_id: &'a str,
    /// `region:`, when the target came from a region.
    pub region: Option<&'a str>,
    /// `endpoint:`, when the target did not come from a region.
    pub endpoint: Option<&'a str>,
    /// `scope:` to carry over.
    pub scope: &'a Scope,
    /// The instances to declare, each with a comment line.
    pub instances: Vec<(&'a Instance, String)>,
}

/// A YAML scalar for `s`, quoted when YAML needs it (`0123`, `yes`, `a: b`, …).
fn yaml_scalar(s: &str) -> String {
    match serde_yaml::to_string(s) {
        Ok(text) => text.trim_end_matches('\n').to_owned(),
        // Cannot happen for a string; fall back to a double-quoted JSON string, valid YAML.
        Err(_) => serde_json::Value::String(s.to_owned()).to_string(),
    }
}

/// Writes a manifest declaring `export.instances` by name and id; [`parse`] reads it back.
pub fn export_text(export: &Export<'_>) -> String {
    let mut out = String::new();
    for line in &export.header {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str(&format!("project_id: {}\n", yaml_scalar(export.project_id)));
    if let Some(region) = export.region {
        out.push_str(&format!("region: {}\n", yaml_scalar(region)));
    }
    if let Some(endpoint) = export.endpoint {
        out.push_str(&format!("endpoint: {}\n", yaml_scalar(endpoint)));
    }
    let scope = export.scope;
    if !scope.is_everything() {
        out.push_str("scope:\n");
        if let Some(p) = &scope.name_prefix {
            out.push_str(&format!("  name_prefix: {}\n", yaml_scalar(p)));
        }
        if let Some(r) = &scope.name_regex {
            out.push_str(&format!("  name_regex: {}\n", yaml_scalar(r.source())));
        }
        if let Some(e) = &scope.enterprise_project_id {
            out.push_str(&format!("  enterprise_project_id: {}\n", yaml_scalar(e)));
        }
        if !scope.tags.is_empty() {
            out.push_str("  tags:\n");
            for (k, v) in &scope.tags {
                out.push_str(&format!("    {}: {}\n", yaml_scalar(k), yaml_scalar(v)));
            }
        }
    }
    if export.instances.is_empty() {
        out.push_str("instances: []\n");
        return out;
    }
    out.push_str("instances:\n");
    for (i, comment) in &export.instances {
        out.push_str(&format!("  # {}\n", comment.replace(['\n', '\r'], " ")));
        out.push_str(&format!("  - name: {}\n", yaml_scalar(&i.name)));
        out.push_str(&format!("    id: {}\n", yaml_scalar(&i.id)));
    }
    out
}

/// Deeper flow nesting than this is refused before parsing: a manifest needs three levels,
/// and the YAML scanner's cost grows with the square of the depth.
const MAX_FLOW_DEPTH: usize = 64;

/// Where flow nesting (`[`, `{`) first goes deeper than [`MAX_FLOW_DEPTH`], as 1-based line
/// and column; quoted scalars and comments are skipped. A cheap lexical pass, linear in the
/// text.
fn too_deep(text: &str) -> Option<(usize, usize)> {
    #[derive(PartialEq)]
    enum State {
        Plain,
        Single,
        Double,
        Comment,
    }
    let mut state = State::Plain;
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let mut previous = '\n';
    let mut escaped = false;
    for c in text.chars() {
        column += 1;
        match state {
            State::Plain => match c {
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_FLOW_DEPTH {
                        return Some((line, column));
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                // A quote opens a quoted scalar only where a value can start; in `don't`
                // it is just a character.
                '\'' if opens_value(previous) => state = State::Single,
                '"' if opens_value(previous) => state = State::Double,
                '#' if previous.is_whitespace() => state = State::Comment,
                _ => {}
            },
            State::Single if c == '\'' => state = State::Plain,
            State::Double if escaped => escaped = false,
            State::Double if c == '\\' => escaped = true,
            State::Double if c == '"' => state = State::Plain,
            State::Comment if c == '\n' => state = State::Plain,
            _ => {}
        }
        if c == '\n' {
            line += 1;
            column = 0;
        }
        previous = c;
    }
    None
}

/// True when a quote after `previous` starts a quoted scalar.
fn opens_value(previous: char) -> bool {
    previous.is_whitespace() || matches!(previous, '[' | '{' | ',' | ':' | '-' | '?')
}

/// Reads and validates the manifest at `path`.
pub fn load(path: &Path) -> Result<Manifest> {
    let display = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|e| Error::Manifest {
        location: display.clone(),
        message: match e.kind() {
            std::io::ErrorKind::NotFound => {
                "no such file (use -f to name the manifest; it defaults to dcs.yaml)".to_owned()
            }
            _ => e.to_string(),
        },
    })?;
    if meta.len() > MAX_MANIFEST_BYTES {
        return Err(Error::Manifest {
            location: display,
            message: format!(
                "the file is {} bytes; manifests larger than {MAX_MANIFEST_BYTES} bytes are refused",
                meta.len()
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| Error::Manifest {
        location: display.clone(),
        message: e.to_string(),
    })?;
    parse(&bytes, path)
}

/// Parses and validates manifest bytes; `path` is used in messages and kept in the result.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Manifest> {
    let display = path.display().to_string();
    let fail = |location: String, message: String| Error::Manifest { location, message };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        fail(
            format!("{display}:{line}"),
            "the file is not valid UTF-8".to_owned(),
        )
    })?;
    if is_empty_document(text) {
        return Err(fail(
            display,
            "the file is empty; a manifest needs at least `instances:` (see docs/manifest.md)"
                .to_owned(),
        ));
    }
    if let Some((line, column)) = too_deep(text) {
        return Err(fail(
            format!("{display}:{line}:{column}"),
            format!(
                "more than {MAX_FLOW_DEPTH} levels of `[ ]` or `{{ }}` nesting; a manifest is \
                 nearly flat, so this file is not one"
            ),
        ));
    }
    let raw: RawManifest = serde_yaml::from_str(text).map_err(|e| {
        let (location, message) = split_yaml_error(&e, &display);
        fail(location, refuse_secret_key(message))
    })?;
    let instances = raw.instances.ok_or_else(|| {
        fail(
            display.clone(),
            "missing `instances:`; list the instances that should exist (an empty list is `instances: []`)"
                .to_owned(),
        )
    })?;
    for (key, value) in [
        ("project_id", &raw.project_id),
        ("region", &raw.region),
        ("endpoint", &raw.endpoint),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(fail(display, format!("`{key}` is empty")));
        }
    }
    Ok(Manifest {
        path: path.to_path_buf(),
        project_id: raw.project_id,
        region: raw.region,
        endpoint: raw.endpoint,
        instances: instances.0,
        rules: Rules {
            scope: match raw.scope.map(RawScope::into_scope) {
                Some(scope) if scope.is_everything() => {
                    return Err(fail(
                        display,
                        "`scope:` names no selector, which would manage the whole project; \
                         give `name_prefix`, `name_regex`, `enterprise_project_id` or `tags`, \
                         or remove `scope:`"
                            .to_owned(),
                    ));
                }
                scope => scope.unwrap_or_default(),
            },
            protect: raw.protect.map(|p| p.0).unwrap_or_default(),
            guards: raw.guards.map(RawGuards::into_guards).unwrap_or_default(),
        },
        sha256: crate::api::sign::sha256_hex(bytes),
        text: text.to_owned(),
    })
}

/// True when the text holds no YAML node: only blanks, comments and document markers.
fn is_empty_document(text: &str) -> bool {
    text.lines().all(|line| {
        let t = line.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

/// Replaces an "unknown field" error about a key that would hold a secret (at any level) with
/// the advice of where credentials go. The value is never part of the message.
fn refuse_secret_key(message: String) -> String {
    for marker in ["unknown field `", "unknown key `"] {
        let Some(at) = message.find(marker) else {
            continue;
        };
        let rest = &message[at + marker.len()..];
        if let Some((key, _)) = rest.split_once('`')
            && SECRET_KEYS.contains(&key.to_ascii_lowercase().as_str())
        {
            return format!("{}`{key}`: {CREDENTIALS_ADVICE}", &message[..at]);
        }
    }
    message
}

/// Splits a serde_yaml error into `file:line:column` and its message without the location.
fn split_yaml_error(e: &serde_yaml::Error, display: &str) -> (String, String) {
    let text = e
        .to_string()
        .replace(
            "expected struct RawManifest",
            "expected a mapping with `instances:` (and `project_id:`, `region:`, …)",
        )
        .replace(
            "expected struct RawScope",
            "expected a mapping of selectors (`name_prefix`, `name_regex`, `enterprise_project_id`, `tags`)",
        )
        .replace(
            "expected struct RawGuards",
            "expected a mapping (`max_delete`, `min_age`, `allow_empty`)",
        )
        .replace("invalid type: unit value, expected", "no value given; expected");
    match e.location() {
        Some(loc) => {
            let suffix = format!(" at line {} column {}", loc.line(), loc.column());
            let message = text.replacen(&suffix, "", 1);
            (
                format!("{display}:{}:{}", loc.line(), loc.column()),
                message,
            )
        }
        None => (display.to_owned(), text),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    #[serde(default, deserialize_with = "present")]
    project_id: Option<String>,
    #[serde(default, deserialize_with = "present")]
    region: Option<String>,
    #[serde(default, deserialize_with = "present")]
    endpoint: Option<String>,
    instances: Option<Instances>,
    #[serde(default, deserialize_with = "present")]
    scope: Option<RawScope>,
    #[serde(default, deserialize_with = "present")]
    protect: Option<ProtectList>,
    #[serde(default, deserialize_with = "present")]
    guards: Option<RawGuards>,
}

/// A key that is written must have a value: `name_prefix:` with nothing after it is an error,
/// not "no prefix" (which would silently widen the scope to the whole project). An absent key
/// is `None` through `#[serde(default)]`.
fn present<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// `scope:`: every selector given must match for an instance to be managed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScope {
    #[serde(default, deserialize_with = "present")]
    name_prefix: Option<NonEmpty>,
    #[serde(default, deserialize_with = "present")]
    name_regex: Option<Parsed<NameRegex>>,
    #[serde(default, deserialize_with = "present")]
    enterprise_project_id: Option<Id>,
    #[serde(default, deserialize_with = "present")]
    tags: Option<TagMap>,
}

impl RawScope {
    fn into_scope(self) -> Scope {
        Scope {
            name_prefix: self.name_prefix.map(|p| p.0),
            name_regex: self.name_regex.map(|r| r.0),
            enterprise_project_id: self.enterprise_project_id.map(|e| e.0),
            tags: self.tags.map(|t| t.0).unwrap_or_default(),
        }
    }
}

/// `guards:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGuards {
    #[serde(default, deserialize_with = "present")]
    max_delete: Option<Parsed<Limit>>,
    #[serde(default, deserialize_with = "present")]
    min_age: Option<Parsed<std::time::Duration>>,
    #[serde(default, deserialize_with = "present")]
    allow_empty: Option<bool>,
}

impl RawGuards {
    fn into_guards(self) -> Guards {
        Guards {
            max_delete: self.max_delete.map(|m| m.0),
            min_age: self.min_age.map(|m| m.0),
            allow_empty: self.allow_empty.unwrap_or(false),
        }
    }
}

/// A value parsed from a YAML scalar by [`FromScalar`], failing with the scalar's line.
struct Parsed<T>(T);

/// How a YAML scalar becomes a value; the error says what is wrong.
trait FromScalar: Sized {
    const EXPECTING: &'static str;
    fn from_scalar(text: &str, was_string: bool) -> std::result::Result<Self, String>;
}

impl FromScalar for NameRegex {
    const EXPECTING: &'static str = "a regular expression";
    fn from_scalar(text: &str, _: bool) -> std::result::Result<Self, String> {
        NameRegex::new(text)
    }
}

impl FromScalar for NameGlob {
    const EXPECTING: &'static str = "a glob such as 'prod-*'";
    fn from_scalar(text: &str, _: bool) -> std::result::Result<Self, String> {
        NameGlob::new(text)
    }
}

impl FromScalar for Limit {
    const EXPECTING: &'static str = "a count such as 10 or a percentage such as \"20%\"";
    fn from_scalar(text: &str, _: bool) -> std::result::Result<Self, String> {
        let bad = || format!("invalid max_delete `{text}`: expected {}", Self::EXPECTING);
        if let Some(p) = text.trim().strip_suffix('%') {
            let p: u32 = p.trim().parse().map_err(|_| bad())?;
            if p > 100 {
                return Err(format!(
                    "invalid max_delete `{text}`: a percentage is at most 100%"
                ));
            }
            Ok(Limit::Percent(p))
        } else {
            text.trim().parse().map(Limit::Count).map_err(|_| bad())
        }
    }
}

impl FromScalar for std::time::Duration {
    const EXPECTING: &'static str = "a duration such as 2h, 30m or 7d";
    fn from_scalar(text: &str, was_string: bool) -> std::result::Result<Self, String> {
        if !was_string {
            return Err(format!(
                "invalid min_age `{text}`: give a unit, e.g. 2h, 30m or 7d"
            ));
        }
        humantime::parse_duration(text.trim())
            .map_err(|e| format!("invalid min_age `{text}`: {e} (e.g. 2h, 30m or 7d)"))
    }
}

impl<'de, T: FromScalar> Deserialize<'de> for Parsed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<T: FromScalar> Visitor<'_> for V<T> {
            type Value = Parsed<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Parsed<T>, E> {
                T::from_scalar(v, true).map(Parsed).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Parsed<T>, E> {
                T::from_scalar(&v.to_string(), false)
                    .map(Parsed)
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Parsed<T>, E> {
                T::from_scalar(&v.to_string(), false)
                    .map(Parsed)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A non-empty string without surrounding spaces.
struct NonEmpty(String);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NonEmpty;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-empty string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<NonEmpty, E> {
                if v.trim().is_empty() {
                    Err(E::custom("the value is empty"))
                } else if v.trim() != v {
                    Err(E::custom(format!(
                        "the value has leading or trailing spaces: {v:?}"
                    )))
                } else {
                    Ok(NonEmpty(v.to_owned()))
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// A string, number or bool, as text (`"0"`, `0` and `true` all become strings).
struct Scalar(String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or bool")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// An identifier given as a string or a number (`"0"` or `0`): not empty, no surrounding spaces.
struct Id(String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let Scalar(v) = Scalar::deserialize(d)?;
        if v.trim().is_empty() {
            return Err(de::Error::custom("`enterprise_project_id` is empty"));
        }
        if v.trim() != v {
            return Err(de::Error::custom(format!(
                "`enterprise_project_id` has leading or trailing spaces: {v:?}"
            )));
        }
        Ok(Id(v))
    }
}

/// `{key: value, …}` with scalar values, as ordered pairs.
struct TagMap(Vec<(String, String)>);

impl<'de> Deserialize<'de> for TagMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TagMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of tag keys to values, e.g. {owner: platform}")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<TagMap, A::Error> {
                let mut tags: Vec<(String, String)> = Vec::new();
                while let Some(key) = map.next_key::<Scalar>()? {
                    let value: Scalar = map.next_value()?;
                    if tags.iter().any(|(k, _)| *k == key.0) {
                        return Err(de::Error::custom(format!("tag `{}` is given twice", key.0)));
                    }
                    tags.push((key.0, value.0));
                }
                if tags.is_empty() {
                    return Err(de::Error::custom("the tag mapping is empty"));
                }
                Ok(TagMap(tags))
            }
        }
        d.deserialize_map(V)
    }
}

/// `protect:`: a list of rules, each with exactly one of `name`, `id`, `tag`.
struct ProtectList(Vec<ProtectRule>);

impl<'de> Deserialize<'de> for ProtectList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ProtectList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of protect rules, each `name: GLOB`, `id: ID` or `tag: {k: v}`")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<ProtectList, A::Error> {
                let mut rules = Vec::new();
                while let Some(rule) = seq.next_element::<ProtectItem>()? {
                    rules.push(rule.0);
                }
                Ok(ProtectList(rules))
            }
        }
        d.deserialize_seq(V)
    }
}

struct ProtectItem(ProtectRule);

impl<'de> Deserialize<'de> for ProtectItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ProtectItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a protect rule: `name: GLOB`, `id: ID` or `tag: {k: v}`")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<ProtectItem, A::Error> {
                let mut rule: Option<ProtectRule> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let next = match key.as_str() {
                        "name" => ProtectRule::Name(map.next_value::<Parsed<NameGlob>>()?.0),
                        "id" => ProtectRule::Id(map.next_value::<NonEmpty>()?.0),
                        "tag" => ProtectRule::Tag(map.next_value::<TagMap>()?.0),
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown key `{other}` in a protect rule; expected `name`, `id` or `tag`"
                            )));
                        }
                    };
                    if rule.is_some() {
                        return Err(de::Error::custom(
                            "a protect rule has exactly one of `name`, `id` or `tag`; write one rule per item",
                        ));
                    }
                    rule = Some(next);
                }
                rule.map(ProtectItem)
                    .ok_or_else(|| de::Error::custom("a protect rule needs `name`, `id` or `tag`"))
            }
        }
        d.deserialize_map(V)
    }
}

/// The `instances:` list, validated while it is read so that errors carry the line.
struct Instances(Vec<Entry>);

impl<'de> Deserialize<'de> for Instances {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_seq(InstancesVisitor)
    }
}

struct InstancesVisitor;

impl<'de> Visitor<'de> for InstancesVisitor {
    type Value = Instances;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of instances, each with `name`, `id` or both (an empty list is `[]`)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Instances, A::Error> {
        let mut entries: Vec<Entry> = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        let mut ids: HashMap<String, usize> = HashMap::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        loop {
            let seed = EntrySeed {
                index: entries.len(),
                ids: &mut ids,
                names: &mut names,
            };
            match seq.next_element_seed(seed)? {
                Some(entry) => entries.push(entry),
                None => break,
            }
        }
        Ok(Instances(entries))
    }
}

/// Reads one list item, checking it (and that it repeats no earlier entry) while it is read, so
/// that every error carries the item's line.
struct EntrySeed<'s> {
    index: usize,
    ids: &'s mut HashMap<String, usize>,
    names: &'s mut HashMap<String, usize>,
}

impl<'de> de::DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = Entry;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Entry, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an instance: a mapping with `name`, `id` or both")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Entry, A::Error> {
        let mut id: Option<String> = None;
        let mut name: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            let slot = match key.as_str() {
                "id" => &mut id,
                "name" => &mut name,
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown key `{other}` in an instance entry; expected `name` or `id`"
                    )));
                }
            };
            if slot.is_some() {
                return Err(de::Error::custom(format!("`{key}` is given twice")));
            }
            let value: String = map.next_value()?;
            if value.trim().is_empty() {
                return Err(de::Error::custom(format!("`{key}` is empty")));
            }
            if value.trim() != value {
                return Err(de::Error::custom(format!(
                    "`{key}` has leading or trailing spaces: {value:?}"
                )));
            }
            *slot = Some(value);
        }
        let index = self.index;
        if let Some(id) = &id {
            if let Some(first) = self.ids.insert(id.clone(), index) {
                return Err(de::Error::custom(format!(
                    "duplicate entry: id `{id}` is already declared by instances[{first}]"
                )));
            }
        } else if let Some(name) = &name {
            if let Some(first) = self.names.insert(name.clone(), index) {
                return Err(de::Error::custom(format!(
                    "duplicate entry: name `{name}` is already declared by instances[{first}]"
                )));
            }
        } else {
            return Err(de::Error::custom(
                "an instance entry needs `name`, `id` or both",
            ));
        }
        Ok(Entry { index, id, name })
    }
}

#[cfg(test)]
mod tests {
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
        assert_eq!(a.sha256, crate::api::sign::sha256_hex(b"instances: []\n"));
        Ok(())
    }
}
