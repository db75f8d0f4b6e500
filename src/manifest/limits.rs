//! Cheap checks made before the YAML parser sees the text: size, nesting, emptiness.

use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};

/// A manifest larger than this is refused before parsing.
pub const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// Deeper flow nesting than this is refused before parsing: a manifest needs three levels,
/// and the YAML scanner's cost grows with the square of the depth.
pub(super) const MAX_FLOW_DEPTH: usize = 64;

/// Where flow nesting (`[`, `{`) first goes deeper than [`MAX_FLOW_DEPTH`], as 1-based line
/// and column; quoted scalars and comments are skipped. A cheap lexical pass, linear in the
/// text.
pub(super) fn too_deep(text: &str) -> Option<(usize, usize)> {
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

/// True when the text holds no YAML node: only blanks, comments and document markers.
pub(super) fn is_empty_document(text: &str) -> bool {
    text.lines().all(|line| {
        let t = line.trim();
        t.is_empty() || t.starts_with('#') || t == "---" || t == "..."
    })
}

/// Reads all of `reader`, refusing it once more than [`MAX_MANIFEST_BYTES`] have been read:
/// the count is of bytes actually read, never a size the file system reports.
pub(super) fn read_capped(reader: impl Read, path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_MANIFEST_BYTES.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Manifest {
            location: path.display().to_string(),
            message: e.to_string(),
        })?;
    if !u64::try_from(bytes.len()).is_ok_and(|n| n <= MAX_MANIFEST_BYTES) {
        return Err(Error::Manifest {
            location: path.display().to_string(),
            message: format!(
                "more than {MAX_MANIFEST_BYTES} bytes; manifests larger than that are refused"
            ),
        });
    }
    Ok(bytes)
}
