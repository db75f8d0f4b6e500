//! A scanner for the plain block style most manifests are written in, streaming its events
//! one at a time instead of loading the whole document first.
//!
//! It reads only a narrow subset of YAML, the one a generated or hand-written manifest of any
//! size uses: ASCII text; block mappings whose keys are plain words (`project_id:`, `name:`);
//! block sequences (`- name: a`, also at the indentation of their key); scalars on one line,
//! plain, `'single'` or `"double"` quoted without escapes; comments and blank lines. Anything
//! else (flow collections, anchors, tags, block scalars, multi-line scalars, escapes, tabs,
//! `\r`, document markers, non-ASCII text, indentation it does not expect) makes it
//! **decline**: it returns [`Decline`] and the caller reads the file with the full YAML parser
//! instead. It never reports an error of its own; declining is always safe.
//!
//! For the documents it accepts, its events are the ones the full parser gives: the
//! differential tests in `tests_stream.rs` hold the two readings equal.

/// The scanner gave up: the document is outside the subset (or is not valid YAML).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Decline;

/// One event of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Event<'a> {
    MappingStart,
    MappingEnd,
    SequenceStart,
    SequenceEnd,
    /// A scalar: its value (a slice of the text) and whether it was plain (YAML types plain
    /// scalars: `~`, `true`, `12`; a quoted scalar is always a string).
    Scalar(&'a str, bool),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Mapping,
    Sequence,
}

/// An open block collection and the column its keys or `-` are at.
#[derive(Debug, Clone, Copy)]
struct Block {
    kind: Kind,
    indent: usize,
}

/// What a content line holds after its indentation.
#[derive(Clone, Copy)]
enum Node<'a> {
    /// `key:` with a value on the same line, or none (the value follows on the next lines, or
    /// is null).
    Key(&'a str, Option<Scalar<'a>>),
    /// `- …`: an item of a sequence; its content starts at `column` (`- ` and any spaces).
    Item(usize, Item<'a>),
}

/// The content of a sequence item on its `- ` line.
#[derive(Clone, Copy)]
enum Item<'a> {
    /// `- key: …`: the item is a mapping whose keys are at the content's column.
    Key(&'a str, Option<Scalar<'a>>),
    /// `- value`.
    Scalar(Scalar<'a>),
}

/// A scalar written on one line.
#[derive(Clone, Copy)]
struct Scalar<'a> {
    value: &'a str,
    plain: bool,
}

impl<'a> Scalar<'a> {
    fn event(self) -> Event<'a> {
        Event::Scalar(self.value, self.plain)
    }
}

/// The longest key the subset reads (the YAML limit for implicit keys is 1024).
const MAX_KEY: usize = 1000;

/// The deepest block nesting accepted (a manifest nests four levels at most).
const MAX_DEPTH: usize = 32;

/// The events of one document, produced as they are asked for.
pub(super) struct Scanner<'a> {
    lines: std::str::Split<'a, char>,
    stack: Vec<Block>,
    /// Set after `key:` with nothing after it: the column of that key's mapping. The value is
    /// whatever the next content line opens, or null.
    pending: Option<usize>,
    /// Events of the current line not handed out yet (a line gives at most a few).
    queue: std::collections::VecDeque<Event<'a>>,
    started: bool,
    finished: bool,
}

impl<'a> Scanner<'a> {
    /// A scanner over `text`; `None` at once when the text is outside the subset in a way
    /// that is cheap to see (non-ASCII, control characters such as tab or `\r`).
    pub(super) fn new(text: &'a str) -> Option<Scanner<'a>> {
        let plain_ascii = text
            .bytes()
            .all(|b| b == b'\n' || (b' '..=b'~').contains(&b));
        plain_ascii.then(|| Scanner {
            lines: text.split('\n'),
            stack: Vec::new(),
            pending: None,
            queue: std::collections::VecDeque::new(),
            started: false,
            finished: false,
        })
    }

    /// The next event; `Ok(None)` after the document's last event.
    pub(super) fn next_event(&mut self) -> Result<Option<Event<'a>>, Decline> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Ok(Some(event));
            }
            if self.finished {
                return Ok(None);
            }
            match self.lines.next() {
                Some(line) => self.line(line)?,
                None => self.finish()?,
            }
        }
    }

    /// Reads one line of text into the queue.
    fn line(&mut self, line: &'a str) -> Result<(), Decline> {
        let content = line.trim_start_matches(' ');
        if content.is_empty() || content.starts_with('#') {
            return Ok(());
        }
        let indent = line.len() - content.len();
        let node = parse_node(content, indent)?;
        if !self.started {
            // The document is a mapping whose keys start the lines.
            if indent != 0 || !matches!(node, Node::Key(..)) {
                return Err(Decline);
            }
            self.started = true;
            self.open(Kind::Mapping, 0)?;
        }
        if let Some(key_indent) = self.pending.take() {
            match node {
                // The value is a sequence, possibly at the key's own indentation.
                Node::Item(..) if indent >= key_indent => self.open(Kind::Sequence, indent)?,
                // The value is a mapping, further in.
                Node::Key(..) if indent > key_indent => self.open(Kind::Mapping, indent)?,
                // Nothing further in: the value was null.
                _ => self.queue.push_back(Event::Scalar("", true)),
            }
        }
        loop {
            let top = *self.stack.last().ok_or(Decline)?;
            if top.indent > indent {
                self.close();
                continue;
            }
            if top.indent < indent {
                // Deeper than any open block, without a key to hold it: a continuation line
                // or an error, either way not the subset's.
                return Err(Decline);
            }
            return match (top.kind, node) {
                (Kind::Mapping, Node::Key(key, value)) => {
                    self.entry(key, value, indent);
                    Ok(())
                }
                (Kind::Sequence, Node::Item(column, item)) => {
                    match item {
                        Item::Scalar(s) => self.queue.push_back(s.event()),
                        Item::Key(key, value) => {
                            self.open(Kind::Mapping, column)?;
                            self.entry(key, value, column);
                        }
                    }
                    Ok(())
                }
                // A key at the column of a sequence ends it when that sequence is the value
                // of a key at the same column (`key:` then `- a` at its indentation).
                (Kind::Sequence, Node::Key(..)) if self.parent_is_mapping_at(indent) => {
                    self.close();
                    continue;
                }
                _ => Err(Decline),
            };
        }
    }

    /// `key: value` or `key:` in the mapping at `indent`.
    fn entry(&mut self, key: &'a str, value: Option<Scalar<'a>>, indent: usize) {
        self.queue.push_back(Event::Scalar(key, true));
        match value {
            Some(s) => self.queue.push_back(s.event()),
            None => self.pending = Some(indent),
        }
    }

    fn parent_is_mapping_at(&self, indent: usize) -> bool {
        let n = self.stack.len();
        n >= 2
            && matches!(self.stack.get(n - 2), Some(b) if b.kind == Kind::Mapping && b.indent == indent)
    }

    fn open(&mut self, kind: Kind, indent: usize) -> Result<(), Decline> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(Decline);
        }
        self.stack.push(Block { kind, indent });
        self.queue.push_back(match kind {
            Kind::Mapping => Event::MappingStart,
            Kind::Sequence => Event::SequenceStart,
        });
        Ok(())
    }

    fn close(&mut self) {
        if let Some(block) = self.stack.pop() {
            self.queue.push_back(match block.kind {
                Kind::Mapping => Event::MappingEnd,
                Kind::Sequence => Event::SequenceEnd,
            });
        }
    }

    /// The end of the text: a pending value is null, every open block is closed.
    fn finish(&mut self) -> Result<(), Decline> {
        if !self.started {
            return Err(Decline);
        }
        if self.pending.take().is_some() {
            self.queue.push_back(Event::Scalar("", true));
        }
        while !self.stack.is_empty() {
            self.close();
        }
        self.finished = true;
        Ok(())
    }
}

/// Reads a content line (after `indent` spaces).
fn parse_node(content: &str, indent: usize) -> Result<Node<'_>, Decline> {
    if let Some(after) = content.strip_prefix("- ") {
        let inner = after.trim_start_matches(' ');
        let column = indent + (content.len() - inner.len());
        if inner.is_empty() || inner.starts_with('#') || inner.starts_with('-') {
            // `-` with its content on the next lines, or `- - x`: not the subset's.
            return Err(Decline);
        }
        let item = match parse_key(inner)? {
            Some((key, value)) => Item::Key(key, value),
            None => Item::Scalar(parse_scalar(inner)?),
        };
        return Ok(Node::Item(column, item));
    }
    match parse_key(content)? {
        Some((key, value)) => Ok(Node::Key(key, value)),
        None => Err(Decline),
    }
}

/// `word:` then the end of the line, a comment or ` value`; `Ok(None)` when the text does not
/// start with a key.
#[allow(clippy::type_complexity)]
fn parse_key(text: &str) -> Result<Option<(&str, Option<Scalar<'_>>)>, Decline> {
    let bytes = text.as_bytes();
    let word = bytes
        .iter()
        .position(|&b| !(b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-' | b'/')))
        .unwrap_or(bytes.len());
    let first_ok = bytes
        .first()
        .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'_');
    if word == 0 || !first_ok || bytes.get(word) != Some(&b':') {
        return Ok(None);
    }
    if word > MAX_KEY {
        // YAML allows at most 1024 characters in a key written without `?`.
        return Err(Decline);
    }
    let rest = &text[word + 1..];
    if !(rest.is_empty() || rest.starts_with(' ')) {
        // `a:b` is one plain scalar, not a key.
        return Ok(None);
    }
    let value = rest.trim_start_matches(' ');
    let key = &text[..word];
    if value.is_empty() || value.starts_with('#') {
        return Ok(Some((key, None)));
    }
    Ok(Some((key, Some(parse_scalar(value)?))))
}

/// A scalar that fills the rest of a line (then maybe spaces and a comment).
fn parse_scalar(text: &str) -> Result<Scalar<'_>, Decline> {
    let Some(first) = text.bytes().next() else {
        return Err(Decline);
    };
    if first == b'\'' || first == b'"' {
        let inner = &text[1..];
        let close = inner.find(first as char).ok_or(Decline)?;
        let value = &inner[..close];
        let after = &inner[close + 1..];
        // No escapes: `''` in single quotes, `\` in double quotes.
        let escaped = if first == b'"' {
            value.contains('\\')
        } else {
            after.starts_with('\'')
        };
        let rest = after.trim_start_matches(' ');
        let ends = rest.is_empty() || (rest.starts_with('#') && rest.len() < after.len());
        if escaped || !ends {
            return Err(Decline);
        }
        return Ok(Scalar {
            value,
            plain: false,
        });
    }
    // A plain scalar may not start with an indicator; `-x` is plain, `- x` is not.
    let indicator = b"-?:,[]{}#&*!|>'\"%@`".contains(&first);
    let dash_word = first == b'-' && text.len() > 1 && !text[1..].starts_with(' ');
    if indicator && !dash_word {
        return Err(Decline);
    }
    let value = match text.find(" #") {
        Some(at) => &text[..at],
        None => text,
    }
    .trim_end_matches(' ');
    if value.contains(": ") || value.ends_with(':') {
        return Err(Decline);
    }
    Ok(Scalar { value, plain: true })
}
