//! Renderers: the plan and the apply report as text for people and JSON for programs.
//!
//! They write to any `io::Write` and know nothing of HTTP or YAML. The JSON document is a
//! versioned contract (docs/output.md).

use std::io::{self, Write};

use serde::Serialize;
use serde_json::{Value, json};

use crate::apply::DeleteOutcome;
use crate::model::{Entry, Instance};
use crate::plan::{Decision, Plan};

/// Version of the JSON plan document.
pub const FORMAT_VERSION: &str = "1";

/// What a plan is about, shown with it.
#[derive(Debug, Clone)]
pub struct PlanContext {
    /// The manifest's path, as given.
    pub manifest: String,
    /// The manifest's SHA-256.
    pub manifest_sha256: String,
    /// The endpoint.
    pub endpoint: String,
    /// The project id.
    pub project_id: String,
    /// Guards that refuse this plan (messages).
    pub refusals: Vec<String>,
    /// List the kept and out-of-scope instances one by one.
    pub verbose: bool,
    /// When the plan was made (RFC 3339, UTC).
    pub created_at: String,
    /// Colour the text output (ANSI).
    pub color: bool,
}

fn created(i: &Instance) -> &str {
    i.created_at.as_deref().unwrap_or("unknown")
}

/// ANSI colours of the plan's marks.
fn paint(text: &str, mark: char, color: bool) -> String {
    let code = match mark {
        '-' => "31", // red: deleted
        '!' => "33", // yellow: protected
        '~' => "36", // cyan: skipped
        '?' => "35", // magenta: missing
        _ => return text.to_owned(),
    };
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

fn line(w: &mut dyn Write, mark: char, d: &Decision, color: bool) -> io::Result<()> {
    let i = &d.instance;
    let head = format!(
        "  {mark} {}  {}  {}  created {}",
        i.name,
        i.id,
        i.status,
        created(i)
    );
    writeln!(w, "{}", paint(&head, mark, color))?;
    writeln!(w, "      {}", d.reason)
}

fn missing_line(w: &mut dyn Write, e: &Entry, color: bool) -> io::Result<()> {
    writeln!(w, "{}", paint(&format!("  ? {}", e.label()), '?', color))
}

/// The summary line: `Plan: 2 to delete, 3 to keep, 1 missing.`, with `N protected`,
/// `N to skip` and `N out of scope` when there are any.
pub fn summary_line(plan: &Plan) -> String {
    let mut parts = vec![
        format!("{} to delete", plan.delete.len()),
        format!("{} to keep", plan.keep.len()),
    ];
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
        "Project {} at {}: {live} live instances; {} declares {}.",
        ctx.project_id,
        ctx.endpoint.trim_end_matches('/'),
        ctx.manifest,
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
            line(w, '-', d, ctx.color)?;
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
            line(w, '~', d, ctx.color)?;
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
                writeln!(
                    w,
                    "  . {}  {}  {}  created {}",
                    i.name,
                    i.id,
                    i.status,
                    created(i)
                )?;
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
        writeln!(w, "Apply would refuse this plan: {r}")?;
    }
    writeln!(w)?;
    if plan.is_empty() {
        writeln!(w, "No changes. Every deletable live instance is declared.")?;
    }
    writeln!(w, "{}", summary_line(plan))
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn instance_json(d: &Decision, with_reason: bool) -> Value {
    let i = &d.instance;
    let mut v = json!({
        "id": i.id,
        "name": i.name,
        "status": i.status,
        "created_at": i.created_at,
        "charging_mode": i.charging_mode,
    });
    if with_reason && let Value::Object(obj) = &mut v {
        obj.insert("reason".to_owned(), json!(d.reason));
    }
    v
}

/// The plan as one JSON document (docs/output.md).
pub fn plan_json(plan: &Plan, ctx: &PlanContext) -> Value {
    json!({
        "format_version": FORMAT_VERSION,
        "manifest": { "path": ctx.manifest, "sha256": ctx.manifest_sha256 },
        "endpoint": ctx.endpoint,
        "project_id": ctx.project_id,
        "created_at": ctx.created_at,
        "summary": {
            "delete": plan.delete.len(),
            "keep": plan.keep.len(),
            "protected": plan.protected.len(),
            "skip": plan.skip.len(),
            "out_of_scope": plan.out_of_scope.len(),
            "missing": plan.missing.len(),
        },
        "delete": plan.delete.iter().map(|d| instance_json(d, true)).collect::<Vec<_>>(),
        "keep": plan.keep.iter().map(|d| instance_json(d, true)).collect::<Vec<_>>(),
        "protected": plan.protected.iter().map(|d| instance_json(d, true)).collect::<Vec<_>>(),
        "skip": plan.skip.iter().map(|d| instance_json(d, true)).collect::<Vec<_>>(),
        "out_of_scope": plan.out_of_scope.len(),
        "missing": plan.missing.iter().map(|e| json!({
            "index": e.index,
            "id": e.id,
            "name": e.name,
        })).collect::<Vec<_>>(),
        "refusals": ctx.refusals,
    })
}

/// Writes [`plan_json`]'s document, pretty-printed, without building it in memory: the same
/// bytes as `serde_json::to_string_pretty(&plan_json(plan, ctx))`, but a plan of 100,000
/// instances does not become 100,000 JSON maps first. No trailing newline.
pub fn write_plan_json(w: &mut dyn Write, plan: &Plan, ctx: &PlanContext) -> io::Result<()> {
    // Fields in alphabetical order: the order `serde_json::Value` objects are written in.
    #[derive(Serialize)]
    struct Doc<'a> {
        created_at: &'a str,
        delete: Decisions<'a>,
        endpoint: &'a str,
        format_version: &'a str,
        keep: Decisions<'a>,
        manifest: Manifest<'a>,
        missing: Vec<Missing<'a>>,
        out_of_scope: usize,
        project_id: &'a str,
        protected: Decisions<'a>,
        refusals: &'a [String],
        skip: Decisions<'a>,
        summary: Summary,
    }
    #[derive(Serialize)]
    struct Manifest<'a> {
        path: &'a str,
        sha256: &'a str,
    }
    #[derive(Serialize)]
    struct Missing<'a> {
        id: &'a Option<String>,
        index: usize,
        name: &'a Option<String>,
    }
    #[derive(Serialize)]
    struct Summary {
        delete: usize,
        keep: usize,
        missing: usize,
        out_of_scope: usize,
        protected: usize,
        skip: usize,
    }
    struct Decisions<'a>(&'a [Decision]);
    impl Serialize for Decisions<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(self.0.iter().map(|d| InstanceDoc {
                charging_mode: d.instance.charging_mode,
                created_at: &d.instance.created_at,
                id: &d.instance.id,
                name: &d.instance.name,
                reason: &d.reason,
                status: &d.instance.status,
            }))
        }
    }
    #[derive(Serialize)]
    struct InstanceDoc<'a> {
        charging_mode: Option<i64>,
        created_at: &'a Option<String>,
        id: &'a str,
        name: &'a str,
        reason: &'a str,
        status: &'a str,
    }
    let doc = Doc {
        created_at: &ctx.created_at,
        delete: Decisions(&plan.delete),
        endpoint: &ctx.endpoint,
        format_version: FORMAT_VERSION,
        keep: Decisions(&plan.keep),
        manifest: Manifest {
            path: &ctx.manifest,
            sha256: &ctx.manifest_sha256,
        },
        missing: plan
            .missing
            .iter()
            .map(|e| Missing {
                id: &e.id,
                index: e.index,
                name: &e.name,
            })
            .collect(),
        out_of_scope: plan.out_of_scope.len(),
        project_id: &ctx.project_id,
        protected: Decisions(&plan.protected),
        refusals: &ctx.refusals,
        skip: Decisions(&plan.skip),
        summary: Summary {
            delete: plan.delete.len(),
            keep: plan.keep.len(),
            missing: plan.missing.len(),
            out_of_scope: plan.out_of_scope.len(),
            protected: plan.protected.len(),
            skip: plan.skip.len(),
        },
    };
    serde_json::to_writer_pretty(w, &doc).map_err(io::Error::other)
}

/// Escapes text from the API or the manifest for a Markdown table cell.
fn md(s: &str) -> String {
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
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn billing(i: &Instance) -> &'static str {
    match i.charging_mode {
        Some(0) => "pay-per-use",
        Some(1) => "prepaid",
        _ => "unknown",
    }
}

/// `3d 4h` since creation, as of the plan's creation time.
fn age(i: &Instance, now: Option<time::OffsetDateTime>) -> String {
    let created = i
        .created_at
        .as_deref()
        .and_then(crate::plan::parse_created_at);
    match (created, now) {
        (Some(c), Some(n)) => match std::time::Duration::try_from(n - c) {
            Ok(d) => crate::plan::short_duration(d),
            Err(_) => "0s".to_owned(),
        },
        _ => "unknown".to_owned(),
    }
}

fn md_table(out: &mut String, ds: &[Decision], now: Option<time::OffsetDateTime>) {
    out.push_str("| Name | ID | Status | Age | Billing | Reason |\n");
    out.push_str("|---|---|---|---|---|---|\n");
    for d in ds {
        let i = &d.instance;
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            md(&i.name),
            md(&i.id),
            md(&i.status),
            age(i, now),
            billing(i),
            md(&d.reason)
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

/// The plan as Markdown for a pull-request comment: renders on GitHub and GitLab (tables,
/// `<details>`; no HTML beyond that, no platform-only syntax).
pub fn plan_markdown(plan: &Plan, ctx: &PlanContext) -> String {
    let now = crate::plan::parse_created_at(&ctx.created_at);
    let mut out = String::new();
    let head = if plan.delete.is_empty() {
        "no deletions".to_owned()
    } else {
        format!(
            "{} to delete",
            plural(plan.delete.len(), "instance", "instances")
        )
    };
    out.push_str(&format!("### dcs-reconcile plan: {head}\n\n"));
    out.push_str(&format!("**{}**\n\n", summary_line(plan)));
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
    if plan.delete.is_empty() {
        out.push_str("\nNo changes. Every deletable live instance is declared.\n");
    } else {
        out.push_str(&format!("\n#### To delete ({})\n\n", plan.delete.len()));
        md_table(&mut out, &plan.delete, now);
    }
    md_details(&mut out, "Protected (never deleted)", &plan.protected, now);
    md_details(&mut out, "Skipped (cannot be deleted now)", &plan.skip, now);
    md_details(&mut out, "Kept (declared)", &plan.keep, now);
    if !plan.missing.is_empty() {
        out.push_str(&format!(
            "\n<details><summary>Missing: declared, not live ({})</summary>\n\n",
            plan.missing.len()
        ));
        for e in &plan.missing {
            out.push_str(&format!("- {}\n", md(&e.label())));
        }
        out.push_str("\nThis tool never creates instances.\n\n</details>\n");
    }
    if !plan.out_of_scope.is_empty() {
        out.push_str(&format!(
            "\n{} out of scope (never touched).\n",
            plural(plan.out_of_scope.len(), "instance is", "instances are")
        ));
    }
    out
}

/// A unified diff between the live instances that are declared or would be deleted (`---`)
/// and what the manifest declares (`+++`), one `name  id` line per instance, sorted: `-` lines
/// would be deleted, `+` lines are declared but missing. Protected, skipped and out-of-scope
/// instances are in neither side. Empty when there is no difference.
pub fn plan_diff(plan: &Plan, ctx: &PlanContext) -> String {
    let row = |i: &Instance| format!("{}  {}\n", i.name, i.id);
    let mut live: Vec<String> = plan
        .keep
        .iter()
        .chain(&plan.delete)
        .map(|d| row(&d.instance))
        .collect();
    let mut declared: Vec<String> = plan.keep.iter().map(|d| row(&d.instance)).collect();
    declared.extend(plan.missing.iter().map(|e| {
        format!(
            "{}  {}\n",
            e.name.as_deref().unwrap_or("-"),
            e.id.as_deref().unwrap_or("-")
        )
    }));
    live.sort();
    declared.sort();
    let (live, declared) = (live.concat(), declared.concat());
    if live == declared {
        return String::new();
    }
    similar::TextDiff::from_lines(&live, &declared)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("live (project {})", ctx.project_id),
            &format!("declared ({})", ctx.manifest),
        )
        .to_string()
}

/// One line of the apply report.
pub fn outcome_line(w: &mut dyn Write, i: &Instance, outcome: &DeleteOutcome) -> io::Result<()> {
    match outcome {
        DeleteOutcome::Deleted => writeln!(w, "  deleted  {} ({})", i.name, i.id),
        DeleteOutcome::Deleting => writeln!(
            w,
            "  deleted  {} ({}): the answer was lost, but the listing shows it DELETING",
            i.name, i.id
        ),
        DeleteOutcome::Failed(why) => writeln!(
            w,
            "  FAILED   {} ({}): {}",
            i.name,
            i.id,
            why.split_whitespace().collect::<Vec<_>>().join(" ")
        ),
    }
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
        }
    }

    fn ctx() -> PlanContext {
        PlanContext {
            manifest: "dcs.yaml".to_owned(),
            manifest_sha256: "ab".repeat(32),
            endpoint: "http://127.0.0.1:8080/".to_owned(),
            project_id: "p1".to_owned(),
            refusals: Vec::new(),
            verbose: false,
            created_at: "2026-01-02T03:04:05Z".to_owned(),
            color: false,
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

    #[test]
    fn streamed_json_is_byte_for_byte_the_document() {
        let mut kept = decision("id-1", "a", "declared by instances[0] (name: a)");
        kept.instance.created_at = None;
        kept.instance.charging_mode = None;
        let plan = Plan {
            delete: vec![
                decision("id-2", "b", "not declared in the manifest"),
                decision("id-4", "d \"quoted\" ü", "not declared in the manifest"),
            ],
            keep: vec![kept],
            protected: vec![decision("id-5", "e", "protected by protect[0] (id: id-5)")],
            skip: vec![decision("id-3", "c", "prepaid")],
            out_of_scope: vec![decision("id-6", "f", "").instance],
            missing: vec![
                Entry {
                    index: 0,
                    id: Some("x".to_owned()),
                    name: None,
                },
                Entry {
                    index: 1,
                    id: None,
                    name: Some("y".to_owned()),
                },
            ],
            declared: 2,
        };
        let mut c = ctx();
        c.refusals = vec!["too many".to_owned()];
        for (plan, c) in [(&plan, &c), (&Plan::default(), &ctx())] {
            let mut out = Vec::new();
            write_plan_json(&mut out, plan, c).unwrap_or_else(|e| panic!("{e}"));
            let want =
                serde_json::to_string_pretty(&plan_json(plan, c)).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(String::from_utf8_lossy(&out), want);
        }
    }

    #[test]
    fn json_plan_has_the_documented_shape() {
        let plan = Plan {
            delete: vec![decision("id-2", "b", "not declared in the manifest")],
            skip: vec![decision("id-3", "c", "prepaid")],
            missing: vec![Entry {
                index: 0,
                id: Some("x".to_owned()),
                name: None,
            }],
            declared: 1,
            ..Plan::default()
        };
        let v = plan_json(&plan, &ctx());
        assert_eq!(v["format_version"], "1");
        assert_eq!(
            v["summary"],
            json!({"delete": 1, "keep": 0, "protected": 0, "skip": 1, "out_of_scope": 0, "missing": 1})
        );
        assert_eq!(v["protected"], json!([]));
        assert_eq!(v["out_of_scope"], 0);
        assert_eq!(v["delete"][0]["name"], "b");
        assert_eq!(v["delete"][0]["status"], "RUNNING");
        assert_eq!(v["delete"][0]["id"], "id-2");
        assert_eq!(v["delete"][0]["reason"], "not declared in the manifest");
        assert_eq!(v["skip"][0]["reason"], "prepaid");
        assert_eq!(
            v["missing"][0],
            json!({"index": 0, "id": "x", "name": null})
        );
    }
}
