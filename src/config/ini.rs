//! The INI format of the SDK credentials file, read as Python's `configparser` reads it.

use std::collections::HashMap;

/// One section of an INI file: lower-case keys to values.
pub(crate) type Section = HashMap<String, String>;

/// A line of an INI file that cannot be read, and why (the line itself is never repeated: it
/// may hold a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadLine {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong, without the line's text.
    pub why: String,
}

/// Parses an INI file as Python's `configparser` (in its default, strict mode) reads the SDK
/// credentials file: `[section]` headers (names case-sensitive), `key = value` or
/// `key: value` lines (keys case-insensitive), `#`/`;` comment lines, and a `[DEFAULT]`
/// section whose keys every section inherits. A section or a key given twice is an error, as
/// it is for `configparser`; so is an indented continuation line, which this reader does not
/// join (the credentials must be read exactly as the SDK reads them, or not at all).
pub(crate) fn parse_ini(text: &str) -> std::result::Result<HashMap<String, Section>, BadLine> {
    let mut sections: HashMap<String, Section> = HashMap::new();
    // Where each section and key was first given, for the duplicate errors.
    let mut section_lines: HashMap<String, usize> = HashMap::new();
    let mut key_lines: HashMap<(String, String), usize> = HashMap::new();
    let mut current: Option<String> = None;
    for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let n = i + 1;
        let bad = |why: String| BadLine { line: n, why };
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if line.starts_with([' ', '\t']) && current.is_some() {
            return Err(bad(
                "an indented line continues a value over several lines, which is not \
                 supported in a credentials file"
                    .to_owned(),
            ));
        }
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let name = name.trim().to_owned();
            if let Some(first) = section_lines.insert(name.clone(), n) {
                return Err(bad(format!(
                    "section [{name}] is given twice (first on line {first})"
                )));
            }
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let Some(at) = t.find(['=', ':']) else {
            return Err(bad(
                "not an INI line (expected `[section]`, `key = value` or a comment)".to_owned(),
            ));
        };
        let Some(section) = &current else {
            return Err(bad("a key before any `[section]`".to_owned()));
        };
        let key = t[..at].trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(bad("a value without a key".to_owned()));
        }
        if let Some(first) = key_lines.insert((section.clone(), key.clone()), n) {
            return Err(bad(format!(
                "`{key}` is given twice in [{section}] (first on line {first})"
            )));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_and_continuations_are_errors_that_name_the_line_not_the_value() {
        let e = parse_ini("[basic]\nak = A\nsk = SECRET1\nSK = SECRET2\n").expect_err("dup");
        assert_eq!(e.line, 4);
        assert!(
            e.why
                .contains("`sk` is given twice in [basic] (first on line 3)"),
            "{}",
            e.why
        );
        assert!(!e.why.contains("SECRET"));
        let e = parse_ini("[basic]\nak = A\n[basic]\nsk = S\n").expect_err("dup section");
        assert_eq!(
            (e.line, e.why.contains("section [basic] is given twice")),
            (3, true)
        );
        let e = parse_ini("[basic]\nsk = first\n  SECRET-REST\n").expect_err("continuation");
        assert_eq!(e.line, 3);
        assert!(!e.why.contains("SECRET"));
        // Sections are case-sensitive, keys are not; the same key in two sections is fine.
        let ok = parse_ini("[basic]\nAK = a\n[Basic]\nak = b\n[other]\nak = c\n").expect("ok");
        assert_eq!(ok["basic"]["ak"], "a");
        assert_eq!(ok["Basic"]["ak"], "b");
    }
}
