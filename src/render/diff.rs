//! `diff`: the declared instances against the live managed ones, as a unified diff.

use super::PlanContext;
use crate::model::Instance;
use crate::plan::Plan;

/// A unified diff between the live instances that are declared or would be deleted (`---`)
/// and what the manifest declares (`+++`), one `name  id` line per instance, sorted: `-` lines
/// would be deleted, `+` lines are declared but missing. Protected, skipped and out-of-scope
/// instances are in neither side. Empty when there is no difference.
pub fn plan_diff(plan: &Plan, ctx: &PlanContext) -> String {
    let row = |i: &Instance| format!("{}  {}\n", super::shown(&i.name), super::shown(&i.id));
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
            super::shown(e.name.as_deref().unwrap_or("-")),
            super::shown(e.id.as_deref().unwrap_or("-"))
        )
    }));
    live.sort();
    declared.sort();
    let (live, declared) = (live.concat(), declared.concat());
    if live == declared {
        return String::new();
    }
    unified(
        &live,
        &declared,
        &format!("live (project {})", ctx.project_id),
        &format!("declared ({})", ctx.manifest),
    )
}

/// A unified diff of two texts with these headers (the one diff writer of the crate).
pub fn unified(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}
