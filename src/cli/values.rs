//! The values of the command line that are more than a number or a path: output, log and
//! colour choices, the credential source, `--shard I/N` and durations, with their parsers.

use std::time::Duration;

use clap::ValueEnum;

/// Output formats of `apply`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ApplyFormat {
    /// For people, as it happens.
    Text,
    /// One JSON document at the end (see docs/output.md).
    Json,
}

/// Log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Lines for people.
    Text,
    /// One JSON object per event.
    Json,
}

/// Where credentials come from (`--credentials-source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CredentialsSource {
    /// The chain: SDK and Terraform environment variables, the credentials file, HW_AUTH_TOKEN.
    Auto,
    /// Only the ECS metadata service (temporary credentials, refreshed before they expire).
    Metadata,
}

impl CredentialsSource {
    /// The value, as `DCS_RECONCILE_CREDENTIALS_SOURCE` takes it.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialsSource::Auto => "auto",
            CredentialsSource::Metadata => "metadata",
        }
    }
}

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// On terminals, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// `--shard I/N`: shard `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// This shard, 0-based, below `count`.
    pub index: u32,
    /// How many shards there are, at least 1.
    pub count: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

pub(super) fn parse_shard(text: &str) -> Result<Shard, String> {
    let (i, n) = text
        .trim()
        .split_once('/')
        .ok_or_else(|| "expected I/N, e.g. 0/4 (shard 0 of 4)".to_owned())?;
    let number = |s: &str| {
        s.trim()
            .parse::<u32>()
            .map_err(|_| format!("`{s}` is not a whole number; expected I/N, e.g. 0/4"))
    };
    let (index, count) = (number(i)?, number(n)?);
    if count == 0 || count > 10_000 {
        return Err("the shard count N must be 1 to 10000".to_owned());
    }
    if index >= count {
        return Err(format!(
            "shard {index} of {count} does not exist: shards are numbered 0 to {}",
            count - 1
        ));
    }
    Ok(Shard { index, count })
}

/// A duration: `30s`, `2m`, `1m30s`, `500ms`, or a number of seconds.
pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let d = match t.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(t).map_err(|e| format!("{e} (e.g. 30s, 2m)"))?,
    };
    if d.is_zero() {
        return Err("must be more than zero".to_owned());
    }
    // Far larger than any useful setting, and small enough for every clock to add.
    const MAX: Duration = Duration::from_secs(366 * 86_400);
    if d > MAX {
        return Err("must be at most 366 days".to_owned());
    }
    Ok(d)
}

/// Output formats of `plan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// For people.
    Text,
    /// One JSON document (see docs/output.md).
    Json,
    /// Markdown for a pull-request comment (GitHub, GitLab).
    Markdown,
}
