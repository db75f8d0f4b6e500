//! The manifest: the YAML file that lists the instances that should exist.
//!
//! This is the only module that knows YAML (serde_yaml is archived upstream; swapping it for a
//! maintained fork must stay a change to this module alone). Plain block YAML, the style of
//! large generated manifests, is first read by a streaming reading of its own (`block`,
//! `stream`, `typing`) that gives serde_yaml's result or steps aside; serde_yaml reads
//! everything else, and every error comes from it (docs/design.md). It reads the file, rejects anything
//! it does not understand with one line naming the file, line and column, and returns plain
//! values ([`Manifest`], [`Entry`]). It sends no request and knows nothing of HTTP.
//!
//! ```yaml
//! project_id: 7d80ae32f57b499eb8781f9a9f57c538
//! region: cn-north-4
//! instances:
//!   - name: dcs-8b1c-000
//!   - id: 4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192
//!   - name: orders-cache
//!     id: c7b9e5c1-ebfb-4e86-bc6b-ec8d9aa7e1c2
//! ```

mod block;
mod entries;
mod export;
mod limits;
mod regions;
mod rules;
mod scalar;
pub mod schema;
mod seen;
mod stream;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_regions;
#[cfg(test)]
mod tests_settings;
#[cfg(test)]
mod tests_stream;
#[cfg(test)]
mod tests_stream_random;
mod typing;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};
use crate::model::{Entry, Rules};

pub use export::{Export, export_manifest, export_text};
pub use limits::MAX_MANIFEST_BYTES;
pub use regions::RegionTarget;

use entries::Instances;
use limits::{MAX_FLOW_DEPTH, is_empty_document, too_deep};
use regions::{Check, RegionList};
use rules::{ProtectList, RawDeletion, RawGuards, RawScope};
use scalar::{CesEndpoint, Endpoint, ProjectId, Region, Text};

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
    /// `ces_endpoint`, the Cloud Eye endpoint overriding the region's (checked like `endpoint`).
    pub ces_endpoint: Option<String>,
    /// `regions`: the regions the manifest is for, instead of `region`, `project_id`,
    /// `endpoint` and `ces_endpoint` (empty when the key is absent). See
    /// [`Manifest::targets`].
    pub regions: Vec<RegionTarget>,
    /// `instances`: what should exist.
    pub instances: Vec<Entry>,
    /// `scope`, `protect`, `guards` and `deletion`.
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
            ces_endpoint: None,
            regions: Vec::new(),
            instances: Vec::new(),
            rules: Rules::default(),
            sha256: String::new(),
            text: String::new(),
        }
    }
}

/// Reads and validates the manifest at `path`; the path `-` reads standard input, called
/// `<stdin>` in messages. At most [`MAX_MANIFEST_BYTES`] are accepted, counted as they are read
/// (a device or a pipe reports no size), so `-f /dev/zero` fails fast.
pub fn load(path: &Path) -> Result<Manifest> {
    if path == Path::new("-") {
        let name = Path::new(STDIN);
        let bytes = limits::read_capped(std::io::stdin().lock(), name)?;
        return parse(&bytes, name);
    }
    let display = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| Error::Manifest {
        location: display.clone(),
        message: match e.kind() {
            std::io::ErrorKind::NotFound => {
                "no such file (use -f to name the manifest; it defaults to dcs.yaml)".to_owned()
            }
            _ => e.to_string(),
        },
    })?;
    // A regular file that says it is too large is refused without reading it.
    if let Ok(meta) = file.metadata()
        && meta.len() > MAX_MANIFEST_BYTES
    {
        return Err(Error::Manifest {
            location: display,
            message: format!(
                "the file is {} bytes; manifests larger than {MAX_MANIFEST_BYTES} bytes are refused",
                meta.len()
            ),
        });
    }
    let bytes = limits::read_capped(file, path)?;
    parse(&bytes, path)
}

/// How messages name standard input (`-f -`).
pub const STDIN: &str = "<stdin>";

/// Parses and validates manifest bytes; `path` is used in messages and kept in the result.
pub fn parse(bytes: &[u8], path: &Path) -> Result<Manifest> {
    parse_with(bytes, path, Reader::Fast)
}

/// Which YAML reading [`parse_with`] tries first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    /// The streaming reading of plain block YAML ([`stream`]), then serde_yaml for any
    /// document it does not take or that has an error. What `parse` does.
    Fast,
    /// serde_yaml alone (the tests compare the two).
    #[cfg_attr(not(test), allow(dead_code))]
    Full,
}

fn parse_with(bytes: &[u8], path: &Path, reader: Reader) -> Result<Manifest> {
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
    // The fast reading gives serde_yaml's result or nothing, never an error of its own: every
    // error and its message come from serde_yaml.
    let fast = match reader {
        Reader::Fast => stream::from_str::<RawManifest>(text),
        Reader::Full => None,
    };
    let raw: RawManifest = match fast {
        Some(raw) => raw,
        None => serde_yaml::from_str(text).map_err(|e| {
            let (location, message) = split_yaml_error(&e, &display);
            fail(location, refuse_secret_key(message))
        })?,
    };
    let instances = raw.instances.ok_or_else(|| {
        fail(
            display.clone(),
            "missing `instances:`; list the instances that should exist (an empty list is `instances: []`)"
                .to_owned(),
        )
    })?;
    let regions = raw.regions.map(|r| r.0).unwrap_or_default();
    if !regions.is_empty()
        && (raw.region.is_some()
            || raw.project_id.is_some()
            || raw.endpoint.is_some()
            || raw.ces_endpoint.is_some())
    {
        return Err(regions::locate(text, &display, Check::Replaced));
    }
    if regions::entries_misplaced(&instances.0, &regions) {
        return Err(regions::locate(
            text,
            &display,
            Check::EntryRegions(&regions),
        ));
    }
    Ok(Manifest {
        path: path.to_path_buf(),
        project_id: raw.project_id.map(|v| v.0),
        region: raw.region.map(|v| v.0),
        endpoint: raw.endpoint.map(|v| v.0),
        ces_endpoint: raw.ces_endpoint.map(|v| v.0),
        regions,
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
            guards: raw
                .guards
                .map(RawGuards::into_guards)
                .transpose()
                .map_err(|m| fail(display.clone(), m))?
                .unwrap_or_default(),
            deletion: raw
                .deletion
                .map(RawDeletion::into_deletion)
                .transpose()
                .map_err(|m| fail(display.clone(), m))?
                .unwrap_or_default(),
        },
        sha256: crate::util::sha256_hex(bytes),
        text: text.to_owned(),
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
            "expected a mapping (`max_delete`, `min_age`, `allow_empty`, `idle_for`, …)",
        )
        .replace(
            "expected struct RawDeletion",
            "expected a mapping (`recycle_bin`, `require_recoverable`, `grace`)",
        )
        .replace("expected u64", "expected a whole number, zero or more")
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
    project_id: Option<Text<ProjectId>>,
    #[serde(default, deserialize_with = "present")]
    region: Option<Text<Region>>,
    #[serde(default, deserialize_with = "present")]
    endpoint: Option<Text<Endpoint>>,
    #[serde(default, deserialize_with = "present")]
    ces_endpoint: Option<Text<CesEndpoint>>,
    #[serde(default, deserialize_with = "present")]
    regions: Option<RegionList>,
    instances: Option<Instances>,
    #[serde(default, deserialize_with = "present")]
    scope: Option<RawScope>,
    #[serde(default, deserialize_with = "present")]
    protect: Option<ProtectList>,
    #[serde(default, deserialize_with = "present")]
    guards: Option<RawGuards>,
    #[serde(default, deserialize_with = "present")]
    deletion: Option<RawDeletion>,
}

/// A key that is written must have a value: `name_prefix:` with nothing after it is an error,
/// not "no prefix" (which would silently widen the scope to the whole project). An absent key
/// is `None` through `#[serde(default)]`.
pub(super) fn present<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}
