//! The plan as text for people.

use std::io::{self, Write};

use anstyle::{AnsiColor, Style};

use super::{PlanContext, plural, shown};
use crate::model::ActivityFigures;
use crate::model::{Entry, Instance};
use crate::plan::{Decision, Destination, Plan};

fn created(i: &Instance) -> &str {
    i.created_at.as_deref().unwrap_or("unknown")
}

/// Colours of the plan's marks.
fn style(mark: char) -> Style {
    let color = match mark {
        '-' => AnsiColor::Red,     // deleted
        '!' => AnsiColor::Yellow,  // protected
        '~' => AnsiColor::Cyan,    // skipped
        '?' => AnsiColor::Magenta, // missing
        '*' => AnsiColor::Yellow,  // marked for deletion
        _ => return Style::new(),
    };
    Style::new().fg_color(Some(color.into()))
}

fn paint(text: &str, mark: char, color: bool) -> String {
    let style = style(mark);
    if color && style != Style::new() {
        format!("{style}{text}{style:#}")
    } else {
        text.to_owned()
    }
}

/// `name  id  status  created …`, escaped for the terminal.
pub(crate) fn instance_line(i: &Instance) -> String {
    let mut out = Vec::new();
    // Writing to a vector cannot fail, and the parts are strings.
    let _ = write_instance(&mut out, i);
    String::from_utf8_lossy(&out).into_owned()
}

/// [`instance_line`], written straight to `w` (a plan can list 100,000 of them).
fn write_instance(w: &mut dyn Write, i: &Instance) -> io::Result<()> {
    write!(
        w,
        "{}  {}  {}  created {}",
        shown(&i.name),
        shown(&i.id),
        shown(&i.status),
        shown(created(i))
    )
}

/// `  - name  id  status  created …` (painted as [`paint`] would), then the reason.
fn line(w: &mut dyn Write, mark: char, d: &Decision, color: bool) -> io::Result<()> {
    let style = style(mark);
    let painted = color && style != Style::new();
    if painted {
        write!(w, "{style}")?;
    }
    write!(w, "  {mark} ")?;
    write_instance(w, &d.instance)?;
    if painted {
        write!(w, "{style:#}")?;
    }
    writeln!(w)?;
    writeln!(w, "      {}", shown(&d.reason))
}

/// [`line`], then with `-v` the activity guard's figures of the instance, when it checked it.
fn checked_line(
    w: &mut dyn Write,
    mark: char,
    d: &Decision,
    plan: &Plan,
    ctx: &PlanContext,
) -> io::Result<()> {
    line(w, mark, d, ctx.color)?;
    let figures = plan.activity.as_ref().and_then(|a| a.get(&d.instance.id));
    match figures {
        Some(f) if ctx.verbose => writeln!(w, "      {}", activity_text(f)),
        _ => Ok(()),
    }
}

/// `Cloud Eye: peak 0 ops/s, 0 new connections in the last 24h (576 datapoints): idle`.
pub(crate) fn activity_text(f: &ActivityFigures) -> String {
    let verdict = match (f.idle, f.datapoints) {
        (true, _) => "idle",
        (false, 0) => "unknown",
        (false, _) => "in use",
    };
    format!(
        "Cloud Eye: {} ({}): {verdict}",
        f.describe(),
        plural(f.datapoints, "datapoint", "datapoints")
    )
}

fn missing_line(w: &mut dyn Write, e: &Entry, color: bool) -> io::Result<()> {
    writeln!(
        w,
        "{}",
        paint(&format!("  ? {}", shown(&e.label())), '?', color)
    )
}

/// Where a deletion goes, when the recycle bin is in use: `-> recycle bin (7 days)` or
/// `destroyed permanently: why`.
pub(crate) fn destination(plan: &Plan, id: &str) -> Option<String> {
    match plan.destinations.get(id)? {
        Destination::RecycleBin => Some(format!(
            "-> recycle bin ({} days)",
            crate::recycle::KEPT_DAYS
        )),
        Destination::Permanent(why) => Some(format!("destroyed permanently: {why}")),
    }
}

/// The summary line: `Plan: 2 to delete, 3 to keep, 1 missing.`, with `N protected`,
/// `N to skip` and `N out of scope` when there are any; with the recycle bin in use
/// `5 to delete (3 to the recycle bin, 2 permanently)`; with a grace period `N to mark`,
/// `N pending` and `N to unmark` when there are any.
pub fn summary_line(plan: &Plan) -> String {
    let delete = match plan.destination_counts() {
        Some((bin, permanent)) => format!(
            "{} to delete ({bin} to the recycle bin, {permanent} permanently)",
            plan.delete.len()
        ),
        None => format!("{} to delete", plan.delete.len()),
    };
    let mut parts = vec![delete];
    if !plan.mark.is_empty() {
        parts.push(format!("{} to mark", plan.mark.len()));
    }
    if !plan.pending.is_empty() {
        parts.push(format!("{} pending", plan.pending.len()));
    }
    if !plan.unmark.is_empty() {
        parts.push(format!("{} to unmark", plan.unmark.len()));
    }
    parts.push(format!("{} to keep", plan.keep.len()));
    if !plan.protected.is_empty() {
        parts.push(format!("{} protected", plan.protected.len()));
    }
    if !plan.skip.is_empty() {
        parts.push(format!("{} to skip", plan.skip.len()));
    }
    if !plan.out_of_scope.is_empty() {
        parts.push(format!("{} out of scope", plan.out_of_scope.len()));
    }
    parts.push(format!("{} missing", plan.missing.len()));
    format!("Plan: {}.", parts.join(", "))
}

/// Writes the plan for people.
pub fn plan_text(w: &mut dyn Write, plan: &Plan, ctx: &PlanContext) -> io::Result<()> {
    let live = plan.managed() + plan.out_of_scope.len();
    writeln!(
        w,
        "Project {} at {}: {}; {} declares {}.",
        ctx.project_id,
        ctx.endpoint.trim_end_matches('/'),
        plural(live, "live instance", "live instances"),
        shown(&ctx.manifest),
        plural(plan.declared, "instance", "instances"),
    )?;
    if !plan.delete.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "{} will be deleted:",
            plural(plan.delete.len(), "instance", "instances")
        )?;
        for d in &plan.delete {
            checked_line(w, '-', d, plan, ctx)?;
            if let Some(dest) = destination(plan, &d.instance.id) {
                writeln!(w, "      {dest}")?;
            }
        }
    }
    if !plan.mark.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "{} marked for deletion now (tag {}; deleted by a later run once the grace period \
             is over, unless declared again):",
            plural(plan.mark.len(), "instance will be", "instances will be"),
            crate::grace::MARK_KEY
        )?;
        for d in &plan.mark {
            checked_line(w, '*', d, plan, ctx)?;
        }
    }
    if !plan.pending.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "{} marked for deletion, grace period not over (pending):",
            plural(plan.pending.len(), "instance is", "instances are")
        )?;
        for d in &plan.pending {
            checked_line(w, '*', d, plan, ctx)?;
        }
    }
    if !plan.unmark.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "{} no longer surplus: the mark will be removed:",
            plural(
                plan.unmark.len(),
                "marked instance is",
                "marked instances are"
            )
        )?;
        for d in &plan.unmark {
            line(w, '+', d, ctx.color)?;
        }
    }
    if !plan.protected.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "{} not declared but protected (never deleted):",
            plural(plan.protected.len(), "instance is", "instances are")
        )?;
        for d in &plan.protected {
            line(w, '!', d, ctx.color)?;
        }
    }
    if !plan.skip.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "{} not declared but cannot be deleted now (skipped):",
            plural(plan.skip.len(), "instance is", "instances are")
        )?;
        for d in &plan.skip {
            checked_line(w, '~', d, plan, ctx)?;
        }
    }
    if !plan.missing.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "{} no live instance (this tool never creates instances):",
            plural(
                plan.missing.len(),
                "entry in the manifest matches",
                "entries in the manifest match"
            )
        )?;
        for e in &plan.missing {
            missing_line(w, e, ctx.color)?;
        }
    }
    if !plan.out_of_scope.is_empty() {
        writeln!(w)?;
        if ctx.verbose {
            writeln!(
                w,
                "{} out of scope (not managed by this manifest, never touched):",
                plural(plan.out_of_scope.len(), "instance is", "instances are")
            )?;
            for i in &plan.out_of_scope {
                writeln!(w, "  . {}", instance_line(i))?;
            }
        } else {
            writeln!(
                w,
                "{} out of scope (not managed by this manifest, never touched; -v lists them).",
                plural(plan.out_of_scope.len(), "instance is", "instances are")
            )?;
        }
    }
    if ctx.verbose && !plan.keep.is_empty() {
        writeln!(w)?;
        writeln!(
            w,
            "{} kept:",
            plural(plan.keep.len(), "instance", "instances")
        )?;
        for d in &plan.keep {
            line(w, '=', d, ctx.color)?;
        }
    }
    for r in &ctx.refusals {
        writeln!(w)?;
        writeln!(w, "Apply would refuse this plan: {}", shown(r))?;
    }
    writeln!(w)?;
    if plan.is_empty() && !plan.pending.is_empty() {
        writeln!(
            w,
            "No changes now: the marked instances wait for their grace period."
        )?;
    } else if plan.is_empty() {
        writeln!(w, "No changes. Every deletable live instance is declared.")?;
    }
    writeln!(w, "{}", summary_line(plan))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(id: &str, name: &str, reason: &str) -> Decision {
        Decision {
            instance: Instance {
                id: id.to_owned(),
                name: name.to_owned(),
                status: "RUNNING".to_owned(),
                created_at: Some("2024-01-01T00:00:00.000Z".to_owned()),
                charging_mode: Some(0),
                ..Instance::default()
            },
            reason: reason.to_owned(),
            code: crate::plan::ReasonCode::NotDeclared,
        }
    }

    fn ctx() -> PlanContext {
        PlanContext {
            manifest: "dcs.yaml".to_owned(),
            manifest_sha256: "ab".repeat(32),
            endpoint: "http://127.0.0.1:8080/".to_owned(),
            project_id: "p1".to_owned(),
            created_at: "2026-01-02T03:04:05Z".to_owned(),
            ..PlanContext::default()
        }
    }

    fn text(plan: &Plan, ctx: &PlanContext) -> String {
        let mut out = Vec::new();
        plan_text(&mut out, plan, ctx).unwrap_or_default();
        String::from_utf8_lossy(&out).into_owned()
    }

    #[test]
    fn text_plan_lists_deletions_and_missing_and_ends_with_the_summary() {
        let plan = Plan {
            delete: vec![decision("id-2", "b", "not declared in the manifest")],
            keep: vec![decision("id-1", "a", "declared by instances[0] (name: a)")],
            skip: Vec::new(),
            missing: vec![Entry {
                index: 1,
                id: None,
                name: Some("zz".to_owned()),
                region: None,
            }],
            declared: 2,
            ..Plan::default()
        };
        let out = text(&plan, &ctx());
        pretty_assertions::assert_eq!(
            out,
            "Project p1 at http://127.0.0.1:8080: 2 live instances; dcs.yaml declares 2 instances.\n\
             \n\
             1 instance will be deleted:\n\
             \x20 - b  id-2  RUNNING  created 2024-01-01T00:00:00.000Z\n\
             \x20     not declared in the manifest\n\
             \n\
             1 entry in the manifest matches no live instance (this tool never creates instances):\n\
             \x20 ? instances[1] (name: zz)\n\
             \n\
             Plan: 1 to delete, 1 to keep, 1 missing.\n"
        );
    }

    #[test]
    fn no_changes_is_said_plainly() {
        let plan = Plan {
            keep: vec![decision("id-1", "a", "declared")],
            declared: 1,
            ..Plan::default()
        };
        let out = text(&plan, &ctx());
        assert!(out.ends_with("No changes. Every deletable live instance is declared.\nPlan: 0 to delete, 1 to keep, 0 missing.\n"), "{out}");
    }

    #[test]
    fn verbose_lists_kept_instances_and_refusals_are_shown() {
        let plan = Plan {
            keep: vec![decision("id-1", "a", "declared by instances[0] (name: a)")],
            declared: 1,
            ..Plan::default()
        };
        let mut c = ctx();
        c.verbose = true;
        c.refusals = vec!["too many".to_owned()];
        let out = text(&plan, &c);
        assert!(out.contains("1 instance kept:\n  = a  id-1"), "{out}");
        assert!(
            out.contains("Apply would refuse this plan: too many"),
            "{out}"
        );
    }

    fn guarded() -> Plan {
        let mut plan = Plan {
            delete: vec![
                decision("id-1", "idle", "not declared in the manifest"),
                decision("id-2", "busy", "not declared in the manifest"),
            ],
            ..Plan::default()
        };
        let observed = [
            (
                "id-1".to_owned(),
                Some(crate::api::ces::Activity {
                    peak_ops: 0.0,
                    new_connections: 0.0,
                    datapoints: 576,
                }),
            ),
            (
                "id-2".to_owned(),
                Some(crate::api::ces::Activity {
                    peak_ops: 12.0,
                    new_connections: 40.0,
                    datapoints: 576,
                }),
            ),
        ]
        .into_iter()
        .collect();
        let rule = crate::activity::IdleRule {
            window: std::time::Duration::from_secs(86_400),
            max_ops: 0.0,
            max_connections: 0,
        };
        crate::activity::guard(&mut plan, &rule, &observed);
        plan
    }

    #[test]
    fn activity_figures_show_with_verbose_only_and_the_reason_always() {
        let plan = guarded();
        let quiet = text(&plan, &ctx());
        assert!(
            quiet.contains(
                "  ~ busy  id-2  RUNNING  created 2024-01-01T00:00:00.000Z\n      in use: peak 12 \
                 ops/s, 40 new connections in the last 24h (Cloud Eye)\n"
            ),
            "{quiet}"
        );
        assert!(!quiet.contains("Cloud Eye: "), "{quiet}");
        let mut c = ctx();
        c.verbose = true;
        let loud = text(&plan, &c);
        assert!(
            loud.contains(
                "      not declared in the manifest\n      Cloud Eye: peak 0 ops/s, 0 new \
                 connections in the last 24h (576 datapoints): idle\n"
            ),
            "{loud}"
        );
        assert!(
            loud.contains("(Cloud Eye)\n      Cloud Eye: peak 12 ops/s, 40 new connections in the last 24h (576 datapoints): in use\n"),
            "{loud}"
        );
    }
}
