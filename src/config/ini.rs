//! The INI format of the SDK credentials file, read as Python's `configparser` reads it.

use std::collections::HashMap;

/// One section of an INI file: lower-case keys to values.
pub(crate) type Section = HashMap<String, String>;

/// Parses an INI file as Python's `configparser` reads the SDK credentials file: `[section]`
/// headers, `key = value` or `key: value` lines (keys case-insensitive), `#`/`;` comment lines,
/// and a `[DEFAULT]` section whose keys every section inherits. The error is the number of a
/// line that is none of these; the line itself is never repeated (it may hold a secret).
pub(crate) fn parse_ini(text: &str) -> std::result::Result<HashMap<String, Section>, usize> {
    let mut sections: HashMap<String, Section> = HashMap::new();
    let mut current: Option<String> = None;
    for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let name = name.trim().to_owned();
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let Some(at) = t.find(['=', ':']) else {
            return Err(i + 1);
        };
        let Some(section) = &current else {
            return Err(i + 1);
        };
        let key = t[..at].trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(i + 1);
        }
        sections
            .entry(section.clone())
            .or_default()
            .insert(key, t[at + 1..].trim().to_owned());
    }
    if let Some(defaults) = sections.get("DEFAULT").cloned() {
        for (name, section) in sections.iter_mut() {
            if name != "DEFAULT" {
                for (k, v) in &defaults {
                    section.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    Ok(sections)
}
