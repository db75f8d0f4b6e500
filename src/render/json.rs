//! The JSON documents, from one typed schema.
//!
//! [`PlanDoc`] is the plan document of docs/output.md. It is written three ways, always from
//! this one definition: streamed by `plan --format json` (borrowing the plan, never building
//! a value per instance), inside the `apply --format json` document, and as a saved plan
//! (`plan --out`), which adds the manifest's text, the guard overrides and `plan_sha256`, and
//! is read back with the same type. Fields are in alphabetical order, the order the documents
//! have always had.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::PlanContext;
use crate::model::ActivityFigures;
use crate::model::Entry;
use crate::plan::{Decision, Destination, Plan};

/// Version of the JSON documents.
pub const FORMAT_VERSION: &str = "1";

/// The plan document. `L` is the type of the instance lists: [`Decisions`] (borrowing a plan)
/// when writing, `Vec<InstanceDoc>` when reading a saved plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(bound(
    serialize = "L: Serialize + Listed",
    deserialize = "L: Deserialize<'de> + Default"
))]
pub struct PlanDoc<L> {
    /// The activity guard's Cloud Eye figures of every instance it checked, by id; absent
    /// when `guards.idle_for` is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<BTreeMap<String, ActivityDoc>>,
    /// When the plan was made (RFC 3339, UTC).
    pub created_at: String,
    /// What `apply` deletes.
    pub delete: L,
    /// The endpoint.
    pub endpoint: String,
    /// [`FORMAT_VERSION`].
    pub format_version: String,
    /// Declared instances.
    #[serde(default)]
    pub keep: L,
    /// The manifest the plan was made from.
    pub manifest: ManifestDoc,
    /// With `deletion.grace`: surplus instances marked for deletion now (omitted when none).
    #[serde(default, skip_serializing_if = "Listed::none")]
    pub mark: L,
    /// Declared entries that match no live instance.
    #[serde(default)]
    pub missing: Vec<MissingDoc>,
    /// How many live instances are out of scope.
    #[serde(default)]
    pub out_of_scope: usize,
    /// With `deletion.grace`: marked instances whose grace is not over (omitted when none).
    #[serde(default, skip_serializing_if = "Listed::none")]
    pub pending: L,
    /// Saved plans only: the guard overrides the plan was made with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<OverridesDoc>,
    /// Saved plans only: SHA-256 of the rest of the document (compact JSON, keys sorted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_sha256: Option<String>,
    /// Saved plans signed with `DCS_RECONCILE_PLAN_KEY`: HMAC-SHA256 of the same bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_signature: Option<String>,
    /// The project id.
    pub project_id: String,
    /// Undeclared instances kept by a `protect` rule.
    #[serde(default)]
    pub protected: L,
    /// Guards that refuse this plan.
    #[serde(default)]
    pub refusals: Vec<String>,
    /// Saved plans of a target of several: its region (which of the manifest's `regions:`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Undeclared instances that cannot be deleted now.
    #[serde(default)]
    pub skip: L,
    /// How many instances are in each category.
    #[serde(default)]
    pub summary: SummaryDoc,
    /// With `deletion.grace`: marks that are removed (omitted when none).
    #[serde(default, skip_serializing_if = "Listed::none")]
    pub unmark: L,
}

/// An instance list of a plan document that may be left out when empty.
pub trait Listed {
    /// True when the list is empty.
    fn none(&self) -> bool;
}

impl Listed for Decisions<'_> {
    fn none(&self) -> bool {
        self.0.is_empty()
    }
}

impl<T> Listed for Vec<T> {
    fn none(&self) -> bool {
        self.is_empty()
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What Cloud Eye showed for one instance checked by the activity guard.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct ActivityDoc {
    /// How many datapoints the figures are made of (0: no monitoring data).
    pub datapoints: usize,
    /// Whether the instance counted as idle (and may be deleted).
    pub idle: bool,
    /// New connections (`total_connections_received`, sum) in the window; null: no data.
    pub new_connections: Option<f64>,
    /// The peak `instantaneous_ops` (ops/s, max) in the window; null: no data.
    pub peak_ops: Option<f64>,
    /// The window (`guards.idle_for`), in seconds, ending when the plan was made.
    pub window_seconds: u64,
}

impl From<&ActivityFigures> for ActivityDoc {
    fn from(f: &ActivityFigures) -> Self {
        ActivityDoc {
            datapoints: f.datapoints,
            idle: f.idle,
            new_connections: f.new_connections,
            peak_ops: f.peak_ops,
            window_seconds: f.window.as_secs(),
        }
    }
}

/// The manifest of a plan document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ManifestDoc {
    /// Its path, as given.
    pub path: String,
    /// SHA-256 of its bytes.
    pub sha256: String,
    /// Saved plans only: its text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// The guard overrides of a saved plan.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OverridesDoc {
    /// `--allow-empty`.
    #[serde(default)]
    pub allow_empty: bool,
    /// `--max-delete N`.
    #[serde(default)]
    pub max_delete: Option<usize>,
    /// `--max-delete-total N` (a plan of one target; a fleet's plan keeps it beside its
    /// targets). Absent when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_delete_total: Option<usize>,
}

/// An entry that matches no live instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MissingDoc {
    /// The entry's `id`.
    pub id: Option<String>,
    /// Its position in `instances:`.
    pub index: usize,
    /// The entry's `name`.
    pub name: Option<String>,
}

/// Category counts.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SummaryDoc {
    /// To delete.
    pub delete: usize,
    /// With `deletion.recycle_bin`: of `delete`, how many are destroyed permanently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_permanently: Option<usize>,
    /// With `deletion.recycle_bin`: of `delete`, how many go to the recycle bin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_to_recycle_bin: Option<usize>,
    /// Declared.
    pub keep: usize,
    /// To mark for deletion (omitted when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mark: usize,
    /// Declared but not live.
    pub missing: usize,
    /// Out of scope.
    pub out_of_scope: usize,
    /// Marked, grace not over (omitted when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub pending: usize,
    /// Protected.
    pub protected: usize,
    /// Skipped.
    pub skip: usize,
    /// Marks to remove (omitted when 0).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unmark: usize,
}

/// One instance of a plan document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct InstanceDoc<'a> {
    /// `charging_mode` as listed: 0 pay-per-use, 1 prepaid, null unknown.
    pub charging_mode: Option<i64>,
    /// `created_at` as listed.
    pub created_at: Option<Cow<'a, str>>,
    /// `mark` and `pending` only: when the instance may be deleted (RFC 3339, UTC).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletable_after: Option<Cow<'a, str>>,
    /// `instance_id`.
    pub id: Cow<'a, str>,
    /// `name`.
    pub name: Cow<'a, str>,
    /// Why the instance is in its category, for people.
    #[serde(default)]
    pub reason: Cow<'a, str>,
    /// Why, as a stable code (`not_declared`, `prepaid`, …).
    #[serde(default)]
    pub reason_code: Cow<'a, str>,
    /// Deletions with `deletion.recycle_bin` only: true when it goes to the recycle bin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recoverable: Option<bool>,
    /// `status`.
    pub status: Cow<'a, str>,
}

impl<'a> From<&'a Decision> for InstanceDoc<'a> {
    fn from(d: &'a Decision) -> Self {
        let i = &d.instance;
        InstanceDoc {
            charging_mode: i.charging_mode,
            created_at: i.created_at.as_deref().map(Cow::Borrowed),
            deletable_after: None,
            id: Cow::Borrowed(&i.id),
            name: Cow::Borrowed(&i.name),
            reason: Cow::Borrowed(&d.reason),
            reason_code: Cow::Borrowed(d.code.as_str()),
            recoverable: None,
            status: Cow::Borrowed(&i.status),
        }
    }
}

impl<'a> InstanceDoc<'a> {
    /// The document of `d` with what `plan` says of it besides: where a deletion goes
    /// (`recoverable`, with the recycle bin in use) and when a marked one may be deleted.
    pub fn of(d: &'a Decision, plan: &'a Plan) -> Self {
        let id = d.instance.id.as_str();
        InstanceDoc {
            deletable_after: plan
                .deletable_after
                .get(id)
                .map(|t| Cow::Borrowed(t.as_str())),
            recoverable: plan
                .destinations
                .get(id)
                .map(|dest| matches!(dest, Destination::RecycleBin)),
            ..InstanceDoc::from(d)
        }
    }
}

/// A plan's decisions, written as a list of [`InstanceDoc`] without building one; with the
/// plan, each carries what the plan says of it besides ([`InstanceDoc::of`]).
#[derive(Debug, Clone, Copy)]
pub struct Decisions<'a>(pub &'a [Decision], pub Option<&'a Plan>);

impl Serialize for Decisions<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.1 {
            Some(plan) => s.collect_seq(self.0.iter().map(|d| InstanceDoc::of(d, plan))),
            None => s.collect_seq(self.0.iter().map(InstanceDoc::from)),
        }
    }
}

fn missing_doc(e: &Entry) -> MissingDoc {
    MissingDoc {
        id: e.id.clone(),
        index: e.index,
        name: e.name.clone(),
    }
}

/// The category counts of `plan`.
pub fn summary(plan: &Plan) -> SummaryDoc {
    let split = plan.destination_counts();
    SummaryDoc {
        delete: plan.delete.len(),
        delete_permanently: split.map(|(_, permanent)| permanent),
        delete_to_recycle_bin: split.map(|(bin, _)| bin),
        keep: plan.keep.len(),
        mark: plan.mark.len(),
        missing: plan.missing.len(),
        out_of_scope: plan.out_of_scope.len(),
        pending: plan.pending.len(),
        protected: plan.protected.len(),
        skip: plan.skip.len(),
        unmark: plan.unmark.len(),
    }
}

impl<'a> PlanDoc<Decisions<'a>> {
    /// The document of `plan`, borrowing its instances.
    pub fn of(plan: &'a Plan, ctx: &PlanContext) -> Self {
        PlanDoc {
            activity: plan.activity.as_ref().map(|a| {
                a.iter()
                    .map(|(id, f)| (id.clone(), ActivityDoc::from(f)))
                    .collect()
            }),
            created_at: ctx.created_at.clone(),
            delete: Decisions(&plan.delete, Some(plan)),
            endpoint: ctx.endpoint.clone(),
            format_version: FORMAT_VERSION.to_owned(),
            keep: Decisions(&plan.keep, None),
            manifest: ManifestDoc {
                path: ctx.manifest.clone(),
                sha256: ctx.manifest_sha256.clone(),
                text: None,
            },
            mark: Decisions(&plan.mark, Some(plan)),
            missing: plan.missing.iter().map(missing_doc).collect(),
            out_of_scope: plan.out_of_scope.len(),
            overrides: None,
            pending: Decisions(&plan.pending, Some(plan)),
            plan_sha256: None,
            plan_signature: None,
            project_id: ctx.project_id.clone(),
            protected: Decisions(&plan.protected, None),
            refusals: ctx.refusals.clone(),
            region: None,
            skip: Decisions(&plan.skip, None),
            summary: summary(plan),
            unmark: Decisions(&plan.unmark, None),
        }
    }
}

/// Writes the plan document of `plan`, pretty-printed, streamed (no trailing newline).
pub fn write_plan(
    w: &mut dyn std::io::Write,
    plan: &Plan,
    ctx: &PlanContext,
) -> std::io::Result<()> {
    serde_json::to_writer_pretty(w, &PlanDoc::of(plan, ctx)).map_err(std::io::Error::other)
}

/// A saved plan as read back: the plan document with owned instance lists.
pub type SavedDoc = PlanDoc<Vec<InstanceDoc<'static>>>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Instance;
    use crate::plan::ReasonCode;
    use serde_json::json;

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
            code: ReasonCode::NotDeclared,
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

    fn value(plan: &Plan, ctx: &PlanContext) -> serde_json::Value {
        serde_json::to_value(PlanDoc::of(plan, ctx)).expect("encodes")
    }

    #[test]
    fn json_plan_has_the_documented_shape() {
        let mut skip = decision("id-3", "c", "prepaid");
        skip.code = ReasonCode::Prepaid;
        let plan = Plan {
            delete: vec![decision("id-2", "b", "not declared in the manifest")],
            skip: vec![skip],
            missing: vec![Entry {
                index: 0,
                id: Some("x".to_owned()),
                name: None,
                region: None,
            }],
            declared: 1,
            ..Plan::default()
        };
        let v = value(&plan, &ctx());
        assert_eq!(v["format_version"], "1");
        assert_eq!(
            v["summary"],
            json!({"delete": 1, "keep": 0, "protected": 0, "skip": 1, "out_of_scope": 0, "missing": 1})
        );
        assert_eq!(v["protected"], json!([]));
        assert_eq!(v["out_of_scope"], 0);
        assert_eq!(
            v["delete"][0],
            json!({"id": "id-2", "name": "b", "status": "RUNNING", "charging_mode": 0,
                   "created_at": "2024-01-01T00:00:00.000Z",
                   "reason": "not declared in the manifest", "reason_code": "not_declared"})
        );
        assert_eq!(v["skip"][0]["reason_code"], "prepaid");
        assert_eq!(
            v["missing"][0],
            json!({"index": 0, "id": "x", "name": null})
        );
        // Saved-plan fields are absent from a plain plan.
        for key in ["overrides", "plan_sha256", "plan_signature"] {
            assert!(v.get(key).is_none(), "{key}");
        }
        assert!(v["manifest"].get("text").is_none());
    }

    #[test]
    fn streamed_json_is_sorted_pretty_json_and_reads_back() {
        let plan = Plan {
            delete: vec![
                decision("id-2", "b", "not declared in the manifest"),
                decision("id-4", "d \"quoted\" ü", "not declared in the manifest"),
            ],
            declared: 2,
            ..Plan::default()
        };
        let mut out = Vec::new();
        write_plan(&mut out, &plan, &ctx()).expect("writes");
        let text = String::from_utf8(out).expect("utf-8");
        // The same bytes as a sorted `Value` pretty-printed: the key order is alphabetical.
        let sorted = serde_json::to_string_pretty(&value(&plan, &ctx())).expect("encodes");
        assert_eq!(text, sorted);
        let back: SavedDoc = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back.delete[1].name, "d \"quoted\" ü");
        assert_eq!(back.summary, summary(&plan));
    }

    #[test]
    fn activity_is_present_only_with_the_guard_and_reads_back() {
        let mut plan = Plan {
            delete: vec![decision("id-2", "b", "not declared in the manifest")],
            declared: 1,
            ..Plan::default()
        };
        assert!(value(&plan, &ctx()).get("activity").is_none());
        let rule = crate::activity::IdleRule {
            window: std::time::Duration::from_secs(3600),
            max_ops: 0.0,
            max_connections: 0,
        };
        let observed = [(
            "id-2".to_owned(),
            Some(crate::api::ces::Activity {
                peak_ops: 12.0,
                new_connections: 40.0,
                datapoints: 26,
            }),
        )]
        .into_iter()
        .collect();
        crate::activity::guard(&mut plan, &rule, &observed);
        let v = value(&plan, &ctx());
        assert_eq!(
            v["activity"],
            json!({"id-2": {"datapoints": 26, "idle": false, "new_connections": 40.0,
                            "peak_ops": 12.0, "window_seconds": 3600}})
        );
        assert_eq!(v["skip"][0]["reason_code"], "in_use");
        let mut out = Vec::new();
        write_plan(&mut out, &plan, &ctx()).expect("writes");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            text.starts_with("{\n  \"activity\": {"),
            "alphabetical: {text}"
        );
        let back: SavedDoc = serde_json::from_str(&text).expect("reads back");
        assert_eq!(back.activity.map(|a| a.len()), Some(1));
    }
}
