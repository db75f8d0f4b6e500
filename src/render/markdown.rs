//! The plan as Markdown for a pull-request comment: renders on GitHub and GitLab (tables,
//! `<details>`; no HTML beyond that, no platform-only syntax).

use super::{PlanContext, plural};
use crate::model::Instance;
use crate::plan::{Decision, Plan};
use crate::util::{age, human_duration, parse_time};

/// Escapes text from the API or the manifest for a Markdown table cell or list item.
/// Control and invisible characters are shown escaped, as in the text plan.
pub(crate) fn md(s: &str) -> String {
    let s = super::shown(s);
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '#' | '|' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// `3days 4h` since creation, as of the plan's creation time.
fn age_of(i: &Instance, now: Option<time::OffsetDateTime>) -> String {
    let created = i.created_at.as_deref().and_then(parse_time);
    match (created, now) {
        (Some(c), Some(n)) => match age(c, n) {
            Some(d) => human_duration(d),
            None => "in the future".to_owned(),
        },
        _ => "unknown".to_owned(),
    }
}

fn md_table(out: &mut String, ds: &[Decision], now: Option<time::OffsetDateTime>) {
    md_table_with(out, ds, now, None);
}

/// [`md_table`]; with `plan`, a deletion's reason says where it goes.
fn md_table_with(
    out: &mut String,
    ds: &[Decision],
    now: Option<time::OffsetDateTime>,
    plan: Option<&Plan>,
) {
    out.push_str("| Name | ID | Status | Age | Billing | Reason |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for d in ds {
        let i = &d.instance;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            md(&i.name),
            md(&i.id),
            md(&i.status),
            age_of(i, now),
            i.billing().unwrap_or("unknown"),
            match plan.and_then(|p| super::text::destination(p, &i.id)) {
                Some(dest) => md(&format!("{}; {dest}", d.reason)),
                None => md(&d.reason),
            }
        ));
    }
}

fn md_details(out: &mut String, title: &str, ds: &[Decision], now: Option<time::OffsetDateTime>) {
    if ds.is_empty() {
        return;
    }
    out.push_str(&format!(
        "\n<details><summary>{title} ({})</summary>\n\n",
        ds.len()
    ));
    md_table(out, ds, now);
    out.push_str("\n</details>\n");
}

/// The activity guard's figures: one row per instance checked, deletions first, then skips,
/// in the plan's order.
fn md_activity(out: &mut String, plan: &Plan) {
    let Some(figures) = &plan.activity else {
        return;
    };
    let rows: Vec<(&Decision, &crate::model::ActivityFigures)> = plan
        .delete
        .iter()
        .chain(&plan.skip)
        .filter_map(|d| figures.get(&d.instance.id).map(|f| (d, f)))
        .collect();
    let Some((_, first)) = rows.first() else {
        out.push_str(
            "
Activity guard (Cloud Eye): no deletion to check.
",
        );
        return;
    };
    out.push_str(&format!(
        "
#### Activity in the last {} (Cloud Eye, {} checked)

",
        crate::activity::window_text(first.window),
        rows.len()
    ));
    out.push_str("| Name | ID | Peak ops/s | New connections | Datapoints | Verdict |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    let figure = |v: Option<f64>| v.map_or("no data".to_owned(), crate::activity::number_text);
    for (d, f) in rows {
        let verdict = match (f.idle, f.datapoints) {
            (true, _) => "idle",
            (false, 0) => "no data: skipped",
            (false, _) => "in use: skipped",
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {verdict} |\n",
            md(&d.instance.name),
            md(&d.instance.id),
            figure(f.peak_ops),
            figure(f.new_connections),
            f.datapoints,
        ));
    }
}

/// The plan as Markdown. Deletions and missing entries are always shown in full: a missing
/// entry next to a deletion is how a reviewer spots a misspelt name.
pub fn plan_markdown(plan: &Plan, ctx: &PlanContext) -> String {
    plan_markdown_at(plan, ctx, 3, "dcs-reconcile plan: ")
}

/// The plan of one target of several, its title at heading `level` (its sections one below).
pub(crate) fn plan_markdown_in(plan: &Plan, ctx: &PlanContext, level: usize) -> String {
    plan_markdown_at(plan, ctx, level, "")
}

fn plan_markdown_at(plan: &Plan, ctx: &PlanContext, level: usize, title: &str) -> String {
    let h = "#".repeat(level);
    let sub = "#".repeat(level.saturating_add(1));
    let now = parse_time(&ctx.created_at);
    let mut out = String::new();
    let head = if plan.delete.is_empty() && !plan.mark.is_empty() {
        format!(
            "{} to mark for deletion",
            plural(plan.mark.len(), "instance", "instances")
        )
    } else if plan.delete.is_empty() {
        "no deletions".to_owned()
    } else {
        format!(
            "{} to delete",
            plural(plan.delete.len(), "instance", "instances")
        )
    };
    out.push_str(&format!("{h} {title}{head}\n\n"));
    out.push_str(&format!("**{}**\n\n", super::text::summary_line(plan)));
    out.push_str(&format!(
        "Project `{}` at `{}`; manifest `{}` (SHA-256 `{}`); planned {}.\n",
        ctx.project_id.replace('`', "'"),
        ctx.endpoint.trim_end_matches('/').replace('`', "'"),
        ctx.manifest.replace('`', "'"),
        ctx.manifest_sha256,
        ctx.created_at
    ));
    if !ctx.refusals.is_empty() {
        out.push_str("\n> **Apply would refuse this plan** (exit 3, nothing deleted):\n");
        for r in &ctx.refusals {
            out.push_str(&format!(">\n> - {}\n", md(r)));
        }
    }
    if plan.is_empty() {
        out.push_str("\nNo changes. Every deletable live instance is declared.\n");
    }
    if !plan.delete.is_empty() {
        out.push_str(&format!("\n{sub} To delete ({})\n\n", plan.delete.len()));
        md_table_with(&mut out, &plan.delete, now, Some(plan));
    }
    if !plan.mark.is_empty() {
        out.push_str(&format!(
            "\n{sub} To mark for deletion ({}): deleted by a later run once the grace period is \
             over\n\n",
            plan.mark.len()
        ));
        md_table(&mut out, &plan.mark, now);
    }
    if !plan.unmark.is_empty() {
        out.push_str(&format!(
            "\n{sub} To unmark: no longer surplus ({})\n\n",
            plan.unmark.len()
        ));
        md_table(&mut out, &plan.unmark, now);
    }
    md_details(
        &mut out,
        "Pending (marked, grace period not over)",
        &plan.pending,
        now,
    );
    md_activity(&mut out, plan);
    if !plan.missing.is_empty() {
        out.push_str(&format!(
            "\n{sub} Missing: declared, not live ({})\n\n",
            plan.missing.len()
        ));
        for e in &plan.missing {
            out.push_str(&format!("- {}\n", md(&e.label())));
        }
        out.push_str("\nThis tool never creates instances.\n");
    }
    md_details(&mut out, "Protected (never deleted)", &plan.protected, now);
    md_details(&mut out, "Skipped (cannot be deleted now)", &plan.skip, now);
    md_details(&mut out, "Kept (declared)", &plan.keep, now);
    if !plan.out_of_scope.is_empty() {
        out.push_str(&format!(
            "\n{} out of scope (never touched).\n",
            plural(plan.out_of_scope.len(), "instance is", "instances are")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Entry;

    #[test]
    fn missing_entries_are_not_collapsed_and_names_are_escaped() {
        let plan = Plan {
            missing: vec![Entry {
                index: 0,
                id: None,
                name: Some("caf\u{200b}e|x".to_owned()),
                region: None,
            }],
            declared: 1,
            ..Plan::default()
        };
        let out = plan_markdown(&plan, &PlanContext::default());
        assert!(
            out.contains("#### Missing: declared, not live (1)\n\n- instances\\[0\\] (name: caf\\\\u{200b}e\\|x)\n"),
            "{out}"
        );
        assert!(!out.contains("<details><summary>Missing"), "{out}");
    }

    #[test]
    fn activity_figures_are_a_table_of_every_instance_checked() {
        let mut plan = Plan::default();
        for (id, name) in [("id-1", "idle"), ("id-2", "busy"), ("id-3", "dark")] {
            plan.delete.push(Decision {
                instance: Instance {
                    id: id.to_owned(),
                    name: name.to_owned(),
                    status: "RUNNING".to_owned(),
                    charging_mode: Some(0),
                    ..Instance::default()
                },
                reason: "not declared in the manifest".to_owned(),
                code: crate::plan::ReasonCode::NotDeclared,
            });
        }
        let seen = |ops, conns| {
            Some(crate::api::ces::Activity {
                peak_ops: ops,
                new_connections: conns,
                datapoints: 10,
            })
        };
        let observed = [
            ("id-1".to_owned(), seen(0.0, 0.0)),
            ("id-2".to_owned(), seen(7.5, 3.0)),
        ]
        .into_iter()
        .collect();
        let rule = crate::activity::IdleRule {
            window: std::time::Duration::from_secs(2 * 86_400),
            max_ops: 0.0,
            max_connections: 0,
        };
        crate::activity::guard(&mut plan, &rule, &observed);
        let out = plan_markdown(&plan, &PlanContext::default());
        assert!(
            out.contains(
                "#### Activity in the last 2d (Cloud Eye, 3 checked)\n\n\
                 | Name | ID | Peak ops/s | New connections | Datapoints | Verdict |\n\
                 |---|---|---|---|---|---|\n\
                 | idle | id-1 | 0 | 0 | 10 | idle |\n\
                 | busy | id-2 | 7.5 | 3 | 10 | in use: skipped |\n\
                 | dark | id-3 | no data | no data | 0 | no data: skipped |\n"
            ),
            "{out}"
        );
        assert!(
            !plan_markdown(&Plan::default(), &PlanContext::default()).contains("Activity"),
            "no guard, no section"
        );
        let nothing = Plan {
            activity: Some(std::collections::BTreeMap::new()),
            ..Plan::default()
        };
        assert!(
            plan_markdown(&nothing, &PlanContext::default())
                .contains("\nActivity guard (Cloud Eye): no deletion to check.\n")
        );
    }
}
