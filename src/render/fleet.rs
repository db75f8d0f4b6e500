//! The documents of a run over several targets: a section per target (text, Markdown) or an
//! entry per target (JSON), and one fleet summary. A run of one target prints today's
//! single-target documents instead (docs/output.md).

use std::io::{self, Write};

use serde::Serialize;

use super::json::{FORMAT_VERSION, PlanDoc, SummaryDoc, summary};
use super::markdown::md;
use super::{PlanContext, plural, shown};
use crate::cli::Shard;
use crate::error::Error;
use crate::plan::Plan;

/// What a target is: its manifest, region, project and endpoint (the last two once known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetLabel {
    /// The manifest's path, as given.
    pub manifest: String,
    /// The region, when the manifest names one.
    pub region: Option<String>,
    /// The project id, once resolved (or as the manifest writes it).
    pub project_id: Option<String>,
    /// The endpoint, once resolved (or as the manifest writes it).
    pub endpoint: Option<String>,
}

impl TargetLabel {
    /// `ci.yaml (cn-north-4)`, or `ci.yaml` without a region: how messages name a target.
    pub fn name(&self) -> String {
        match &self.region {
            Some(r) => format!("{} ({})", shown(&self.manifest), shown(r)),
            None => shown(&self.manifest).into_owned(),
        }
    }

    /// The header line of a target's section: manifest, region, project, endpoint.
    pub fn header(&self) -> String {
        let mut parts = vec![shown(&self.manifest).into_owned()];
        if let Some(r) = &self.region {
            parts.push(format!("region {}", shown(r)));
        }
        if let Some(p) = &self.project_id {
            parts.push(format!("project {}", shown(p)));
        }
        if let Some(e) = &self.endpoint {
            parts.push(shown(e.trim_end_matches('/')).into_owned());
        }
        parts.join(" · ")
    }
}

/// A run over several targets as the printers receive it.
#[derive(Debug, Clone)]
pub(crate) struct Fleet<'a> {
    /// The targets, in order.
    pub targets: Vec<TargetView<'a>>,
    /// `--shard I/N`.
    pub shard: Option<Shard>,
    /// Targets before `--shard`.
    pub total: usize,
    /// Fleet-wide guards that refuse the run (`--max-delete-total`).
    pub refusals: Vec<String>,
}

/// One target as the printers receive it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TargetView<'a> {
    /// What it is.
    pub label: &'a TargetLabel,
    /// Its plan, or why there is none.
    pub result: std::result::Result<(&'a Plan, &'a PlanContext), &'a Error>,
}

/// Where a target stands after planning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Status {
    /// Nothing to delete, mark or unmark.
    NoChanges,
    /// Something to delete, mark or unmark.
    Changes,
    /// A guard refuses the plan: apply would delete nothing in it.
    Refused,
    /// It could not be planned.
    Error,
}

impl TargetView<'_> {
    /// Where it stands.
    pub(crate) fn status(&self) -> Status {
        match self.result {
            Err(_) => Status::Error,
            Ok((_, ctx)) if !ctx.refusals.is_empty() => Status::Refused,
            Ok((plan, _)) if plan.is_empty() => Status::NoChanges,
            Ok(_) => Status::Changes,
        }
    }
}

/// The fleet summary: counts over every target, and which targets have changes, are refused
/// or failed. Fields in alphabetical order.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct FleetSummary {
    /// Instances to delete, over every planned target.
    pub delete: usize,
    /// Targets that could not be planned.
    pub errors: usize,
    /// Declared instances kept.
    pub keep: usize,
    /// Instances to mark for deletion.
    pub mark: usize,
    /// Declared entries with no live instance.
    pub missing: usize,
    /// Live instances out of scope.
    pub out_of_scope: usize,
    /// Marked instances whose grace is not over.
    pub pending: usize,
    /// Undeclared instances kept by `protect`.
    pub protected: usize,
    /// Targets a guard refuses.
    pub refused: usize,
    /// Undeclared instances that cannot be deleted now.
    pub skip: usize,
    /// Targets in this run (after `--shard`).
    pub targets: usize,
    /// Targets a guard refuses, by name.
    pub targets_refused: Vec<String>,
    /// Targets with changes, by name (`ci.yaml (cn-north-4)`).
    pub targets_with_changes: Vec<String>,
    /// Targets that could not be planned, by name.
    pub targets_with_errors: Vec<String>,
    /// Marks to remove.
    pub unmark: usize,
    /// Targets with changes.
    pub with_changes: usize,
}

/// The summary of `views`.
pub(crate) fn fleet_summary(views: &[TargetView<'_>]) -> FleetSummary {
    let mut s = FleetSummary {
        targets: views.len(),
        ..FleetSummary::default()
    };
    for v in views {
        let name = v.label.name();
        match v.status() {
            Status::Error => {
                s.errors += 1;
                s.targets_with_errors.push(name);
            }
            Status::Refused => {
                s.refused += 1;
                s.targets_refused.push(name);
            }
            Status::Changes => {
                s.with_changes += 1;
                s.targets_with_changes.push(name);
            }
            Status::NoChanges => {}
        }
        if let Ok((plan, _)) = v.result {
            let c: SummaryDoc = summary(plan);
            s.delete += c.delete;
            s.keep += c.keep;
            s.mark += c.mark;
            s.missing += c.missing;
            s.out_of_scope += c.out_of_scope;
            s.pending += c.pending;
            s.protected += c.protected;
            s.skip += c.skip;
            s.unmark += c.unmark;
        }
    }
    s
}

/// `Fleet: 12 targets, 7 to delete, 2 to mark, 30 to keep, 1 refused, 1 with an error.`
pub(crate) fn summary_line(s: &FleetSummary, shard: Option<Shard>, total: usize) -> String {
    let mut parts = vec![match shard {
        Some(sh) => format!(
            "{} (shard {sh} of {total} in all)",
            plural(s.targets, "target", "targets")
        ),
        None => plural(s.targets, "target", "targets"),
    }];
    parts.push(format!("{} to delete", s.delete));
    if s.mark > 0 {
        parts.push(format!("{} to mark", s.mark));
    }
    if s.pending > 0 {
        parts.push(format!("{} pending", s.pending));
    }
    if s.unmark > 0 {
        parts.push(format!("{} to unmark", s.unmark));
    }
    parts.push(format!("{} to keep", s.keep));
    if s.missing > 0 {
        parts.push(format!("{} missing", s.missing));
    }
    if s.refused > 0 {
        parts.push(format!(
            "{} refused",
            plural(s.refused, "target", "targets")
        ));
    }
    if s.errors > 0 {
        parts.push(format!(
            "{} with {}",
            plural(s.errors, "target", "targets"),
            if s.errors == 1 { "an error" } else { "errors" }
        ));
    }
    format!("Fleet: {}.", parts.join(", "))
}

/// The per-target lists under the summary line (`  changes: a.yaml, b.yaml (cn-north-4)`).
fn summary_lists(w: &mut dyn Write, s: &FleetSummary) -> io::Result<()> {
    for (what, list) in [
        ("changes", &s.targets_with_changes),
        ("refused", &s.targets_refused),
        ("errors ", &s.targets_with_errors),
    ] {
        if !list.is_empty() {
            writeln!(w, "  {what}: {}", list.join(", "))?;
        }
    }
    Ok(())
}

/// Writes the fleet plan for people: a section per target (`sections`, each written by
/// [`text_section`] as its target was planned), then the fleet summary.
pub(crate) fn fleet_text(
    w: &mut dyn Write,
    fleet: &Fleet<'_>,
    sections: &[Vec<u8>],
) -> io::Result<()> {
    debug_assert_eq!(sections.len(), fleet.targets.len());
    for s in sections {
        w.write_all(s)?;
    }
    text_end(w, fleet)
}

/// Target `n` of `of`'s section of the text fleet plan: its header, its plan or error, and a
/// blank line. It depends on that target alone, so it can be written before the others are
/// planned.
pub(crate) fn text_section(
    w: &mut dyn Write,
    n: usize,
    of: usize,
    v: &TargetView<'_>,
) -> io::Result<()> {
    target_header(w, n, of, v.label)?;
    match v.result {
        Ok((plan, ctx)) => super::text::plan_text(w, plan, ctx)?,
        Err(e) => target_error(w, e)?,
    }
    writeln!(w)
}

/// What follows the sections in the text fleet plan: the fleet summary and the fleet-wide
/// refusals.
fn text_end(w: &mut dyn Write, fleet: &Fleet<'_>) -> io::Result<()> {
    let (views, shard, total) = (&fleet.targets, fleet.shard, fleet.total);
    let s = fleet_summary(views);
    writeln!(w, "{}", summary_line(&s, shard, total))?;
    summary_lists(w, &s)?;
    for r in &fleet.refusals {
        writeln!(w, "Apply would refuse the whole run (exit 3): {}", shown(r))?;
    }
    Ok(())
}

/// `error: …`: a target that could not be resolved or planned, in its section.
pub(crate) fn target_error(w: &mut dyn Write, e: &Error) -> io::Result<()> {
    let text = e.to_string();
    let mut lines = text.lines();
    writeln!(w, "error: {}", shown(lines.next().unwrap_or_default()))?;
    for line in lines {
        writeln!(w, "{}", shown(line))?;
    }
    Ok(())
}

/// A blank line between two targets' sections.
pub(crate) fn between(w: &mut dyn Write) -> io::Result<()> {
    writeln!(w)
}

/// `=== [2/12] ci.yaml · region cn-north-4 · project … · https://… ===`.
pub(crate) fn target_header(
    w: &mut dyn Write,
    n: usize,
    of: usize,
    label: &TargetLabel,
) -> io::Result<()> {
    writeln!(
        w,
        "=== [{}/{of}] {} ===",
        n.saturating_add(1),
        label.header()
    )
}

/// Writes the fleet plan as a pull-request comment: the summary and a table of the targets,
/// then a section per target (`sections`, each made by [`markdown_section`] as its target was
/// planned).
pub(crate) fn fleet_markdown(
    w: &mut dyn Write,
    fleet: &Fleet<'_>,
    sections: &[Vec<u8>],
) -> io::Result<()> {
    debug_assert_eq!(sections.len(), fleet.targets.len());
    w.write_all(markdown_head(fleet).as_bytes())?;
    for s in sections {
        w.write_all(s)?;
    }
    Ok(())
}

/// What precedes the sections in the Markdown fleet plan: the heading, the summary, the
/// fleet-wide refusals and the table of the targets.
fn markdown_head(fleet: &Fleet<'_>) -> String {
    let (views, shard, total) = (&fleet.targets, fleet.shard, fleet.total);
    let s = fleet_summary(views);
    let head = if s.delete == 0 {
        "no deletions".to_owned()
    } else {
        format!("{} to delete", plural(s.delete, "instance", "instances"))
    };
    let mut out = format!(
        "### dcs-reconcile plan: {}, {head}\n\n**{}**\n\n",
        plural(s.targets, "target", "targets"),
        summary_line(&s, shard, total)
    );
    for r in &fleet.refusals {
        out.push_str(&format!(
            "> **Apply would refuse the whole run** (exit 3, nothing deleted): {}\n\n",
            md(r)
        ));
    }
    if !views.is_empty() {
        out.push_str("| target | project | to delete | to mark | to keep | status |\n");
        out.push_str("|---|---|---:|---:|---:|---|\n");
        for v in views {
            let (delete, mark, keep) = match v.result {
                Ok((p, _)) => (
                    p.delete.len().to_string(),
                    p.mark.len().to_string(),
                    p.keep.len().to_string(),
                ),
                Err(_) => ("-".to_owned(), "-".to_owned(), "-".to_owned()),
            };
            let status = match v.status() {
                Status::NoChanges => "no changes",
                Status::Changes => "changes",
                Status::Refused => "**refused**",
                Status::Error => "**error**",
            };
            out.push_str(&format!(
                "| {} | {} | {delete} | {mark} | {keep} | {status} |\n",
                md(&v.label.name()),
                md(v.label.project_id.as_deref().unwrap_or("-")),
            ));
        }
    }
    out
}

/// A target's section of the Markdown fleet plan. It depends on that target alone, so it can
/// be written before the others are planned.
pub(crate) fn markdown_section(v: &TargetView<'_>) -> String {
    let mut out = format!("\n---\n\n#### {}\n\n", md(&v.label.header()));
    match v.result {
        Ok((plan, ctx)) => out.push_str(&super::markdown::plan_markdown_in(plan, ctx, 5)),
        Err(e) => out.push_str(&format!(
            "> **Could not be planned** (nothing is deleted anywhere while a target \
             fails):\n>\n> {}\n",
            md(&e.to_string())
        )),
    }
    out
}

/// One target of the fleet JSON document: the single-target plan document with `region`,
/// `status` and `error`; or, for a target that could not be planned, what is known of it.
fn target_value(v: &TargetView<'_>) -> serde_json::Result<serde_json::Value> {
    let mut value = match v.result {
        Ok((plan, ctx)) => serde_json::to_value(PlanDoc::of(plan, ctx))?,
        Err(e) => serde_json::json!({
            "endpoint": v.label.endpoint,
            "exit_code": e.exit_code(),
            "manifest": {"path": v.label.manifest},
            "project_id": v.label.project_id,
        }),
    };
    if let Some(map) = value.as_object_mut() {
        map.insert("region".to_owned(), serde_json::json!(v.label.region));
        map.insert("status".to_owned(), serde_json::to_value(v.status())?);
        map.insert(
            "error".to_owned(),
            serde_json::json!(v.result.err().map(|e| e.to_string())),
        );
    }
    Ok(value)
}

/// The targets, serialised one at a time (a fleet's instances are never one value).
struct Targets<'v, 'a>(&'v [TargetView<'a>]);

impl Serialize for Targets<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeSeq};
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for v in self.0 {
            seq.serialize_element(&target_value(v).map_err(S::Error::custom)?)?;
        }
        seq.end()
    }
}

/// `--shard I/N` in the document.
#[derive(Serialize)]
struct ShardDoc {
    count: u32,
    index: u32,
    /// Targets in all shards.
    targets_in_all: usize,
}

/// The fleet plan document. Fields in alphabetical order.
#[derive(Serialize)]
struct FleetDoc<'v, 'a> {
    format_version: &'static str,
    /// Fleet-wide guards that refuse the run.
    refusals: &'v [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    shard: Option<ShardDoc>,
    summary: FleetSummary,
    targets: Targets<'v, 'a>,
}

/// Writes the fleet plan document (docs/output.md), pretty-printed, without a trailing
/// newline.
pub(crate) fn write_fleet_json(w: &mut dyn Write, fleet: &Fleet<'_>) -> io::Result<()> {
    let (views, shard, total) = (&fleet.targets, fleet.shard, fleet.total);
    let doc = FleetDoc {
        format_version: FORMAT_VERSION,
        refusals: &fleet.refusals,
        shard: shard.map(|s| ShardDoc {
            count: s.count,
            index: s.index,
            targets_in_all: total,
        }),
        summary: fleet_summary(views),
        targets: Targets(views),
    };
    serde_json::to_writer_pretty(w, &doc).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_escape_what_a_file_name_may_hold() {
        let label = TargetLabel {
            manifest: "envs/\u{1b}[2Jprod.yaml".to_owned(),
            region: Some("cn-north-4".to_owned()),
            project_id: Some("p".to_owned()),
            endpoint: Some("https://dcs.example/".to_owned()),
        };
        assert!(!label.header().contains('\u{1b}'), "{}", label.header());
        assert!(label.name().ends_with(" (cn-north-4)"));
        assert_eq!(
            label.header(),
            format!(
                "{} · region cn-north-4 · project p · https://dcs.example",
                shown(&label.manifest)
            )
        );
    }

    #[test]
    fn the_summary_adds_up_and_names_the_targets() {
        let plan = Plan::default();
        let ctx = PlanContext::default();
        let refused_ctx = PlanContext {
            refusals: vec!["max_delete".to_owned()],
            ..PlanContext::default()
        };
        let error = Error::Usage("no".to_owned());
        let labels: Vec<TargetLabel> = ["a", "b", "c"]
            .iter()
            .map(|m| TargetLabel {
                manifest: (*m).to_owned(),
                ..TargetLabel::default()
            })
            .collect();
        let views = vec![
            TargetView {
                label: &labels[0],
                result: Ok((&plan, &ctx)),
            },
            TargetView {
                label: &labels[1],
                result: Ok((&plan, &refused_ctx)),
            },
            TargetView {
                label: &labels[2],
                result: Err(&error),
            },
        ];
        let s = fleet_summary(&views);
        assert_eq!(
            (s.targets, s.refused, s.errors, s.with_changes),
            (3, 1, 1, 0)
        );
        assert_eq!(s.targets_refused, ["b"]);
        assert_eq!(s.targets_with_errors, ["c"]);
        assert_eq!(
            summary_line(&s, Some(Shard { index: 1, count: 4 }), 9),
            "Fleet: 3 targets (shard 1/4 of 9 in all), 0 to delete, 0 to keep, 1 target refused, 1 target with an error."
        );
    }
}
