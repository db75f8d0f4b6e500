//! Printers: everything the user reads on stdout, and the JSON documents programs read.
//!
//! They receive values (a [`Plan`] with its [`PlanContext`], an apply outcome, wait events)
//! and write them to any `io::Write`; they know nothing of HTTP or YAML. The JSON documents
//! are a versioned contract (docs/output.md), written from one typed schema ([`json`]).
//!
//! - [`text`]: the plan for people;
//! - [`json`]: the typed plan document ([`PlanDoc`]) used for `plan --format json`, the apply
//!   document and saved plans;
//! - [`markdown`]: the plan as a pull-request comment;
//! - [`diff`]: the declared-versus-live unified diff;
//! - [`report`]: the [`Reporter`]s of `apply` (text as it happens, or one JSON document);
//! - [`notes`]: the other sentences commands print (whoami, export headers, saved-plan notes).

pub(crate) mod diff;
pub(crate) mod fleet;
pub(crate) mod json;
pub(crate) mod markdown;
pub(crate) mod notes;
pub(crate) mod report;
pub(crate) mod text;

use std::borrow::Cow;

pub use json::FORMAT_VERSION;

#[cfg(doc)]
use crate::plan::Plan;

/// What a plan is about, shown with it.
#[derive(Debug, Clone, Default)]
pub struct PlanContext {
    /// The manifest's path, as given.
    pub manifest: String,
    /// The manifest's SHA-256.
    pub manifest_sha256: String,
    /// The endpoint.
    pub endpoint: String,
    /// The project id.
    pub project_id: String,
    /// Guards that refuse this plan (messages).
    pub refusals: Vec<String>,
    /// List the kept and out-of-scope instances one by one.
    pub verbose: bool,
    /// When the plan was made (RFC 3339, UTC).
    pub created_at: String,
    /// Colour the text output (ANSI).
    pub color: bool,
}

/// `1 instance`, `2 instances`: the one pluralising helper.
pub(crate) fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Text from the API or the manifest, made safe for a terminal line: control characters
/// (newline, ESC, C1) and invisible format characters are written as escapes (`\n`, `\x1b`,
/// `\u{200b}`), so that a name can neither forge a line of the plan nor hide a difference.
pub(crate) fn shown(s: &str) -> Cow<'_, str> {
    // Printable ASCII, the common case, byte by byte.
    if s.bytes().all(|b| (b' '..=b'~').contains(&b)) || !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !needs_escape(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x100 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        }
    }
    Cow::Owned(out)
}

/// What [`shown`] escapes: control, format and line-separator characters.
fn needs_escape(c: char) -> bool {
    crate::util::is_invisible(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_and_invisible_characters_are_escaped() {
        assert_eq!(shown("plain-name"), "plain-name");
        assert_eq!(
            shown("a\nPlan: 0 to delete\x1b[2K\u{9b}"),
            "a\\nPlan: 0 to delete\\x1b[2K\\x9b"
        );
        assert_eq!(shown("caf\u{200b}e"), "caf\\u{200b}e");
        assert_eq!(shown("café"), "café");
    }

    #[test]
    fn plurals() {
        assert_eq!(plural(1, "instance", "instances"), "1 instance");
        assert_eq!(plural(0, "instance", "instances"), "0 instances");
    }
}
