//! The planner: which live instances go, which stay, and which declared ones are missing.
//!
//! [`plan`] is a pure function of the manifest's entries and the live instances. It does no I/O,
//! knows no YAML and no HTTP, and always orders its output the same way, so the plan that is
//! printed is exactly the value that `apply` consumes.
//!
//! Rules:
//! - an entry with `id` matches the live instance with that id; if it also gives `name`, the two
//!   must agree (and a live instance of that name with another id is a conflict too);
//! - an entry with only `name` matches every live instance of exactly that name;
//! - a live instance that no entry matches is undeclared: it is deleted when the API can delete
//!   it now (pay-per-use, status `RUNNING`, `ERROR` or `CREATEFAILED`), otherwise skipped with
//!   the reason;
//! - an entry that matches nothing is missing (this tool never creates anything).

use std::collections::HashMap;

use crate::model::{Entry, Instance};

/// Statuses in which the batch-delete API accepts an instance.
pub const DELETABLE_STATUSES: [&str; 3] = ["RUNNING", "ERROR", "CREATEFAILED"];

/// A live instance with the reason it is in its category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The live instance.
    pub instance: Instance,
    /// Why it is there, in words for people.
    pub reason: String,
}

/// The result of planning.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Undeclared instances that `apply` deletes.
    pub delete: Vec<Decision>,
    /// Declared instances, with the entry that declares them.
    pub keep: Vec<Decision>,
    /// Undeclared instances that cannot be deleted now (prepaid, busy), with the reason.
    pub skip: Vec<Decision>,
    /// Declared entries that match no live instance.
    pub missing: Vec<Entry>,
    /// How many entries the manifest declares.
    pub declared: usize,
}

impl Plan {
    /// True when there is nothing to delete.
    pub fn is_empty(&self) -> bool {
        self.delete.is_empty()
    }

    /// The ids `apply` deletes, in plan order.
    pub fn delete_ids(&self) -> Vec<String> {
        self.delete.iter().map(|d| d.instance.id.clone()).collect()
    }

    /// Safety guards that refuse this plan, as messages; empty when none does.
    ///
    /// An empty manifest that would delete instances is refused unless `allow_empty`:
    /// an empty list is far more often a broken file or template than a wish to delete
    /// everything (Argo CD's `allowEmpty: false` exists for the same reason).
    pub fn refusals(&self, allow_empty: bool) -> Vec<String> {
        let mut out = Vec::new();
        if self.declared == 0 && !self.delete.is_empty() && !allow_empty {
            out.push(format!(
                "the manifest declares no instances, so every one of the {} deletable live \
                 instances would be deleted; if that is really meant, pass --allow-empty",
                self.delete.len()
            ));
        }
        out
    }
}

/// Plans the reconciliation of `live` against the manifest's `entries`.
///
/// Returns one message per entry whose `id` and `name` disagree with the live instances;
/// such a manifest is not planned at all, so nothing can be deleted because of it.
pub fn plan(entries: &[Entry], live: &[Instance]) -> Result<Plan, Vec<String>> {
    let mut by_id: HashMap<&str, usize> = HashMap::with_capacity(live.len());
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::with_capacity(live.len());
    for (i, inst) in live.iter().enumerate() {
        by_id.insert(inst.id.as_str(), i);
        by_name.entry(inst.name.as_str()).or_default().push(i);
    }

    // For each live instance, the first entry that declares it.
    let mut declared_by: Vec<Option<usize>> = vec![None; live.len()];
    let mut missing = Vec::new();
    let mut conflicts = Vec::new();

    for entry in entries {
        let matched: Vec<usize> = match (&entry.id, &entry.name) {
            (Some(id), name) => match by_id.get(id.as_str()) {
                Some(&i) => {
                    if let Some(name) = name
                        && live[i].name != *name
                    {
                        conflicts.push(format!(
                            "{}: the live instance {id} is named `{}`, not `{name}`",
                            entry.label(),
                            live[i].name
                        ));
                    }
                    vec![i]
                }
                None => {
                    if let Some(name) = name
                        && let Some(others) = by_name.get(name.as_str())
                    {
                        let ids: Vec<&str> = others.iter().map(|&i| live[i].id.as_str()).collect();
                        conflicts.push(format!(
                            "{}: no live instance has id {id}, but `{name}` exists with id {}",
                            entry.label(),
                            ids.join(", ")
                        ));
                    }
                    Vec::new()
                }
            },
            (None, Some(name)) => by_name.get(name.as_str()).cloned().unwrap_or_default(),
            (None, None) => Vec::new(),
        };
        if matched.is_empty() {
            missing.push(entry.clone());
        }
        for i in matched {
            declared_by[i].get_or_insert(entry.index);
        }
    }
    if !conflicts.is_empty() {
        return Err(conflicts);
    }

    let mut plan = Plan {
        missing,
        declared: entries.len(),
        ..Plan::default()
    };
    for (inst, by) in live.iter().zip(declared_by) {
        let instance = inst.clone();
        if let Some(index) = by {
            let reason = match entries.iter().find(|e| e.index == index) {
                Some(e) => format!("declared by {}", e.label()),
                None => format!("declared by instances[{index}]"),
            };
            plan.keep.push(Decision { instance, reason });
        } else if inst.is_prepaid() {
            plan.skip.push(Decision {
                instance,
                reason: "prepaid (yearly/monthly): the API cannot delete it; unsubscribe it \
                         through billing"
                    .to_owned(),
            });
        } else if !DELETABLE_STATUSES.contains(&inst.status.as_str()) {
            plan.skip.push(Decision {
                reason: format!(
                    "status {}: only RUNNING, ERROR and CREATEFAILED instances can be deleted; \
                     the next run will see it again",
                    inst.status
                ),
                instance,
            });
        } else {
            plan.delete.push(Decision {
                instance,
                reason: "not declared in the manifest".to_owned(),
            });
        }
    }
    let order = |a: &Decision, b: &Decision| {
        (&a.instance.name, &a.instance.id).cmp(&(&b.instance.name, &b.instance.id))
    };
    plan.delete.sort_by(order);
    plan.keep.sort_by(order);
    plan.skip.sort_by(order);
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(id: &str, name: &str) -> Instance {
        Instance {
            id: id.to_owned(),
            name: name.to_owned(),
            status: "RUNNING".to_owned(),
            charging_mode: Some(0),
            ..Instance::default()
        }
    }

    fn by_name(index: usize, name: &str) -> Entry {
        Entry {
            index,
            id: None,
            name: Some(name.to_owned()),
        }
    }

    fn by_id(index: usize, id: &str) -> Entry {
        Entry {
            index,
            id: Some(id.to_owned()),
            name: None,
        }
    }

    fn both(index: usize, id: &str, name: &str) -> Entry {
        Entry {
            index,
            id: Some(id.to_owned()),
            name: Some(name.to_owned()),
        }
    }

    fn ids(ds: &[Decision]) -> Vec<&str> {
        ds.iter().map(|d| d.instance.id.as_str()).collect()
    }

    fn ok(entries: &[Entry], live: &[Instance]) -> Plan {
        match plan(entries, live) {
            Ok(p) => p,
            Err(c) => panic!("unexpected conflicts: {c:?}"),
        }
    }

    #[test]
    fn no_op_when_everything_is_declared() {
        let live = [inst("1", "a"), inst("2", "b")];
        let p = ok(&[by_name(0, "a"), by_id(1, "2")], &live);
        assert!(p.is_empty());
        assert_eq!(ids(&p.keep), ["1", "2"]);
        assert!(p.missing.is_empty() && p.skip.is_empty());
        assert!(p.refusals(false).is_empty());
    }

    #[test]
    fn undeclared_instances_are_deleted() {
        let live = [inst("1", "a"), inst("2", "b"), inst("3", "c")];
        let p = ok(&[by_name(0, "b")], &live);
        assert_eq!(ids(&p.delete), ["1", "3"]);
        assert_eq!(p.delete_ids(), ["1", "3"]);
        assert_eq!(ids(&p.keep), ["2"]);
        assert_eq!(p.delete[0].reason, "not declared in the manifest");
        assert_eq!(p.keep[0].reason, "declared by instances[0] (name: b)");
    }

    #[test]
    fn a_name_entry_keeps_every_instance_of_that_name() {
        let live = [inst("1", "a"), inst("2", "a"), inst("3", "ab")];
        let p = ok(&[by_name(0, "a")], &live);
        assert_eq!(ids(&p.keep), ["1", "2"]);
        // Exact names only: `ab` is not `a`.
        assert_eq!(ids(&p.delete), ["3"]);
    }

    #[test]
    fn an_id_entry_keeps_only_that_instance() {
        let live = [inst("1", "a"), inst("2", "a")];
        let p = ok(&[by_id(0, "2")], &live);
        assert_eq!(ids(&p.keep), ["2"]);
        assert_eq!(ids(&p.delete), ["1"]);
    }

    #[test]
    fn id_and_name_pin_one_instance() {
        let live = [inst("1", "a"), inst("2", "a")];
        let p = ok(&[both(0, "1", "a")], &live);
        assert_eq!(ids(&p.keep), ["1"]);
        assert_eq!(ids(&p.delete), ["2"]);
    }

    #[test]
    fn unmatched_entries_are_missing() {
        let live = [inst("1", "a")];
        let p = ok(&[by_name(0, "a"), by_name(1, "zz"), by_id(2, "9")], &live);
        assert_eq!(p.missing.len(), 2);
        assert_eq!(p.missing[0].name.as_deref(), Some("zz"));
        assert_eq!(p.missing[1].id.as_deref(), Some("9"));
        assert!(p.is_empty());
    }

    #[test]
    fn id_and_name_disagreeing_is_a_conflict() {
        let live = [inst("1", "a"), inst("2", "b")];
        let err = plan(&[both(0, "1", "b")], &live).err().unwrap_or_default();
        assert_eq!(
            err,
            ["instances[0] (name: b, id: 1): the live instance 1 is named `a`, not `b`"]
        );
    }

    #[test]
    fn a_pinned_id_that_is_gone_while_its_name_lives_on_is_a_conflict() {
        // The declared instance was replaced by another of the same name: deleting the new one
        // because the manifest pins an old id would surprise everyone, so refuse.
        let live = [inst("2", "a")];
        let err = plan(&[both(0, "1", "a")], &live).err().unwrap_or_default();
        assert_eq!(
            err,
            ["instances[0] (name: a, id: 1): no live instance has id 1, but `a` exists with id 2"]
        );
    }

    #[test]
    fn all_conflicts_are_reported_at_once() {
        let live = [inst("1", "a"), inst("2", "b")];
        let err = plan(&[both(0, "1", "x"), both(1, "2", "y")], &live)
            .err()
            .unwrap_or_default();
        assert_eq!(err.len(), 2);
    }

    #[test]
    fn prepaid_and_busy_instances_are_skipped_not_deleted() {
        let mut prepaid = inst("1", "a");
        prepaid.charging_mode = Some(1);
        let mut creating = inst("2", "b");
        creating.status = "CREATING".to_owned();
        let mut odd = inst("3", "c");
        odd.status = "SOMETHING_NEW".to_owned();
        let mut failed = inst("4", "d");
        failed.status = "CREATEFAILED".to_owned();
        let mut error = inst("5", "e");
        error.status = "ERROR".to_owned();
        let p = ok(&[], &[prepaid, creating, odd, failed, error]);
        assert_eq!(ids(&p.skip), ["1", "2", "3"]);
        assert!(p.skip[0].reason.starts_with("prepaid"));
        assert!(p.skip[1].reason.starts_with("status CREATING"));
        assert!(p.skip[2].reason.starts_with("status SOMETHING_NEW"));
        assert_eq!(ids(&p.delete), ["4", "5"]);
    }

    #[test]
    fn declared_prepaid_instances_are_kept() {
        let mut prepaid = inst("1", "a");
        prepaid.charging_mode = Some(1);
        let p = ok(&[by_name(0, "a")], &[prepaid]);
        assert_eq!(ids(&p.keep), ["1"]);
        assert!(p.skip.is_empty());
    }

    #[test]
    fn every_live_instance_lands_in_exactly_one_category() {
        let mut live = Vec::new();
        for i in 0..50 {
            let mut x = inst(&format!("id-{i}"), &format!("n-{}", i % 7));
            x.status = ["RUNNING", "CREATING", "ERROR"][i % 3].to_owned();
            x.charging_mode = Some(i64::from(i % 5 == 0));
            live.push(x);
        }
        let p = ok(&[by_name(0, "n-1"), by_id(1, "id-3")], &live);
        let mut all: Vec<&str> = ids(&p.delete);
        all.extend(ids(&p.keep));
        all.extend(ids(&p.skip));
        all.sort_unstable();
        let mut want: Vec<&str> = live.iter().map(|i| i.id.as_str()).collect();
        want.sort_unstable();
        assert_eq!(all, want);
        for d in &p.delete {
            assert_ne!(d.instance.name, "n-1");
            assert_ne!(d.instance.id, "id-3");
            assert!(!d.instance.is_prepaid());
        }
    }

    #[test]
    fn output_is_sorted_by_name_then_id_whatever_the_listing_order() {
        let live = [inst("3", "b"), inst("2", "a"), inst("1", "b")];
        let p = ok(&[], &live);
        assert_eq!(ids(&p.delete), ["2", "1", "3"]);
        let mut reversed = live.to_vec();
        reversed.reverse();
        assert_eq!(ok(&[], &reversed), p);
    }

    #[test]
    fn empty_manifest_deleting_something_is_refused_unless_allowed() {
        let live = [inst("1", "a")];
        let p = ok(&[], &live);
        assert_eq!(p.refusals(false).len(), 1);
        assert!(p.refusals(false)[0].contains("--allow-empty"));
        assert!(p.refusals(true).is_empty());
        // Nothing live: nothing to refuse.
        assert!(ok(&[], &[]).refusals(false).is_empty());
    }
}
