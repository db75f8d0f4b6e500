//! The JSON reporter of `apply`: one document at the end (docs/output.md).

use std::io::{self, Write};

use serde::Serialize;

use super::{Reporter, Shown, WaitEvent};
use crate::apply::{Applied, Outcome, TagOutcome};
use crate::error::Result;
use crate::model::Instance;
use crate::plan::{Decision, Stale};
use crate::render::json::{Decisions, FORMAT_VERSION, PlanDoc};

/// One JSON document at the end (docs/output.md).
pub(crate) struct JsonReporter<'w> {
    out: &'w mut dyn Write,
    plan: Option<serde_json::Value>,
    left: Vec<Decision>,
    outcomes: Vec<(Instance, Outcome)>,
    requests: usize,
    recycled: std::collections::HashSet<String>,
    recycle_in_use: bool,
    tags: Vec<(Instance, TagOutcome)>,
}

impl<'w> JsonReporter<'w> {
    /// Writes the document to `out` when the run finishes.
    pub(crate) fn new(out: &'w mut dyn Write) -> Self {
        JsonReporter {
            out,
            plan: None,
            left: Vec::new(),
            outcomes: Vec::new(),
            requests: 0,
            recycled: std::collections::HashSet::new(),
            recycle_in_use: false,
            tags: Vec::new(),
        }
    }
}

/// The `apply --format json` document. Fields in alphabetical order.
#[derive(Serialize)]
struct ApplyDoc<'a> {
    error: Option<String>,
    exit_code: u8,
    format_version: &'a str,
    left_for_next_plan: Vec<LeftDoc<'a>>,
    outcomes: Vec<OutcomeDoc<'a>>,
    plan: &'a Option<serde_json::Value>,
    summary: ApplySummary,
    /// With `deletion.grace`: the tag calls (omitted when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<TagDoc<'a>>,
}

#[derive(Serialize)]
struct TagDoc<'a> {
    action: &'a str,
    id: &'a str,
    message: Option<&'a str>,
    name: &'a str,
    outcome: &'a str,
}

#[derive(Serialize)]
struct LeftDoc<'a> {
    id: &'a str,
    name: &'a str,
    status: &'a str,
}

#[derive(Serialize)]
struct OutcomeDoc<'a> {
    id: &'a str,
    message: Option<&'a str>,
    name: &'a str,
    outcome: &'a str,
    /// With `deletion.recycle_bin`: true when it went to the recycle bin.
    #[serde(skip_serializing_if = "Option::is_none")]
    recoverable: Option<bool>,
}

#[derive(Serialize)]
struct ApplySummary {
    deleted: usize,
    failed: usize,
    requests: usize,
}

impl Reporter for JsonReporter<'_> {
    fn manifest_changed(&mut self, _diff: &str) -> io::Result<()> {
        Ok(())
    }

    fn stale(&mut self, _origin: &str, _stale: &Stale) -> io::Result<()> {
        Ok(())
    }

    fn plan(&mut self, s: Shown<'_>) -> io::Result<()> {
        let doc: PlanDoc<Decisions<'_>> = PlanDoc::of(s.plan, s.context);
        self.recycle_in_use = !s.plan.destinations.is_empty();
        self.plan = Some(serde_json::to_value(doc).map_err(io::Error::other)?);
        if let Some(saved) = s.saved {
            self.left.clone_from(&saved.new_surplus);
        }
        Ok(())
    }

    fn deleting(&mut self, _instances: usize) -> io::Result<()> {
        Ok(())
    }

    fn outcome(&mut self, _instance: &Instance, _outcome: &Outcome) -> io::Result<()> {
        Ok(())
    }

    fn applied(&mut self, applied: &Applied) -> io::Result<()> {
        self.outcomes.clone_from(&applied.outcomes);
        self.requests = applied.requests;
        self.recycled = applied.recycled.iter().cloned().collect();
        self.tags.clone_from(&applied.tags);
        Ok(())
    }

    fn wait(&mut self, _event: WaitEvent<'_>) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, result: &Result<u8>) -> io::Result<()> {
        let outcomes: Vec<OutcomeDoc<'_>> = self
            .outcomes
            .iter()
            .map(|(i, o)| {
                let (outcome, message) = match o {
                    Outcome::Deleted => ("deleted", None),
                    Outcome::Deleting => ("deleting", None),
                    Outcome::NotAttempted(why) => ("not_attempted", Some(why.as_str())),
                    Outcome::Failed(why) => ("failed", Some(why.as_str())),
                    Outcome::Unknown(why) => ("unknown", Some(why.as_str())),
                };
                OutcomeDoc {
                    id: &i.id,
                    message,
                    name: &i.name,
                    outcome,
                    recoverable: (self.recycle_in_use && !o.is_failure())
                        .then(|| self.recycled.contains(&i.id)),
                }
            })
            .collect();
        let failed = outcomes
            .iter()
            .filter(|o| matches!(o.outcome, "failed" | "not_attempted" | "unknown"))
            .count();
        let (exit_code, error) = match result {
            Ok(code) => (*code, None),
            Err(e) => (e.exit_code(), Some(e.to_string())),
        };
        let doc = ApplyDoc {
            error,
            exit_code,
            format_version: FORMAT_VERSION,
            left_for_next_plan: self
                .left
                .iter()
                .map(|d| LeftDoc {
                    id: &d.instance.id,
                    name: &d.instance.name,
                    status: &d.instance.status,
                })
                .collect(),
            summary: ApplySummary {
                deleted: outcomes.len() - failed,
                failed,
                requests: self.requests,
            },
            outcomes,
            plan: &self.plan,
            tags: self
                .tags
                .iter()
                .map(|(i, o)| {
                    let (action, outcome, message) = match o {
                        TagOutcome::Marked(_) => ("mark", "done", None),
                        TagOutcome::Unmarked => ("unmark", "done", None),
                        TagOutcome::Failed(why) => ("tag", "failed", Some(why.as_str())),
                        TagOutcome::NotAttempted(why) => {
                            ("tag", "not_attempted", Some(why.as_str()))
                        }
                    };
                    TagDoc {
                        action,
                        id: &i.id,
                        message,
                        name: &i.name,
                        outcome,
                    }
                })
                .collect(),
        };
        serde_json::to_writer_pretty(&mut *self.out, &doc).map_err(io::Error::other)?;
        writeln!(self.out)?;
        self.out.flush()
    }
}
