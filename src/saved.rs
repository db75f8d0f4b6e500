//! Saved plans: `plan --out FILE` writes one, `apply --plan FILE` applies exactly it.
//!
//! A saved plan is the JSON plan document plus the manifest's text. Applying it re-lists the
//! live instances and re-plans them under the plan's own manifest; [`check`] then refuses the
//! saved plan when any instance it deletes is gone, renamed, or would no longer be deleted
//! (kept, protected, skipped, out of scope). Instances that became surplus after the plan was
//! made are not deleted: they are left for the next plan. Pure functions, no I/O.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::Instance;
use crate::plan::{Decision, Overrides, Plan};
use crate::render::PlanContext;

/// The parts of a saved plan that `apply --plan` needs.
#[derive(Debug, Clone, Deserialize)]
pub struct SavedPlan {
    /// Must be [`crate::render::FORMAT_VERSION`].
    pub format_version: String,
    /// When the plan was made.
    pub created_at: String,
    /// The endpoint it was made against.
    pub endpoint: String,
    /// The project it was made for.
    pub project_id: String,
    /// The manifest it was made from.
    pub manifest: SavedManifest,
    /// The instances it deletes.
    pub delete: Vec<SavedInstance>,
    /// The guard overrides (`--allow-empty`, `--max-delete`) the plan was made with.
    #[serde(default)]
    pub overrides: SavedOverrides,
}

/// Guard overrides recorded in a saved plan.
#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
pub struct SavedOverrides {
    /// `--allow-empty`.
    #[serde(default)]
    pub allow_empty: bool,
    /// `--max-delete N`.
    #[serde(default)]
    pub max_delete: Option<usize>,
}

impl From<SavedOverrides> for Overrides {
    fn from(o: SavedOverrides) -> Overrides {
        Overrides {
            allow_empty: o.allow_empty,
            max_delete: o.max_delete,
        }
    }
}

/// The saved-plan document: the JSON plan plus the manifest's text and the guard overrides,
/// so that `apply --plan` can re-plan under exactly the reviewed rules.
pub fn document(
    plan: &Plan,
    ctx: &PlanContext,
    manifest_text: &str,
    overrides: Overrides,
) -> Value {
    let mut doc = crate::render::plan_json(plan, ctx);
    if let Value::Object(obj) = &mut doc {
        if let Some(Value::Object(m)) = obj.get_mut("manifest") {
            m.insert("text".to_owned(), json!(manifest_text));
        }
        obj.insert(
            "overrides".to_owned(),
            json!({"allow_empty": overrides.allow_empty, "max_delete": overrides.max_delete}),
        );
    }
    let digest = fingerprint(&doc);
    if let Value::Object(obj) = &mut doc {
        obj.insert("plan_sha256".to_owned(), json!(digest));
    }
    doc
}

/// SHA-256 of the document's canonical JSON (compact, keys sorted). It catches a saved plan
/// edited by hand or damaged in transit (an override raised, an instance added); it is not a
/// signature: whoever can write the file can recompute it.
fn fingerprint(doc: &Value) -> String {
    crate::api::sign::sha256_hex(doc.to_string().as_bytes())
}

/// The manifest recorded in a saved plan.
#[derive(Debug, Clone, Deserialize)]
pub struct SavedManifest {
    /// Its path when the plan was made.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Its text.
    pub text: String,
}

/// An instance a saved plan deletes, as it was when planned.
#[derive(Debug, Clone, Deserialize)]
pub struct SavedInstance {
    /// `instance_id`.
    pub id: String,
    /// `name`.
    pub name: String,
    /// `status`.
    pub status: String,
    /// `created_at`.
    pub created_at: Option<String>,
}

/// Why a saved plan cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// One line per planned instance that changed.
    pub changes: Vec<String>,
    /// A unified diff of the planned deletions, then and now.
    pub diff: String,
}

/// Reads a saved plan and checks that it is one this version can apply and that its manifest
/// text matches its recorded hash. `origin` names the file in messages.
pub fn parse(bytes: &[u8], origin: &str) -> Result<SavedPlan, String> {
    let not_a_plan = |e: String| {
        format!("{origin}: not a saved plan ({e}); make one with `dcs-reconcile plan --out FILE`")
    };
    let mut value: Value = serde_json::from_slice(bytes).map_err(|e| not_a_plan(e.to_string()))?;
    let recorded = match &mut value {
        Value::Object(obj) => obj.remove("plan_sha256"),
        _ => None,
    };
    let saved: SavedPlan =
        serde_json::from_value(value.clone()).map_err(|e| not_a_plan(e.to_string()))?;
    if saved.format_version != crate::render::FORMAT_VERSION {
        return Err(format!(
            "{origin}: format_version {} is not supported (expected {})",
            saved.format_version,
            crate::render::FORMAT_VERSION
        ));
    }
    match recorded {
        Some(Value::String(digest)) if digest == fingerprint(&value) => {}
        Some(_) => {
            return Err(format!(
                "{origin}: the plan does not match its recorded plan_sha256; the file was \
                 edited after `plan --out` wrote it. Make a new plan and review it"
            ));
        }
        None => return Err(not_a_plan("no plan_sha256".to_owned())),
    }
    if crate::api::sign::sha256_hex(saved.manifest.text.as_bytes()) != saved.manifest.sha256 {
        return Err(format!(
            "{origin}: the manifest text does not match its recorded SHA-256; the file was edited"
        ));
    }
    Ok(saved)
}

/// Where an instance stands in a fresh plan, in words.
fn standing(fresh: &Plan, id: &str) -> String {
    let find = |ds: &[Decision]| {
        ds.iter()
            .find(|d| d.instance.id == id)
            .map(|d| d.reason.clone())
    };
    if let Some(r) = find(&fresh.delete) {
        return format!("delete: {r}");
    }
    if let Some(r) = find(&fresh.keep) {
        return format!("keep: {r}");
    }
    if let Some(r) = find(&fresh.protected) {
        return format!("protected: {r}");
    }
    if let Some(r) = find(&fresh.skip) {
        return format!("skip: {r}");
    }
    if fresh.out_of_scope.iter().any(|i| i.id == id) {
        return "out of scope".to_owned();
    }
    "gone".to_owned()
}

fn saved_line(s: &SavedInstance) -> String {
    format!("{}  {}  {}  delete\n", s.name, s.id, s.status)
}

/// Checks `saved` against `fresh`, a plan of the current live instances `live` under the saved
/// manifest. Returns the decisions to apply (the saved deletions, as they are now), or why the
/// saved plan is stale.
pub fn check(saved: &SavedPlan, fresh: &Plan, live: &[Instance]) -> Result<Vec<Decision>, Stale> {
    let mut changes = Vec::new();
    let mut apply = Vec::new();
    let (mut then, mut now) = (String::new(), String::new());
    // Indexed once: a large saved plan is checked in linear time.
    let live_by_id: std::collections::HashMap<&str, &Instance> =
        live.iter().map(|i| (i.id.as_str(), i)).collect();
    let deletable: std::collections::HashMap<&str, &Decision> = fresh
        .delete
        .iter()
        .map(|d| (d.instance.id.as_str(), d))
        .collect();
    for s in &saved.delete {
        then.push_str(&saved_line(s));
        let Some(current) = live_by_id.get(s.id.as_str()) else {
            changes.push(format!("{} ({}) is gone", s.name, s.id));
            now.push_str(&format!("{}  {}  gone\n", s.name, s.id));
            continue;
        };
        let place = standing(fresh, &s.id);
        now.push_str(&format!(
            "{}  {}  {}  {}\n",
            current.name,
            current.id,
            current.status,
            if place.starts_with("delete") {
                "delete"
            } else {
                &place
            }
        ));
        if current.name != s.name {
            changes.push(format!(
                "{} ({}) was renamed to `{}`",
                s.name, s.id, current.name
            ));
        } else if let Some(d) = deletable.get(s.id.as_str()) {
            apply.push((*d).clone());
        } else {
            changes.push(format!(
                "{} ({}) would no longer be deleted: {place}",
                s.name, s.id
            ));
        }
    }
    if changes.is_empty() {
        return Ok(apply);
    }
    let diff = similar::TextDiff::from_lines(&then, &now)
        .unified_diff()
        .header(&format!("planned ({})", saved.created_at), "now")
        .to_string();
    Err(Stale { changes, diff })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str, name: &str) -> Instance {
        Instance {
            id: id.to_owned(),
            name: name.to_owned(),
            status: "RUNNING".to_owned(),
            ..Instance::default()
        }
    }

    fn decision(i: Instance, reason: &str) -> Decision {
        Decision {
            instance: i,
            reason: reason.to_owned(),
        }
    }

    fn saved(ids: &[(&str, &str)]) -> SavedPlan {
        SavedPlan {
            format_version: "1".to_owned(),
            created_at: "2026-01-01T00:00:00Z".to_owned(),
            endpoint: "http://127.0.0.1:1/".to_owned(),
            project_id: "p".to_owned(),
            manifest: SavedManifest {
                path: "dcs.yaml".to_owned(),
                sha256: String::new(),
                text: String::new(),
            },
            delete: ids
                .iter()
                .map(|(id, name)| SavedInstance {
                    id: (*id).to_owned(),
                    name: (*name).to_owned(),
                    status: "RUNNING".to_owned(),
                    created_at: None,
                })
                .collect(),
            overrides: SavedOverrides::default(),
        }
    }

    #[test]
    fn an_unchanged_world_applies_exactly_the_saved_deletions() {
        let live = [inst("1", "a"), inst("2", "b"), inst("3", "new-surplus")];
        let fresh = Plan {
            delete: live
                .iter()
                .cloned()
                .map(|i| decision(i, "not declared"))
                .collect(),
            ..Plan::default()
        };
        let ok = check(&saved(&[("1", "a"), ("2", "b")]), &fresh, &live);
        let ids: Vec<String> = ok
            .unwrap_or_default()
            .into_iter()
            .map(|d| d.instance.id)
            .collect();
        assert_eq!(ids, ["1", "2"], "the new surplus is left for the next plan");
    }

    #[test]
    fn gone_renamed_and_no_longer_deletable_instances_make_the_plan_stale() {
        let live = [inst("2", "b-renamed"), inst("3", "c"), inst("4", "d")];
        let fresh = Plan {
            keep: vec![decision(
                live[1].clone(),
                "declared by instances[0] (name: c)",
            )],
            protected: vec![decision(live[2].clone(), "protected by protect[0] (id: 4)")],
            delete: vec![decision(live[0].clone(), "not declared")],
            ..Plan::default()
        };
        let stale = check(
            &saved(&[("1", "a"), ("2", "b"), ("3", "c"), ("4", "d")]),
            &fresh,
            &live,
        )
        .err()
        .unwrap_or_else(|| panic!("expected stale"));
        assert_eq!(
            stale.changes,
            [
                "a (1) is gone",
                "b (2) was renamed to `b-renamed`",
                "c (3) would no longer be deleted: keep: declared by instances[0] (name: c)",
                "d (4) would no longer be deleted: protected: protected by protect[0] (id: 4)",
            ]
        );
        assert!(
            stale
                .diff
                .contains("--- planned (2026-01-01T00:00:00Z)\n+++ now\n"),
            "{}",
            stale.diff
        );
        assert!(
            stale.diff.contains("-a  1  RUNNING  delete\n"),
            "{}",
            stale.diff
        );
        assert!(stale.diff.contains("+a  1  gone\n"), "{}", stale.diff);
        assert!(
            stale
                .diff
                .contains("+c  3  RUNNING  keep: declared by instances[0] (name: c)\n"),
            "{}",
            stale.diff
        );
    }

    #[test]
    fn saved_plans_are_checked_for_version_and_integrity() {
        let text = "instances: []\n";
        let good = serde_json::json!({
            "format_version": "1", "created_at": "t", "endpoint": "e", "project_id": "p",
            "manifest": {"path": "dcs.yaml", "sha256": crate::api::sign::sha256_hex(text.as_bytes()), "text": text},
            "delete": [], "summary": {}
        });
        let mut good = good;
        let digest = fingerprint(&good);
        good["plan_sha256"] = serde_json::json!(digest);
        assert!(parse(good.to_string().as_bytes(), "plan.json").is_ok());
        let mut raised = good.clone();
        raised["delete"] = serde_json::json!([{"id": "x", "name": "x", "status": "RUNNING"}]);
        assert!(
            parse(raised.to_string().as_bytes(), "plan.json")
                .err()
                .unwrap_or_default()
                .contains("plan_sha256")
        );
        let mut edited = good.clone();
        edited["manifest"]["text"] = serde_json::json!("instances: [x]\n");
        assert!(
            parse(edited.to_string().as_bytes(), "plan.json")
                .err()
                .unwrap_or_default()
                .contains("was edited")
        );
        let mut future = good;
        future["format_version"] = serde_json::json!("9");
        assert!(
            parse(future.to_string().as_bytes(), "plan.json")
                .err()
                .unwrap_or_default()
                .contains("not supported")
        );
        assert!(
            parse(b"{}", "plan.json")
                .err()
                .unwrap_or_default()
                .starts_with("plan.json: not a saved plan")
        );
    }

    #[test]
    fn a_written_document_parses_back_with_its_deletions_and_overrides() {
        let text = "instances:\n  - name: a\n";
        let plan = Plan {
            delete: vec![decision(inst("2", "b"), "not declared in the manifest")],
            declared: 1,
            ..Plan::default()
        };
        let ctx = PlanContext {
            manifest: "dcs.yaml".to_owned(),
            manifest_sha256: crate::api::sign::sha256_hex(text.as_bytes()),
            endpoint: "http://127.0.0.1:1/".to_owned(),
            project_id: "p".to_owned(),
            refusals: Vec::new(),
            verbose: false,
            created_at: "2026-01-01T00:00:00Z".to_owned(),
            color: false,
        };
        let overrides = Overrides {
            allow_empty: true,
            max_delete: Some(7),
        };
        let doc = document(&plan, &ctx, text, overrides);
        let back = parse(doc.to_string().as_bytes(), "plan.json").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.manifest.text, text);
        assert_eq!(back.delete.len(), 1);
        assert_eq!(back.delete[0].id, "2");
        assert_eq!(back.delete[0].name, "b");
        assert_eq!(Overrides::from(back.overrides), overrides);
        assert_eq!(back.endpoint, "http://127.0.0.1:1/");
    }
}
