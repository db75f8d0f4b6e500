//! The reporters of `apply`: they receive the plan, each outcome, the apply result and the
//! wait events, and turn them into text as it happens ([`TextReporter`]) or into one JSON
//! document at the end ([`JsonReporter`]). `apply` itself writes no prose: it tells a
//! [`Reporter`] what happened (in the spirit of ripgrep's printers).

use std::io::{self, Write};
use std::time::Duration;

use super::fleet::TargetLabel;
use super::{PlanContext, plural, shown};
use crate::apply::{Applied, Outcome, TagOutcome};
use crate::error::{Error, Result};
use crate::model::Instance;
use crate::plan::Stale;
use crate::plan::{Decision, Plan};

/// Where a saved plan being applied came from, and what it leaves for the next plan.
#[derive(Debug, Clone)]
pub struct SavedOrigin {
    /// The plan file, as given.
    pub origin: String,
    /// When the plan was made.
    pub created_at: String,
    /// Instances that became surplus after the plan was made: not deleted now.
    pub new_surplus: Vec<Decision>,
}

/// A plan as `apply` shows it before acting on it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shown<'a> {
    /// The plan.
    pub plan: &'a Plan,
    /// What it is about.
    pub context: &'a PlanContext,
    /// Where a saved plan came from, and what it leaves for the next plan.
    pub saved: Option<&'a SavedOrigin>,
}

/// What `apply --wait` sees.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WaitEvent<'a> {
    /// Waiting starts for `total` instances, for at most `timeout`.
    Start { total: usize, timeout: Duration },
    /// One instance left the listing.
    Gone(&'a Instance),
    /// One instance is listed with a new status.
    Status(&'a Instance, &'a str),
    /// One listing is done; this many are still listed.
    Still(usize),
    /// Every instance is gone.
    Done { total: usize, elapsed: Duration },
    /// The timeout passed.
    TimedOut,
}

/// Receives what `apply` does.
pub(crate) trait Reporter {
    /// The manifest given with `--plan` is not the one the plan was made from.
    fn manifest_changed(&mut self, diff: &str) -> io::Result<()>;
    /// The plan no longer matches the live instances.
    fn stale(&mut self, origin: &str, stale: &Stale) -> io::Result<()>;
    /// The plan about to be applied.
    fn plan(&mut self, shown: Shown<'_>) -> io::Result<()>;
    /// Deletion of `instances` starts.
    fn deleting(&mut self, instances: usize) -> io::Result<()>;
    /// One outcome is known.
    fn outcome(&mut self, instance: &Instance, outcome: &Outcome) -> io::Result<()>;
    /// Every planned deletion has an outcome.
    fn applied(&mut self, applied: &Applied) -> io::Result<()>;
    /// `--wait` progress.
    fn wait(&mut self, event: WaitEvent<'_>) -> io::Result<()>;
    /// The run ends with `result`.
    fn finish(&mut self, result: &Result<u8>) -> io::Result<()>;
    /// The run is over several targets: its report is the fleet's, even when it fails before
    /// any target's section starts.
    fn fleet(&mut self) {}
    /// A run over several targets: the section of target `n` (0-based) of `of` starts; what
    /// follows is about it, until the next one.
    fn target(&mut self, n: usize, of: usize, label: &TargetLabel) -> io::Result<()>;
    /// The current target could not be planned, was refused or was left out: `why`.
    fn target_failed(&mut self, why: &Error) -> io::Result<()>;
}

/// Text for people, written as it happens.
pub(crate) struct TextReporter<'w> {
    out: &'w mut dyn Write,
    progress: bool,
    bar: Option<indicatif::ProgressBar>,
    /// With the recycle bin in use: the ids of the plan's recoverable deletions.
    recoverable: Option<std::collections::HashSet<String>>,
    /// A run over several targets: how many sections were started, deleted and failed, and
    /// the targets that failed.
    fleet: Option<FleetTally>,
}

/// What a text report over several targets adds up at the end.
#[derive(Debug, Default)]
struct FleetTally {
    targets: usize,
    deleted: usize,
    failed: usize,
    faults: Vec<String>,
    current: Option<String>,
}

impl<'w> TextReporter<'w> {
    /// Writes to `out`; draws a progress bar on stderr for `--wait` when `progress`.
    pub(crate) fn new(out: &'w mut dyn Write, progress: bool) -> Self {
        TextReporter {
            out,
            progress,
            bar: None,
            recoverable: None,
            fleet: None,
        }
    }
}

/// `  deleted  name (id)`: one line of the apply report.
pub(crate) fn outcome_line(w: &mut dyn Write, i: &Instance, outcome: &Outcome) -> io::Result<()> {
    let (name, id) = (shown(&i.name), shown(&i.id));
    match outcome {
        Outcome::Deleted => writeln!(w, "  deleted  {name} ({id})"),
        Outcome::Deleting => writeln!(
            w,
            "  deleted  {name} ({id}): being deleted (the listing shows it DELETING)"
        ),
        Outcome::Unknown(why) => writeln!(
            w,
            "  UNKNOWN  {name} ({id}): {}",
            shown(&why.split_whitespace().collect::<Vec<_>>().join(" "))
        ),
        Outcome::Failed(why) | Outcome::NotAttempted(why) => writeln!(
            w,
            "  FAILED   {name} ({id}): {}",
            shown(&why.split_whitespace().collect::<Vec<_>>().join(" "))
        ),
    }
}

/// How to restore from the recycle bin, said once after apply.
pub(crate) const RESTORE: &str = "They are kept 7 days; restore one in the DCS console \
     (Recycle Bin > Restore): it comes back as a new instance with a new id and address, so \
     keep a `name:` entry for it in the manifest to have the restored instance matched by name.";

/// `  marked   name (id): value`: one line of the tag calls' report.
fn tag_line(w: &mut dyn Write, i: &Instance, o: &TagOutcome) -> io::Result<()> {
    let (name, id) = (shown(&i.name), shown(&i.id));
    match o {
        TagOutcome::Marked(at) => writeln!(w, "  marked   {name} ({id}) at {}", shown(at)),
        TagOutcome::Unmarked => writeln!(w, "  unmarked {name} ({id})"),
        TagOutcome::Failed(why) | TagOutcome::NotAttempted(why) => writeln!(
            w,
            "  FAILED   {name} ({id}): {}",
            shown(&why.split_whitespace().collect::<Vec<_>>().join(" "))
        ),
    }
}

impl Reporter for TextReporter<'_> {
    fn manifest_changed(&mut self, diff: &str) -> io::Result<()> {
        writeln!(self.out, "{}", shown_lines(diff))
    }

    fn stale(&mut self, origin: &str, stale: &Stale) -> io::Result<()> {
        writeln!(
            self.out,
            "The saved plan {origin} no longer matches the live instances:"
        )?;
        for c in &stale.changes {
            writeln!(self.out, "  {}", shown(c))?;
        }
        writeln!(self.out, "\n{}", shown_lines(&stale.diff))
    }

    fn plan(&mut self, s: Shown<'_>) -> io::Result<()> {
        // A target its guards refuse is at fault: the run does not apply it.
        if !s.context.refusals.is_empty()
            && let Some(t) = &mut self.fleet
            && let Some(name) = t.current.clone()
            && !t.faults.contains(&name)
        {
            t.faults.push(name);
        }
        if !s.plan.destinations.is_empty() {
            self.recoverable = Some(
                s.plan
                    .delete
                    .iter()
                    .filter(|d| s.plan.recoverable(&d.instance.id))
                    .map(|d| d.instance.id.clone())
                    .collect(),
            );
        }
        // Through a buffer: a plan can list 100,000 instances, and stdout is line-buffered.
        let mut w = io::BufWriter::with_capacity(64 * 1024, &mut *self.out);
        if let Some(saved) = s.saved {
            writeln!(
                w,
                "Applying the saved plan {} (made {}); it still matches the live instances.\n",
                saved.origin, saved.created_at
            )?;
        }
        super::text::plan_text(&mut w, s.plan, s.context)?;
        if let Some(saved) = s.saved
            && !saved.new_surplus.is_empty()
        {
            let n = saved.new_surplus.len();
            writeln!(
                w,
                "\n{} became surplus after the plan was made and {} left for the next plan:",
                plural(n, "instance", "instances"),
                if n == 1 { "is" } else { "are" }
            )?;
            for d in &saved.new_surplus {
                let i = &d.instance;
                writeln!(
                    w,
                    "  + {}  {}  {}",
                    shown(&i.name),
                    shown(&i.id),
                    shown(&i.status)
                )?;
            }
        }
        w.flush()
    }

    fn deleting(&mut self, instances: usize) -> io::Result<()> {
        // Recoverable and permanent deletions go in requests of their own.
        let bin = self
            .recoverable
            .as_ref()
            .map_or(0, |r| r.len().min(instances));
        let requests = bin.div_ceil(crate::api::DELETE_BATCH_MAX)
            + (instances - bin).div_ceil(crate::api::DELETE_BATCH_MAX);
        writeln!(
            self.out,
            "\nDeleting {} in {}:",
            plural(instances, "instance", "instances"),
            plural(requests, "request", "requests")
        )
    }

    fn outcome(&mut self, instance: &Instance, outcome: &Outcome) -> io::Result<()> {
        outcome_line(self.out, instance, outcome)?;
        if let Some(recoverable) = &self.recoverable
            && !outcome.is_failure()
        {
            if recoverable.contains(&instance.id) {
                writeln!(
                    self.out,
                    "           -> recycle bin ({} days)",
                    crate::recycle::KEPT_DAYS
                )?;
            } else {
                writeln!(self.out, "           destroyed permanently")?;
            }
        }
        self.out.flush()
    }

    fn applied(&mut self, applied: &Applied) -> io::Result<()> {
        if let Some(t) = &mut self.fleet {
            t.deleted = t.deleted.saturating_add(applied.deleted());
            t.failed = t.failed.saturating_add(applied.failures().len());
        }
        if !applied.tags.is_empty() {
            writeln!(
                self.out,
                "\nMarks for deletion ({}):",
                crate::grace::MARK_KEY
            )?;
            for (i, o) in &applied.tags {
                tag_line(self.out, i, o)?;
            }
        }
        if applied.recycle_rejected {
            writeln!(self.out, "\n{}.", crate::apply::RECYCLE_REJECTED)?;
        }
        if !applied.recycled.is_empty() {
            writeln!(
                self.out,
                "\n{} went to the recycle bin. {RESTORE}",
                plural(applied.recycled.len(), "instance", "instances")
            )?;
        }
        if applied.outcomes.is_empty() && !applied.tags.is_empty() {
            let failed = applied.tags.iter().filter(|(_, o)| o.is_failure()).count();
            return writeln!(
                self.out,
                "\nApply complete: 0 deleted, {} tag calls done, {failed} failed.",
                applied.tags.len() - failed
            );
        }
        writeln!(
            self.out,
            "\nApply complete: {} deleted, {} failed.",
            applied.deleted(),
            applied.failures().len()
        )
    }

    fn wait(&mut self, event: WaitEvent<'_>) -> io::Result<()> {
        match event {
            WaitEvent::Start { total, timeout } => {
                writeln!(
                    self.out,
                    "\nWaiting up to {} for {} to leave the listing:",
                    crate::util::human_duration(timeout),
                    plural(total, "deleted instance", "deleted instances")
                )?;
                if self.progress {
                    let bar = indicatif::ProgressBar::new(total as u64);
                    if let Ok(style) = indicatif::ProgressStyle::with_template(
                        "  {bar:30} {pos}/{len} gone  {elapsed}  {msg}",
                    ) {
                        bar.set_style(style);
                    }
                    self.bar = Some(bar);
                }
            }
            WaitEvent::Gone(i) => match &self.bar {
                Some(bar) => bar.inc(1),
                None => writeln!(
                    self.out,
                    "  gone      {} ({})",
                    shown(&i.name),
                    shown(&i.id)
                )?,
            },
            WaitEvent::Status(i, status) => {
                if self.bar.is_none() {
                    writeln!(
                        self.out,
                        "  {:<9} {} ({})",
                        shown(status),
                        shown(&i.name),
                        shown(&i.id)
                    )?;
                }
            }
            WaitEvent::Still(n) => {
                if let Some(bar) = &self.bar {
                    bar.set_message(format!("{n} still listed"));
                }
            }
            WaitEvent::Done { total, elapsed } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
                writeln!(
                    self.out,
                    "All {total} deleted instances are gone ({}).",
                    crate::util::human_duration(Duration::from_secs(elapsed.as_secs()))
                )?;
            }
            WaitEvent::TimedOut => {
                if let Some(bar) = self.bar.take() {
                    bar.abandon();
                }
            }
        }
        self.out.flush()
    }

    fn finish(&mut self, result: &Result<u8>) -> io::Result<()> {
        if let Some(t) = &self.fleet
            && t.targets > 0
        {
            // Refused or failed before any deletion: the error says why. Never said of a run
            // whose error says deletions were sent (exit 4), even if no outcome reached here.
            let before_any_delete = result
                .as_ref()
                .err()
                .is_some_and(|e| e.exit_code() != crate::error::EXIT_DELETE_FAILED);
            if before_any_delete && t.deleted == 0 && t.failed == 0 {
                writeln!(
                    self.out,
                    "\nFleet: nothing deleted in any of {}.",
                    plural(t.targets, "target", "targets"),
                )?;
            } else {
                writeln!(
                    self.out,
                    "\nFleet: {} deleted, {} failed; {} of {} without a fault.",
                    t.deleted,
                    t.failed,
                    t.targets.saturating_sub(t.faults.len()),
                    plural(t.targets, "target", "targets"),
                )?;
            }
            if !t.faults.is_empty() {
                writeln!(self.out, "  at fault: {}", t.faults.join(", "))?;
            }
            if let Err(e) = result {
                tracing::debug!("fleet run ends with: {e}");
            }
        }
        self.out.flush()
    }

    fn target(&mut self, n: usize, of: usize, label: &TargetLabel) -> io::Result<()> {
        let tally = self.fleet.get_or_insert_with(FleetTally::default);
        tally.targets = of;
        let _ = n;
        tally.current = Some(label.name());
        self.recoverable = None;
        writeln!(self.out)?;
        super::fleet::target_header(self.out, n, of, label)
    }

    fn target_failed(&mut self, why: &Error) -> io::Result<()> {
        if let Some(t) = &mut self.fleet
            && let Some(name) = t.current.clone()
            && !t.faults.contains(&name)
        {
            t.faults.push(name);
        }
        super::fleet::target_error(self.out, why)
    }
}

/// A multi-line text (a diff) with each line escaped for the terminal.
fn shown_lines(text: &str) -> String {
    text.split_inclusive('\n')
        .map(|l| match l.strip_suffix('\n') {
            Some(l) => format!("{}\n", shown(l)),
            None => shown(l).into_owned(),
        })
        .collect()
}

mod json;
use json::JsonReporter;

/// The reporter of an `apply` run, as a value: text or JSON.
pub(crate) fn reporter<'w>(
    json: bool,
    out: &'w mut dyn Write,
    progress: bool,
) -> Box<dyn Reporter + 'w> {
    if json {
        Box::new(JsonReporter::new(out))
    } else {
        Box::new(TextReporter::new(out, progress))
    }
}

/// An error writing the report, as the crate's error.
pub(crate) fn write_error(e: io::Error) -> Error {
    Error::io("<stdout>", e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::ReasonCode;

    fn inst(id: &str, name: &str) -> Instance {
        Instance {
            id: id.to_owned(),
            name: name.to_owned(),
            status: "RUNNING".to_owned(),
            charging_mode: Some(0),
            ..Instance::default()
        }
    }

    fn planned() -> (Plan, PlanContext) {
        let plan = Plan {
            delete: vec![
                Decision {
                    instance: inst("id-1", "a"),
                    reason: "not declared in the manifest".to_owned(),
                    code: ReasonCode::NotDeclared,
                },
                Decision {
                    instance: inst("id-2", "b\nforged"),
                    reason: "not declared in the manifest".to_owned(),
                    code: ReasonCode::NotDeclared,
                },
            ],
            ..Plan::default()
        };
        let ctx = PlanContext {
            project_id: "p".to_owned(),
            endpoint: "http://127.0.0.1:1/".to_owned(),
            ..PlanContext::default()
        };
        (plan, ctx)
    }

    fn applied(plan: &Plan) -> Applied {
        Applied {
            outcomes: vec![
                (plan.delete[0].instance.clone(), Outcome::Deleted),
                (
                    plan.delete[1].instance.clone(),
                    Outcome::Unknown("outcome unknown: no result".to_owned()),
                ),
            ],
            requests: 1,
            ..Applied::default()
        }
    }

    /// Drives a reporter through one run, as `apply` does.
    fn drive(r: &mut dyn Reporter, plan: &Plan, ctx: &PlanContext, result: &Result<u8>) {
        r.plan(Shown {
            plan,
            context: ctx,
            saved: None,
        })
        .expect("plan");
        r.deleting(plan.delete.len()).expect("deleting");
        let a = applied(plan);
        for (i, o) in &a.outcomes {
            r.outcome(i, o).expect("outcome");
        }
        r.applied(&a).expect("applied");
        r.finish(result).expect("finish");
    }

    #[test]
    fn the_text_reporter_writes_as_it_happens_and_escapes_names() {
        let (plan, ctx) = planned();
        let mut out = Vec::new();
        drive(&mut TextReporter::new(&mut out, false), &plan, &ctx, &Ok(0));
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            text.contains("\nDeleting 2 instances in 1 request:\n"),
            "{text}"
        );
        assert!(text.contains("  deleted  a (id-1)\n"), "{text}");
        assert!(
            text.contains("  UNKNOWN  b\\nforged (id-2): outcome unknown: no result\n"),
            "{text}"
        );
        assert!(
            text.ends_with("Apply complete: 1 deleted, 1 failed.\n"),
            "{text}"
        );
    }

    #[test]
    fn a_fleet_that_deleted_nothing_says_so_only_when_no_delete_was_sent() {
        let label = TargetLabel {
            manifest: "a.yaml".to_owned(),
            ..TargetLabel::default()
        };
        let end = |result: &Result<u8>| {
            let mut out = Vec::new();
            let mut r = TextReporter::new(&mut out, false);
            r.target(0, 2, &label).expect("target");
            r.finish(result).expect("finish");
            String::from_utf8(out).expect("utf-8")
        };
        let refused = end(&Err(Error::Guard("refused".to_owned())));
        assert!(
            refused.ends_with("\nFleet: nothing deleted in any of 2 targets.\n"),
            "{refused}"
        );
        // A DELETE was sent and its answer lost before any outcome was reported: the line
        // must not claim that nothing was deleted.
        let sent = end(&Err(Error::DeleteFailed {
            total: 1,
            failed: vec!["a".to_owned()],
        }));
        assert!(!sent.contains("nothing deleted"), "{sent}");
        assert!(sent.contains("\nFleet: 0 deleted, 0 failed;"), "{sent}");
        assert!(end(&Ok(0)).contains("\nFleet: 0 deleted, 0 failed;"));
    }

    #[test]
    fn the_json_reporter_writes_one_document_whose_exit_code_is_the_result() {
        let (plan, ctx) = planned();
        let mut out = Vec::new();
        let failed = Err(Error::DeleteFailed {
            total: 2,
            failed: vec!["b (id-2)".to_owned()],
        });
        drive(&mut JsonReporter::new(&mut out), &plan, &ctx, &failed);
        let doc: serde_json::Value = serde_json::from_slice(&out).expect("one JSON document");
        assert_eq!(doc["exit_code"], 4);
        assert_eq!(doc["error"], "1 of 2 deletions failed: b (id-2)");
        assert_eq!(doc["outcomes"][0]["outcome"], "deleted");
        assert_eq!(doc["outcomes"][1]["outcome"], "unknown");
        assert_eq!(doc["summary"]["deleted"], 1);
        assert_eq!(doc["summary"]["failed"], 1);
        assert_eq!(doc["plan"]["summary"]["delete"], 2);
        assert_eq!(
            doc["plan"]["delete"][1]["name"], "b\nforged",
            "JSON keeps the name"
        );
    }
}
