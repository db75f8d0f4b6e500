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
use crate::plan::{Category, Decision, Overrides, Plan, Stale};
use crate::render::PlanContext;
use crate::render::json::{InstanceDoc, OverridesDoc, PlanDoc, SavedDoc};
use crate::util::{hmac_sha256_hex, sha256_hex};

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

    /// The `--max-delete-total` the plan was made with.
    pub fn max_delete_total(&self) -> Option<usize> {
        self.doc.overrides.and_then(|o| o.max_delete_total)
    }
}

/// How a saved plan is checked when it is read back.
#[derive(Clone, Copy)]
pub struct Checks<'a> {
    /// `DCS_RECONCILE_PLAN_KEY`: when set, the plan must carry a valid `plan_signature`.
    pub key: Option<&'a [u8]>,
    /// Now, for the age check.
    pub now: time::OffsetDateTime,
    /// `--max-plan-age`: older plans are refused.
    pub max_age: std::time::Duration,
}

/// Whether a plan that was read back is signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// Verified with the key.
    Verified,
    /// Signed, but no key was given to verify it: only the hash was checked.
    Unverified,
    /// Not signed (made without a key): only the hash was checked.
    Unsigned,
}

/// The saved-plan document for `plan` as JSON text: the plan document plus the manifest's
/// text and the guard overrides (`--max-delete-total` among them for a plan of one target;
/// `None` for each target of a fleet's plan, which keeps it once), so that `apply --plan` can
/// re-plan under exactly the reviewed rules, `plan_sha256` over all of it, and with `key` an
/// HMAC-SHA256 signature of the same bytes.
pub fn document(
    plan: &Plan,
    ctx: &PlanContext,
    manifest_text: &str,
    overrides: Overrides,
    max_delete_total: Option<usize>,
    key: Option<&[u8]>,
    region: Option<&str>,
) -> serde_json::Result<String> {
    let mut doc = PlanDoc::of(plan, ctx);
    doc.region = region.map(str::to_owned);
    doc.manifest.text = Some(manifest_text.to_owned());
    doc.overrides = Some(OverridesDoc {
        allow_empty: overrides.allow_empty,
        max_delete: overrides.max_delete,
        max_delete_total,
    });
    let canonical = serde_json::to_value(&doc)?.to_string();
    doc.plan_sha256 = Some(sha256_hex(canonical.as_bytes()));
    doc.plan_signature = key.map(|k| hmac_sha256_hex(k, canonical.as_bytes()));
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    Ok(text)
}

/// The canonical bytes of a document: compact JSON, keys sorted, without `plan_sha256` and
/// `plan_signature`. `plan_sha256` (SHA-256 of them) catches a plan edited by hand or damaged
/// in transit; it is no signature, since whoever can write the file can recompute it.
/// `plan_signature` (HMAC-SHA256 under a CI secret) is one.
fn canonical(doc: &Value) -> String {
    doc.to_string()
}

/// Reads a saved plan and checks everything in it as strictly as the manifest and the command
/// line are checked: version, hash (and signature with a key), the manifest text, the project
/// id, the planned ids (present, visible, not repeated) and the plan's age. `origin` names the
/// file in messages.
#[cfg(test)]
pub fn parse(
    bytes: &[u8],
    origin: &str,
    checks: Checks<'_>,
) -> Result<(SavedPlan, Signature), String> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        format!("{origin}: not a saved plan ({e}); make one with `dcs-reconcile plan --out FILE`")
    })?;
    parse_value(value, origin, checks)
}

/// What a saved-plan file holds: the plan of one target, or of several.
#[derive(Debug)]
pub enum SavedFile {
    /// One target (today's document).
    One(Box<SavedPlan>, Signature),
    /// Several targets, each checked as a plan of its own, and the run's
    /// `--max-delete-total`.
    Fleet(Vec<(SavedPlan, Signature)>, Option<usize>),
}

/// `kind` of the saved plan of several targets.
const FLEET_KIND: &str = "fleet";

/// Reads a saved-plan file of one target or of several. The document of several holds each
/// target's saved plan (each with its own hash and signature) and `fleet_sha256` (and, with
/// a key, `fleet_signature`) over all of them, so no target can be added, dropped or swapped.
pub fn parse_file(bytes: &[u8], origin: &str, checks: Checks<'_>) -> Result<SavedFile, String> {
    let not_a_plan = |e: String| {
        format!("{origin}: not a saved plan ({e}); make one with `dcs-reconcile plan --out FILE`")
    };
    let mut value: Value = serde_json::from_slice(bytes).map_err(|e| not_a_plan(e.to_string()))?;
    if value.get("kind").and_then(Value::as_str) != Some(FLEET_KIND) {
        return parse_value(value, origin, checks).map(|(p, s)| SavedFile::One(Box::new(p), s));
    }
    let (recorded, signature) = match &mut value {
        Value::Object(obj) => (obj.remove("fleet_sha256"), obj.remove("fleet_signature")),
        _ => (None, None),
    };
    if value.get("format_version").and_then(Value::as_str) != Some(crate::render::FORMAT_VERSION) {
        return Err(format!(
            "{origin}: format_version is not {}; it is not supported",
            crate::render::FORMAT_VERSION
        ));
    }
    let canonical = canonical(&value);
    match recorded {
        Some(Value::String(d)) if d == sha256_hex(canonical.as_bytes()) => {}
        Some(_) => {
            return Err(format!(
                "{origin}: the plan does not match its recorded fleet_sha256; the file was \
                 edited after `plan --out` wrote it (a target added, dropped or changed). Make \
                 a new plan and review it"
            ));
        }
        None => return Err(not_a_plan("no fleet_sha256".to_owned())),
    }
    match (checks.key, signature) {
        (Some(key), Some(Value::String(sig)))
            if sig == hmac_sha256_hex(key, canonical.as_bytes()) => {}
        (Some(_), Some(_)) => {
            return Err(format!(
                "{origin}: the plan's fleet_signature does not match DCS_RECONCILE_PLAN_KEY: it \
                 was signed with another key, or edited; nothing was deleted"
            ));
        }
        (Some(_), None) => {
            return Err(format!(
                "{origin}: the plan is not signed, but DCS_RECONCILE_PLAN_KEY is set: only a \
                 plan made by `plan --out` with the same key is applied; nothing was deleted"
            ));
        }
        (None, _) => {}
    }
    let total = match value.get("max_delete_total") {
        None => None,
        Some(v) => Some(
            v.as_u64()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or_else(|| not_a_plan(format!("max_delete_total {v} is not a count")))?,
        ),
    };
    let Some(Value::Array(targets)) = value.as_object_mut().and_then(|o| o.remove("targets"))
    else {
        return Err(not_a_plan("no `targets` list".to_owned()));
    };
    let mut plans = Vec::with_capacity(targets.len());
    for (n, t) in targets.into_iter().enumerate() {
        plans.push(parse_value(t, &format!("{origin} (target {n})"), checks)?);
    }
    Ok(SavedFile::Fleet(plans, total))
}

/// The saved plan of several targets: `targets`, each a saved document of [`document`], and
/// the run's `--max-delete-total` when given, under one hash and, with `key`, one signature.
pub fn fleet_document(
    targets: &[String],
    max_delete_total: Option<usize>,
    key: Option<&[u8]>,
) -> serde_json::Result<String> {
    let targets: Vec<Value> = targets
        .iter()
        .map(|t| serde_json::from_str(t))
        .collect::<serde_json::Result<_>>()?;
    let mut doc = serde_json::json!({
        "format_version": crate::render::FORMAT_VERSION,
        "kind": FLEET_KIND,
        "targets": targets,
    });
    if let (Some(n), Some(obj)) = (max_delete_total, doc.as_object_mut()) {
        obj.insert("max_delete_total".to_owned(), Value::from(n));
    }
    let canonical = canonical(&doc);
    if let Some(obj) = doc.as_object_mut() {
        obj.insert(
            "fleet_sha256".to_owned(),
            Value::String(sha256_hex(canonical.as_bytes())),
        );
        if let Some(k) = key {
            obj.insert(
                "fleet_signature".to_owned(),
                Value::String(hmac_sha256_hex(k, canonical.as_bytes())),
            );
        }
    }
    let mut text = serde_json::to_string_pretty(&doc)?;
    text.push('\n');
    Ok(text)
}

/// [`parse`] of an already-read JSON value.
fn parse_value(
    mut value: Value,
    origin: &str,
    checks: Checks<'_>,
) -> Result<(SavedPlan, Signature), String> {
    let not_a_plan = |e: String| {
        format!("{origin}: not a saved plan ({e}); make one with `dcs-reconcile plan --out FILE`")
    };
    let (recorded, signature) = match &mut value {
        Value::Object(obj) => (obj.remove("plan_sha256"), obj.remove("plan_signature")),
        _ => (None, None),
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
    let canonical = canonical(&value);
    match recorded {
        Some(Value::String(digest)) if digest == sha256_hex(canonical.as_bytes()) => {}
        Some(_) => {
            return Err(format!(
                "{origin}: the plan does not match its recorded plan_sha256; the file was \
                 edited after `plan --out` wrote it. Make a new plan and review it"
            ));
        }
        None => return Err(not_a_plan("no plan_sha256".to_owned())),
    }
    let signed = match (checks.key, signature) {
        (Some(key), Some(Value::String(sig))) => {
            if sig != hmac_sha256_hex(key, canonical.as_bytes()) {
                return Err(format!(
                    "{origin}: the plan's signature does not match DCS_RECONCILE_PLAN_KEY: it \
                     was signed with another key, or edited; nothing was deleted"
                ));
            }
            Signature::Verified
        }
        (Some(_), _) => {
            return Err(format!(
                "{origin}: the plan is not signed, but DCS_RECONCILE_PLAN_KEY is set: only a \
                 plan made by `plan --out` with the same key is applied; nothing was deleted"
            ));
        }
        (None, Some(_)) => Signature::Unverified,
        (None, None) => Signature::Unsigned,
    };
    let Some(manifest_text) = doc.manifest.text.clone() else {
        return Err(not_a_plan("no manifest text".to_owned()));
    };
    if sha256_hex(manifest_text.as_bytes()) != doc.manifest.sha256 {
        return Err(format!(
            "{origin}: the manifest text does not match its recorded SHA-256; the file was edited"
        ));
    }
    crate::config::check_project_id(&doc.project_id)
        .map_err(|e| format!("{origin}: project_id: {e}"))?;
    let mut seen = std::collections::HashSet::new();
    for (n, i) in doc.delete.iter().enumerate() {
        if i.id.trim().is_empty() || i.id.chars().any(crate::util::is_invisible) {
            return Err(format!(
                "{origin}: delete[{n}] has the id {:?}, which is empty or holds invisible \
                 characters",
                i.id
            ));
        }
        if !seen.insert(i.id.to_lowercase()) {
            return Err(format!(
                "{origin}: delete[{n}]: the id {} is planned twice; the file was edited",
                i.id
            ));
        }
    }
    for (what, list) in [("mark", &doc.mark), ("unmark", &doc.unmark)] {
        let mut seen = std::collections::HashSet::new();
        for (n, i) in list.iter().enumerate() {
            if i.id.trim().is_empty()
                || i.id.chars().any(crate::util::is_invisible)
                || !seen.insert(i.id.to_lowercase())
            {
                return Err(format!(
                    "{origin}: {what}[{n}] has the id {:?}, which is empty, holds invisible \
                     characters or is repeated; the file was edited",
                    i.id
                ));
            }
        }
    }
    let made = crate::util::parse_time(&doc.created_at)
        .ok_or_else(|| format!("{origin}: created_at `{}` is not a time", doc.created_at))?;
    match crate::util::age(made, checks.now) {
        Some(age) if age > checks.max_age => {
            return Err(format!(
                "{origin}: the plan was made {} ago ({}); plans older than --max-plan-age {} \
                 are refused: make a new plan and review it",
                crate::util::human_duration(age),
                doc.created_at,
                crate::util::human_duration(checks.max_age)
            ));
        }
        Some(_) => {}
        None if made - checks.now > time::Duration::minutes(5) => {
            return Err(format!(
                "{origin}: the plan claims to be made in the future ({}); refusing it",
                doc.created_at
            ));
        }
        None => {}
    }
    Ok((SavedPlan { doc, manifest_text }, signed))
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
        (Category::Mark, &fresh.mark),
        (Category::Pending, &fresh.pending),
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

/// The rest of a plan against `fresh`, after [`check_items`]: each planned mark and unmark
/// (`deletion.grace`) must still be planned the same way (a mark that changed since, e.g. an
/// instance marked by another run meanwhile, or declared again, makes the plan stale), and
/// each planned deletion must still go where the plan said (recycle bin or permanently).
/// Returns the marks and unmarks to apply, as they are now.
pub fn check_marks(
    delete: &[InstanceDoc<'_>],
    mark: &[InstanceDoc<'_>],
    unmark: &[InstanceDoc<'_>],
    planned_at: &str,
    fresh: &Plan,
) -> Result<(Vec<Decision>, Vec<Decision>), Stale> {
    let mut changes = Vec::new();
    let (mut then, mut now) = (String::new(), String::new());
    for s in delete {
        let was = s.recoverable.unwrap_or(false);
        let is = fresh.recoverable(&s.id);
        if was != is && fresh.delete.iter().any(|d| d.instance.id == s.id) {
            let place = |r: bool| {
                if r {
                    "recycle bin"
                } else {
                    "destroyed permanently"
                }
            };
            changes.push(format!(
                "{} ({}) was planned as `{}`, now it would be `{}`",
                s.name,
                s.id,
                place(was),
                place(is)
            ));
            then.push_str(&diff_line(
                &s.name,
                &s.id,
                &format!("delete  {}", place(was)),
            ));
            now.push_str(&diff_line(
                &s.name,
                &s.id,
                &format!("delete  {}", place(is)),
            ));
        }
    }
    let mut pick = |planned: &[InstanceDoc<'_>], list: &[Decision], what: &str| {
        let by_id: HashMap<&str, &Decision> =
            list.iter().map(|d| (d.instance.id.as_str(), d)).collect();
        let mut out = Vec::new();
        for s in planned {
            then.push_str(&diff_line(&s.name, &s.id, what));
            match by_id.get(s.id.as_ref()) {
                Some(d) if d.instance.name == s.name => {
                    now.push_str(&diff_line(&s.name, &s.id, what));
                    out.push((*d).clone());
                }
                _ => {
                    changes.push(format!(
                        "{} ({}) would no longer be {what}ed: its mark or its place changed \
                         since the plan",
                        s.name, s.id
                    ));
                    now.push_str(&diff_line(&s.name, &s.id, "changed"));
                }
            }
        }
        out
    };
    let marks = pick(mark, &fresh.mark, "mark");
    let unmarks = pick(unmark, &fresh.unmark, "unmark");
    if changes.is_empty() {
        return Ok((marks, unmarks));
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

    const NOW: time::OffsetDateTime = time::macros::datetime!(2026-01-01 01:00:00 UTC);

    fn checks() -> Checks<'static> {
        Checks {
            key: None,
            now: NOW,
            max_age: std::time::Duration::from_secs(24 * 3600),
        }
    }

    fn read(text: &str) -> Result<SavedPlan, String> {
        parse(text.as_bytes(), "plan.json", checks()).map(|(p, _)| p)
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
        let text =
            document(&plan, &ctx(""), "", Overrides::default(), None, None, None).expect("encodes");
        read(&text).expect("parses")
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
                None,
                None,
                None,
            )
            .expect("encodes"),
        )
        .expect("json");
        assert!(read(&good.to_string()).is_ok());
        let mut raised = good.clone();
        raised["delete"] = serde_json::json!([{"id": "x", "name": "x", "status": "RUNNING", "charging_mode": 0, "created_at": null}]);
        assert!(
            read(&raised.to_string())
                .expect_err("refused")
                .contains("plan_sha256")
        );
        let mut edited = good.clone();
        edited["manifest"]["text"] = serde_json::json!("instances: [x]\n");
        let digest = sha256_hex(
            canonical(&{
                let mut v = edited.clone();
                v.as_object_mut().map(|o| o.remove("plan_sha256"));
                v
            })
            .as_bytes(),
        );
        edited["plan_sha256"] = serde_json::json!(digest);
        assert!(
            read(&edited.to_string())
                .expect_err("refused")
                .contains("was edited")
        );
        let mut future = good;
        future["format_version"] = serde_json::json!("9");
        assert!(
            read(&future.to_string())
                .expect_err("refused")
                .contains("not supported")
        );
        assert!(
            read("{}")
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
        let doc = document(&plan, &ctx(text), text, overrides, None, None, None).expect("encodes");
        let back = read(&doc).expect("parses");
        assert_eq!(back.manifest_text, text);
        assert_eq!(back.doc.delete.len(), 1);
        assert_eq!(back.doc.delete[0].id, "2");
        assert_eq!(back.doc.delete[0].name, "b");
        assert_eq!(back.doc.delete[0].reason_code, "not_declared");
        assert_eq!(back.overrides(), overrides);
        assert_eq!(back.doc.endpoint, "http://127.0.0.1:1/");
    }

    /// `plan` as a saved document with its hash recomputed after `edit`: what an attacker who
    /// can write the file can do.
    fn forged(edit: impl Fn(&mut Value)) -> String {
        let text = document(
            &Plan {
                delete: vec![decision(inst("1", "a"), "not declared")],
                ..Plan::default()
            },
            &ctx(""),
            "",
            Overrides::default(),
            None,
            None,
            None,
        )
        .expect("encodes");
        let mut v: Value = serde_json::from_str(&text).expect("json");
        edit(&mut v);
        if let Some(o) = v.as_object_mut() {
            o.remove("plan_sha256");
        }
        let digest = sha256_hex(canonical(&v).as_bytes());
        v["plan_sha256"] = serde_json::json!(digest);
        v.to_string()
    }

    #[test]
    fn every_field_is_checked_even_with_the_hash_recomputed() {
        let bad_project = forged(|v| v["project_id"] = serde_json::json!("x/../.."));
        assert!(
            read(&bad_project)
                .expect_err("refused")
                .contains("project_id")
        );
        let twice = forged(|v| {
            let first = v["delete"][0].clone();
            let mut upper = first.clone();
            upper["id"] = serde_json::json!("1");
            v["delete"] = serde_json::json!([first, upper]);
        });
        assert!(read(&twice).expect_err("refused").contains("planned twice"));
        let empty = forged(|v| v["delete"][0]["id"] = serde_json::json!(""));
        assert!(read(&empty).expect_err("refused").contains("empty"));
        let old = forged(|v| v["created_at"] = serde_json::json!("1970-01-01T00:00:00Z"));
        assert!(
            read(&old)
                .expect_err("refused")
                .contains("--max-plan-age 1day")
        );
        let future = forged(|v| v["created_at"] = serde_json::json!("2030-01-01T00:00:00Z"));
        assert!(
            read(&future)
                .expect_err("refused")
                .contains("in the future")
        );
        assert!(read(&forged(|_| {})).is_ok());
    }

    #[test]
    fn with_a_key_only_a_plan_signed_with_it_is_read() {
        let plan = Plan {
            delete: vec![decision(inst("1", "a"), "not declared")],
            ..Plan::default()
        };
        let key = b"ci-secret".as_slice();
        let signed = document(
            &plan,
            &ctx(""),
            "",
            Overrides::default(),
            None,
            Some(key),
            None,
        )
        .expect("encodes");
        let with = |key: &'static [u8]| Checks {
            key: Some(key),
            ..checks()
        };
        let (_, sig) = parse(signed.as_bytes(), "p", with(b"ci-secret")).expect("verified");
        assert_eq!(sig, Signature::Verified);
        assert!(
            parse(signed.as_bytes(), "p", with(b"other"))
                .expect_err("refused")
                .contains("does not match DCS_RECONCILE_PLAN_KEY")
        );
        let (_, sig) = parse(signed.as_bytes(), "p", checks()).expect("hash only");
        assert_eq!(sig, Signature::Unverified);
        // A forger recomputing the hash cannot recompute the signature.
        let unsigned = forged(|_| {});
        assert!(
            parse(unsigned.as_bytes(), "p", with(b"ci-secret"))
                .expect_err("refused")
                .contains("not signed")
        );
        let (_, sig) = parse(unsigned.as_bytes(), "p", checks()).expect("hash only");
        assert_eq!(sig, Signature::Unsigned);
    }

    #[test]
    fn a_changed_destination_or_mark_makes_the_plan_stale() {
        use crate::plan::Destination;
        let a = decision(inst("a", "a"), "not declared in the manifest");
        let m = decision(inst("m", "m"), "marked now");
        let mut then = Plan {
            delete: vec![a.clone()],
            mark: vec![m.clone()],
            ..Plan::default()
        };
        then.destinations
            .insert("a".to_owned(), Destination::RecycleBin);
        let delete: Vec<InstanceDoc<'_>> = then
            .delete
            .iter()
            .map(|d| InstanceDoc::of(d, &then))
            .collect();
        let mark: Vec<InstanceDoc<'_>> = then.mark.iter().map(InstanceDoc::from).collect();
        // Unchanged: the marks come back.
        let (marks, unmarks) = check_marks(&delete, &mark, &[], "t", &then).expect("still stands");
        assert_eq!(marks, std::slice::from_ref(&m));
        assert!(unmarks.is_empty());
        // Now destroyed permanently: stale.
        let mut now = then.clone();
        now.destinations.insert(
            "a".to_owned(),
            Destination::Permanent("Redis 3.0 cannot use the recycle bin".to_owned()),
        );
        let stale = check_marks(&delete, &mark, &[], "t", &now).expect_err("stale");
        assert!(
            stale.changes[0].contains("`recycle bin`"),
            "{:?}",
            stale.changes
        );
        // Marked meanwhile (pending now, not to mark): stale.
        let now = Plan {
            mark: Vec::new(),
            pending: vec![m],
            ..then.clone()
        };
        let stale = check_marks(&delete, &mark, &[], "t", &now).expect_err("stale");
        assert!(
            stale.changes[0].contains("would no longer be marked"),
            "{:?}",
            stale.changes
        );
    }
}
