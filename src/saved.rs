//! Saved plans: `plan --out FILE` writes one, `apply --plan FILE` applies exactly it.
//!
//! A saved plan is the JSON plan document ([`PlanDoc`]) plus the manifest's text, the guard
//! overrides and `plan_sha256`, a SHA-256 over the rest of the document. Applying it re-lists
//! the live instances and re-plans them under the plan's own manifest; [`check`] then refuses
//! the saved plan when any instance it deletes is gone, renamed, or would no longer be deleted
//! (kept, protected, skipped, out of scope). Instances that became surplus after the plan was
//! made are not deleted: they are left for the next plan. Pure functions, no I/O.

use std::collections::HashMap;

use serde_json::Value;

use crate::model::Instance;
use crate::plan::{Category, Decision, Overrides, Plan};
use crate::render::PlanContext;
use crate::render::json::{InstanceDoc, OverridesDoc, PlanDoc, SavedDoc};
use crate::util::sha256_hex;

/// A saved plan, read back and checked: the typed document.
#[derive(Debug, Clone)]
pub struct SavedPlan {
    /// The document.
    pub doc: SavedDoc,
    /// The manifest's text (present: [`parse`] refuses a plan without it).
    pub manifest_text: String,
}

impl SavedPlan {
    /// The guard overrides the plan was made with.
    pub fn overrides(&self) -> Overrides {
        let o = self.doc.overrides.unwrap_or_default();
        Overrides {
            allow_empty: o.allow_empty,
            max_delete: o.max_delete,
        }
    }
}

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

/// Why a saved plan cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// One line per planned instance that changed.
    pub changes: Vec<String>,
    /// A unified diff of the planned deletions, then and now.
    pub diff: String,
}

/// The saved-plan document for `plan` as JSON text: the plan document plus the manifest's
/// text and the guard overrides, so that `apply --plan` can re-plan under exactly the
/// reviewed rules, and `plan_sha256` over all of it.
pub fn document(
    plan: &Plan,
    ctx: &PlanContext,
    manifest_text: &str,
    overrides: Overrides,
) -> serde_json::Result<String> {
    let mut doc = PlanDoc::of(plan, ctx);
    doc.manifest.text = Some(manifest_text.to_owned());
    doc.overrides = Some(OverridesDoc {
        allow_empty: overrides.allow_empty,
        max_delete: overrides.max_delete,
    });
    doc.plan_sha256 = Some(fingerprint(&serde_json::to_value(&doc)?));
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    Ok(text)
}

/// SHA-256 of the document's canonical JSON (compact, keys sorted, without `plan_sha256`).
/// It catches a saved plan edited by hand or damaged in transit (an override raised, an
/// instance added); it is not a signature: whoever can write the file can recompute it.
fn fingerprint(doc: &Value) -> String {
    sha256_hex(doc.to_string().as_bytes())
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
    let doc: SavedDoc =
        serde_json::from_value(value.clone()).map_err(|e| not_a_plan(e.to_string()))?;
    if doc.format_version != crate::render::FORMAT_VERSION {
        return Err(format!(
            "{origin}: format_version {} is not supported (expected {})",
            doc.format_version,
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
    let Some(manifest_text) = doc.manifest.text.clone() else {
        return Err(not_a_plan("no manifest text".to_owned()));
    };
    if sha256_hex(manifest_text.as_bytes()) != doc.manifest.sha256 {
        return Err(format!(
            "{origin}: the manifest text does not match its recorded SHA-256; the file was edited"
        ));
    }
    Ok(SavedPlan { doc, manifest_text })
}

/// One line of the then/now diff.
fn diff_line(name: &str, id: &str, rest: &str) -> String {
    format!("{name}  {id}  {rest}\n")
}

/// Checks `saved` against `fresh`, a plan of the current live instances `live` under the saved
/// manifest. Returns the decisions to apply (the saved deletions, as they are now), or why the
/// saved plan is stale.
pub fn check(saved: &SavedPlan, fresh: &Plan, live: &[Instance]) -> Result<Vec<Decision>, Stale> {
    check_items(&saved.doc.delete, &saved.doc.created_at, fresh, live)
}

/// [`check`] for any list of planned deletions (a saved plan's, or the plan shown before the
/// prompt), planned at `planned_at`.
pub fn check_items(
    planned: &[InstanceDoc<'_>],
    planned_at: &str,
    fresh: &Plan,
    live: &[Instance],
) -> Result<Vec<Decision>, Stale> {
    let mut changes = Vec::new();
    let mut apply = Vec::new();
    let (mut then, mut now) = (String::new(), String::new());
    // Indexed once: a large saved plan is checked in linear time.
    let live_by_id: HashMap<&str, &Instance> = live.iter().map(|i| (i.id.as_str(), i)).collect();
    let mut standing: HashMap<&str, (Category, Option<&Decision>)> = HashMap::new();
    for (category, ds) in [
        (Category::Delete, &fresh.delete),
        (Category::Keep, &fresh.keep),
        (Category::Protected, &fresh.protected),
        (Category::Skip, &fresh.skip),
    ] {
        for d in ds {
            standing.insert(d.instance.id.as_str(), (category, Some(d)));
        }
    }
    for i in &fresh.out_of_scope {
        standing.insert(i.id.as_str(), (Category::OutOfScope, None));
    }
    for s in planned {
        then.push_str(&diff_line(&s.name, &s.id, &format!("{}  delete", s.status)));
        let Some(current) = live_by_id.get(s.id.as_ref()) else {
            changes.push(format!("{} ({}) is gone", s.name, s.id));
            now.push_str(&diff_line(&s.name, &s.id, "gone"));
            continue;
        };
        let (category, decision) = standing
            .get(s.id.as_ref())
            .copied()
            .unwrap_or((Category::OutOfScope, None));
        let place = match decision {
            Some(d) if category != Category::Delete => {
                format!("{}: {}", category.as_str(), d.reason)
            }
            _ => category.as_str().to_owned(),
        };
        now.push_str(&diff_line(
            &current.name,
            &current.id,
            &format!("{}  {place}", current.status),
        ));
        if current.name != s.name {
            changes.push(format!(
                "{} ({}) was renamed to `{}`",
                s.name, s.id, current.name
            ));
        } else if let (Category::Delete, Some(d)) = (category, decision) {
            apply.push(d.clone());
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
    let diff = crate::render::diff::unified(&then, &now, &format!("planned ({planned_at})"), "now");
    Err(Stale { changes, diff })
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
            ..Instance::default()
        }
    }

    fn decision(i: Instance, reason: &str) -> Decision {
        Decision {
            instance: i,
            reason: reason.to_owned(),
            code: ReasonCode::NotDeclared,
        }
    }

    fn ctx(text: &str) -> PlanContext {
        PlanContext {
            manifest: "dcs.yaml".to_owned(),
            manifest_sha256: sha256_hex(text.as_bytes()),
            endpoint: "http://127.0.0.1:1/".to_owned(),
            project_id: "p".to_owned(),
            created_at: "2026-01-01T00:00:00Z".to_owned(),
            ..PlanContext::default()
        }
    }

    /// A saved plan deleting `ids` (id, name).
    fn saved(ids: &[(&str, &str)]) -> SavedPlan {
        let plan = Plan {
            delete: ids
                .iter()
                .map(|(id, name)| decision(inst(id, name), "not declared"))
                .collect(),
            ..Plan::default()
        };
        let text = document(&plan, &ctx(""), "", Overrides::default()).expect("encodes");
        parse(text.as_bytes(), "plan.json").expect("parses")
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
        let live = [
            inst("2", "b-renamed"),
            inst("3", "c"),
            inst("4", "d"),
            inst("5", "e"),
        ];
        let fresh = Plan {
            keep: vec![decision(
                live[1].clone(),
                "declared by instances[0] (name: c)",
            )],
            protected: vec![decision(live[2].clone(), "protected by protect[0] (id: 4)")],
            delete: vec![decision(live[0].clone(), "not declared")],
            out_of_scope: vec![live[3].clone()],
            ..Plan::default()
        };
        let stale = check(
            &saved(&[("1", "a"), ("2", "b"), ("3", "c"), ("4", "d"), ("5", "e")]),
            &fresh,
            &live,
        )
        .expect_err("stale");
        assert_eq!(
            stale.changes,
            [
                "a (1) is gone",
                "b (2) was renamed to `b-renamed`",
                "c (3) would no longer be deleted: keep: declared by instances[0] (name: c)",
                "d (4) would no longer be deleted: protected: protected by protect[0] (id: 4)",
                "e (5) would no longer be deleted: out of scope",
            ]
        );
        let diff = &stale.diff;
        assert!(
            diff.contains("--- planned (2026-01-01T00:00:00Z)\n+++ now\n"),
            "{diff}"
        );
        assert!(diff.contains("-a  1  RUNNING  delete\n"), "{diff}");
        assert!(diff.contains("+a  1  gone\n"), "{diff}");
        assert!(diff.contains("+b-renamed  2  RUNNING  delete\n"), "{diff}");
        assert!(
            diff.contains("+c  3  RUNNING  keep: declared by instances[0] (name: c)\n"),
            "{diff}"
        );
    }

    #[test]
    fn saved_plans_are_checked_for_version_and_integrity() {
        let good: Value = serde_json::from_str(
            &document(
                &Plan::default(),
                &ctx("instances: []\n"),
                "instances: []\n",
                Overrides::default(),
            )
            .expect("encodes"),
        )
        .expect("json");
        assert!(parse(good.to_string().as_bytes(), "plan.json").is_ok());
        let mut raised = good.clone();
        raised["delete"] = serde_json::json!([{"id": "x", "name": "x", "status": "RUNNING", "charging_mode": 0, "created_at": null}]);
        assert!(
            parse(raised.to_string().as_bytes(), "plan.json")
                .expect_err("refused")
                .contains("plan_sha256")
        );
        let mut edited = good.clone();
        edited["manifest"]["text"] = serde_json::json!("instances: [x]\n");
        let digest = fingerprint(&{
            let mut v = edited.clone();
            v.as_object_mut().map(|o| o.remove("plan_sha256"));
            v
        });
        edited["plan_sha256"] = serde_json::json!(digest);
        assert!(
            parse(edited.to_string().as_bytes(), "plan.json")
                .expect_err("refused")
                .contains("was edited")
        );
        let mut future = good;
        future["format_version"] = serde_json::json!("9");
        assert!(
            parse(future.to_string().as_bytes(), "plan.json")
                .expect_err("refused")
                .contains("not supported")
        );
        assert!(
            parse(b"{}", "plan.json")
                .expect_err("refused")
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
        let overrides = Overrides {
            allow_empty: true,
            max_delete: Some(7),
        };
        let doc = document(&plan, &ctx(text), text, overrides).expect("encodes");
        let back = parse(doc.as_bytes(), "plan.json").expect("parses");
        assert_eq!(back.manifest_text, text);
        assert_eq!(back.doc.delete.len(), 1);
        assert_eq!(back.doc.delete[0].id, "2");
        assert_eq!(back.doc.delete[0].name, "b");
        assert_eq!(back.doc.delete[0].reason_code, "not_declared");
        assert_eq!(back.overrides(), overrides);
        assert_eq!(back.doc.endpoint, "http://127.0.0.1:1/");
    }
}
