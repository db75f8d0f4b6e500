//! The one error type of the crate, and the exit codes it maps to.
//!
//! Every message names what it is about: the manifest file with line and column, the instance,
//! or the method and URL of a request. Nothing secret is ever part of a message: credentials are
//! held in redacting types and never formatted here.

use std::path::PathBuf;

/// Exit code: success (and, for `plan --detailed-exitcode`, nothing to delete).
pub const EXIT_OK: u8 = 0;
/// Exit code: any error before anything was deleted (bad input, network, refusal to prompt).
pub const EXIT_ERROR: u8 = 1;
/// Exit code: `plan --detailed-exitcode` found instances to delete.
pub const EXIT_CHANGES: u8 = 2;
/// Exit code: a safety guard refused the run; nothing was deleted.
pub const EXIT_GUARD: u8 = 3;
/// Exit code: `apply` sent deletions and at least one of them failed.
pub const EXIT_DELETE_FAILED: u8 = 4;

/// Everything that can go wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad or contradictory command-line arguments or settings.
    #[error("{0}")]
    Usage(String),

    /// The manifest could not be read or is invalid. `location` is `file[:line[:column]]`.
    #[error("{location}: {message}")]
    Manifest {
        /// `file`, `file:line` or `file:line:column`.
        location: String,
        /// What is wrong.
        message: String,
    },

    /// A file could not be read or written.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    /// The manifest and the live instances disagree about an instance's identity.
    #[error("{}", conflicts.join("\n"))]
    Conflict {
        /// One line per conflicting entry.
        conflicts: Vec<String>,
    },

    /// Missing or incomplete credentials.
    #[error("{0}")]
    Credentials(String),

    /// The request did not get an HTTP answer (connection refused, timeout, TLS).
    #[error("{method} {url}: {message}")]
    Transport {
        /// HTTP method.
        method: String,
        /// Full URL (never contains secrets).
        url: String,
        /// The cause, with its chain.
        message: String,
    },

    /// The API answered with an error status.
    #[error("{0}")]
    Api(Box<ApiError>),

    /// The API answered 2xx with a body that could not be understood.
    #[error("{0}")]
    Decode(Box<DecodeError>),

    /// The listing did not add up (pages overlapping, short or changing while being read).
    #[error("{0}")]
    Listing(String),

    /// `apply` needs a confirmation it cannot get, or the user did not confirm.
    #[error("{0}")]
    NotConfirmed(String),

    /// A safety guard refused the run; nothing was deleted.
    #[error("{0}")]
    Guard(String),

    /// The activity guard could not read Cloud Eye: fail closed, nothing was deleted (exit 1).
    #[error("{0}")]
    Activity(String),

    /// A saved plan (or the plan shown before the prompt) no longer matches the live
    /// instances; nothing was deleted.
    #[error(
        "the {plan} is stale ({} of its {planned} deletions changed); nothing was deleted. Run \
         plan again and review the new plan.",
        changes.len()
    )]
    StalePlan {
        /// `saved plan FILE`, or `plan shown before the prompt`.
        plan: String,
        /// How many deletions it planned.
        planned: usize,
        /// One line per planned instance that changed.
        changes: Vec<String>,
    },

    /// Deletions were sent and at least one of them failed.
    #[error(
        "{} of {total} deletions failed: {}",
        failed.len(),
        failed.join(", ")
    )]
    DeleteFailed {
        /// How many deletions were planned.
        total: usize,
        /// The instances whose deletion failed or was not attempted (`name (id)`).
        failed: Vec<String>,
    },

    /// Tag calls (marks and unmarks of `deletion.grace`) failed; nothing was deleted because
    /// of them.
    #[error(
        "{} of {total} tag calls (marks for deletion) failed: {}; no instance was deleted because of it, the next run tries again",
        failed.len(),
        failed.join(", ")
    )]
    TagFailed {
        /// How many tag calls were planned.
        total: usize,
        /// The instances whose tag call failed or was not attempted (`name (id)`).
        failed: Vec<String>,
    },

    /// A signal stopped `apply`: exit 4 once a DELETE was sent (the report says which), else
    /// 130 (SIGINT) or 143 (SIGTERM).
    #[error(
        "interrupted by {signal}: {not_sent} of {total} planned deletions were not sent{}",
        if *sent { "; deletions were sent before the signal (see above); run plan again to see what is left" } else { "; nothing was deleted" }
    )]
    Interrupted {
        /// `SIGINT` or `SIGTERM`.
        signal: &'static str,
        /// The signal's exit code (130, 143).
        code: u8,
        /// Whether any DELETE was sent.
        sent: bool,
        /// How many planned deletions were not sent.
        not_sent: usize,
        /// How many were planned.
        total: usize,
    },

    /// A run over several targets: some could not be planned, were refused or were skipped.
    /// `code` is the exit code the run ends with (1, 3 or 4).
    #[error("{message}")]
    Fleet {
        /// What happened, naming the targets at fault.
        message: String,
        /// The exit code.
        code: u8,
    },

    /// `apply --wait` timed out with deleted instances still listed.
    #[error("{0}")]
    Wait(String),

    /// The built-in emulator could not start.
    #[error("emulator: {0}")]
    Emulator(String),

    /// A bug: something the code relies on did not hold (an encoding failed, an invariant
    /// broke). Nothing is deleted after one.
    #[error("internal error: {0}; please report it")]
    Internal(String),
}

impl Error {
    /// The documented exit code for this error (see `docs/output.md`).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Guard(_) | Error::StalePlan { .. } => EXIT_GUARD,
            // Deletions were sent: never 1 ("nothing deleted").
            Error::DeleteFailed { .. } | Error::TagFailed { .. } | Error::Wait(_) => {
                EXIT_DELETE_FAILED
            }
            Error::Interrupted { sent: true, .. } => EXIT_DELETE_FAILED,
            Error::Interrupted { code, .. } => *code,
            Error::Fleet { code, .. } => *code,
            _ => EXIT_ERROR,
        }
    }

    /// An I/O error about `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// An error answer of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// HTTP status code.
    pub status: u16,
    /// `error_code` of the body, e.g. `DCS.4800` or `APIGW.0301`.
    pub code: Option<String>,
    /// `error_msg` of the body, or the first bytes of a body that is not a DCS error.
    pub message: Option<String>,
    /// `X-Request-Id` of the answer (or `request_id` of a gateway error body).
    pub request_id: Option<String>,
    /// What the user may do about it.
    pub hint: Option<String>,
}

impl ApiError {
    /// Whether this is a 400 refusing the `is_recycle` field of a delete (a region that does
    /// not know the recycle bin yet): the error names the parameter in its code or message.
    pub fn rejects_recycle(&self) -> bool {
        self.status == 400
            && [&self.code, &self.message]
                .into_iter()
                .flatten()
                .any(|t| t.contains("is_recycle"))
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: HTTP {}", self.method, self.url, self.status)?;
        if let Some(c) = &self.code {
            write!(f, " {c}")?;
        }
        if let Some(m) = &self.message {
            write!(f, ": {m}")?;
        }
        if let Some(r) = &self.request_id {
            write!(f, " (request id {r})")?;
        }
        if let Some(h) = &self.hint {
            write!(f, "\n  hint: {h}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(status: u16, code: &str, message: &str) -> ApiError {
        ApiError {
            method: "DELETE".to_owned(),
            url: "u".to_owned(),
            status,
            code: Some(code.to_owned()),
            message: Some(message.to_owned()),
            request_id: None,
            hint: None,
        }
    }

    #[test]
    fn a_400_naming_is_recycle_rejects_the_recycle_bin() {
        assert!(api(400, "DCS.4800", "Invalid is_recycle in the request.").rejects_recycle());
        assert!(!api(400, "DCS.4800", "Invalid offset in the request.").rejects_recycle());
        assert!(!api(500, "DCS.5000", "is_recycle broke").rejects_recycle());
    }
}

/// A 2xx answer whose body could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// HTTP method.
    pub method: String,
    /// Full URL.
    pub url: String,
    /// HTTP status code.
    pub status: u16,
    /// `X-Request-Id` of the answer.
    pub request_id: Option<String>,
    /// What did not parse.
    pub detail: String,
    /// The first bytes of the body.
    pub snippet: String,
}

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: HTTP {}: unexpected answer",
            self.method, self.url, self.status
        )?;
        if let Some(r) = &self.request_id {
            write!(f, " (request id {r})")?;
        }
        write!(f, ": {}; body starts with: {}", self.detail, self.snippet)
    }
}
