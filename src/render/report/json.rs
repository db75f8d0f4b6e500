//! The JSON reporter of `apply`: one document at the end (docs/output.md).

use std::io::{self, Write};

use serde::Serialize;

use super::{Reporter, Shown, WaitEvent};
use crate::apply::{Applied, Outcome, TagOutcome};
use crate::error::Result;
use crate::model::Instance;
use crate::plan::{Decision, Stale};
use crate::render::fleet::TargetLabel;
use crate::render::json::{Decisions, FORMAT_VERSION, PlanDoc};

/// One JSON document at the end (docs/output.md).
pub(crate) struct JsonReporter<'w> {
    out: &'w mut dyn Write,
    /// The targets, in the order their sections started; one without a label for a run of
    /// one target.
    targets: Vec<One>,
    /// A run over several targets: the fleet document.
    fleet: bool,
    /// The target whose section is open.
    at: usize,
}

/// What the report holds of one target. A target's section may start twice (its plan, then
/// its deletions): the second start continues the first.
#[derive(Default)]
struct One {
    label: TargetLabel,
    plan: Option<serde_json::Value>,
    left: Vec<Decision>,
    outcomes: Vec<(Instance, Outcome)>,
    requests: usize,
    recycled: std::collections::HashSet<String>,
    recycle_in_use: bool,
    tags: Vec<(Instance, TagOutcome)>,
    /// Why it could not be planned or applied, and the exit code that goes with it.
    error: Option<(String, u8)>,
}

impl<'w> JsonReporter<'w> {
    /// Writes the document to `out` when the run finishes.
    pub(crate) fn new(out: &'w mut dyn Write) -> Self {
        JsonReporter {
            out,
            targets: Vec::new(),
            fleet: false,
            at: 0,
        }
    }

    fn current(&mut self) -> &mut One {
        if self.targets.is_empty() {
            self.targets.push(One::default());
        }
        let at = self.at.min(self.targets.len() - 1);
        &mut self.targets[at]
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
        let one = self.current();
        one.recycle_in_use = !s.plan.destinations.is_empty();
        one.plan = Some(serde_json::to_value(doc).map_err(io::Error::other)?);
        if let Some(saved) = s.saved {
            one.left.clone_from(&saved.new_surplus);
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
        let one = self.current();
        one.outcomes.clone_from(&applied.outcomes);
        one.requests = applied.requests;
        one.recycled = applied.recycled.iter().cloned().collect();
        one.tags.clone_from(&applied.tags);
        Ok(())
    }

    fn fleet(&mut self) {
        self.fleet = true;
    }

    fn target(&mut self, _n: usize, _of: usize, label: &TargetLabel) -> io::Result<()> {
        self.fleet = true;
        self.at = match self.targets.iter().position(|t| t.label == *label) {
            // Its deletions, after its plan: the section continues.
            Some(at) => at,
            None => {
                self.targets.push(One {
                    label: label.clone(),
                    ..One::default()
                });
                self.targets.len() - 1
            }
        };
        Ok(())
    }

    fn target_failed(&mut self, why: &crate::Error) -> io::Result<()> {
        self.current().error = Some((why.to_string(), why.exit_code()));
        Ok(())
    }

    fn wait(&mut self, _event: WaitEvent<'_>) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, result: &Result<u8>) -> io::Result<()> {
        let (exit_code, error) = match result {
            Ok(code) => (*code, None),
            Err(e) => (e.exit_code(), Some(e.to_string())),
        };
        if !self.fleet {
            self.current();
            let doc = self.targets[0].doc(exit_code, error);
            serde_json::to_writer_pretty(&mut *self.out, &doc).map_err(io::Error::other)?;
            writeln!(self.out)?;
            return self.out.flush();
        }
        let mut targets: Vec<serde_json::Value> = Vec::with_capacity(self.targets.len());
        let mut summary = FleetApplySummary {
            targets: self.targets.len(),
            ..FleetApplySummary::default()
        };
        for one in &self.targets {
            let (code, err) = match &one.error {
                Some((m, c)) => (*c, Some(m.clone())),
                None => (EXIT_OK_CODE, None),
            };
            let doc = one.doc(code, err.clone());
            summary.deleted += doc.summary.deleted;
            summary.failed += doc.summary.failed;
            summary.requests += doc.summary.requests;
            if err.is_some() {
                summary.targets_at_fault.push(one.label.name());
            }
            let mut value = serde_json::to_value(&doc).map_err(io::Error::other)?;
            if let Some(map) = value.as_object_mut() {
                map.remove("format_version");
                map.insert("manifest".to_owned(), serde_json::json!(one.label.manifest));
                map.insert("region".to_owned(), serde_json::json!(one.label.region));
                map.insert(
                    "project_id".to_owned(),
                    serde_json::json!(one.label.project_id),
                );
                map.insert("endpoint".to_owned(), serde_json::json!(one.label.endpoint));
            }
            targets.push(value);
        }
        let doc = FleetApplyDoc {
            error,
            exit_code,
            format_version: FORMAT_VERSION,
            summary,
            targets,
        };
        serde_json::to_writer_pretty(&mut *self.out, &doc).map_err(io::Error::other)?;
        writeln!(self.out)?;
        self.out.flush()
    }
}

const EXIT_OK_CODE: u8 = crate::error::EXIT_OK;

/// The `apply --format json` document of a run over several targets. Fields in
/// alphabetical order.
#[derive(Serialize)]
struct FleetApplyDoc {
    error: Option<String>,
    exit_code: u8,
    format_version: &'static str,
    summary: FleetApplySummary,
    targets: Vec<serde_json::Value>,
}

#[derive(Serialize, Default)]
struct FleetApplySummary {
    deleted: usize,
    failed: usize,
    requests: usize,
    targets: usize,
    targets_at_fault: Vec<String>,
}

impl One {
    /// The single-target apply document of this target.
    fn doc(&self, exit_code: u8, error: Option<String>) -> ApplyDoc<'_> {
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
        ApplyDoc {
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
        }
    }
}
