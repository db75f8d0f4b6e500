//! The planner: which live instances go, which stay, and which declared ones are missing.
//!
//! [`plan`] is a pure function of the manifest's entries and the live instances. It does no I/O,
//! knows no YAML and no HTTP, and always orders its output the same way, so the plan that is
//! printed is exactly the value that `apply` consumes.
//!
//! Rules:
//! - an entry with `id` matches the live instance with that id; if it also gives `name`, the two
//!   must agree; when the id is not live but an instance of that name is, that is a conflict
//!   too (the pinned instance was most likely re-created);
//! - an entry with only `name` matches every live instance of exactly that name;
//! - a live instance outside the manifest's `scope` is out of scope and never touched;
//! - a declared instance is kept; an undeclared one that a `protect` rule matches is protected;
//! - any other undeclared instance is deleted when the API can delete it now (pay-per-use,
//!   status `RUNNING`, `ERROR` or `CREATEFAILED`, older than `min_age`), otherwise skipped with
//!   the reason;
//! - an entry that matches nothing is missing (this tool never creates anything).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::model::ActivityFigures;

mod matching;
mod refusals;

use crate::model::{Entry, Instance, Rules};
use crate::util::{age, human_duration, parse_time};
use matching::match_entries;

/// Statuses in which the batch-delete API accepts an instance.
pub const DELETABLE_STATUSES: [&str; 3] = ["RUNNING", "ERROR", "CREATEFAILED"];

/// Why an instance is in its category: a stable machine code (JSON `reason_code`) beside the
/// words for people. Control flow reads this, never the words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReasonCode {
    /// Undeclared, managed and deletable: deleted.
    NotDeclared,
    /// Declared by an entry: kept.
    Declared,
    /// Matched by a `protect` rule.
    Protected,
    /// Billed yearly/monthly: the API cannot delete it.
    Prepaid,
    /// The listing's billing mode is missing or unknown.
    BillingUnknown,
    /// In a status the API does not accept for deletion.
    Status,
    /// Younger than `min_age`.
    TooYoung,
    /// `min_age` is set and the creation time is unknown.
    CreationUnknown,
    /// `idle_for` is set and Cloud Eye shows client activity in the window.
    InUse,
    /// `idle_for` is set and Cloud Eye has no monitoring data for the window.
    ActivityUnknown,
    /// `deletion.require_recoverable` is set and the instance cannot go to the recycle bin.
    NotRecoverable,
    /// `deletion.grace` is set and the instance is not marked yet: marked now.
    GraceMark,
    /// Marked, and the grace period is not over yet.
    GracePending,
    /// Marked, and the grace period is over: deleted.
    GraceOver,
    /// Marked earlier, but no longer surplus (declared, protected or out of scope): the mark
    /// is removed.
    NoLongerSurplus,
}

impl ReasonCode {
    /// The code as JSON writes it (`not_declared`, `prepaid`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ReasonCode::NotDeclared => "not_declared",
            ReasonCode::Declared => "declared",
            ReasonCode::Protected => "protected",
            ReasonCode::Prepaid => "prepaid",
            ReasonCode::BillingUnknown => "billing_unknown",
            ReasonCode::Status => "status",
            ReasonCode::TooYoung => "too_young",
            ReasonCode::CreationUnknown => "creation_unknown",
            ReasonCode::InUse => "in_use",
            ReasonCode::ActivityUnknown => "activity_unknown",
            ReasonCode::NotRecoverable => "not_recoverable",
            ReasonCode::GraceMark => "grace_mark",
            ReasonCode::GracePending => "grace_pending",
            ReasonCode::GraceOver => "grace_over",
            ReasonCode::NoLongerSurplus => "no_longer_surplus",
        }
    }
}

/// The categories of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Deleted by `apply`.
    Delete,
    /// Declared.
    Keep,
    /// Undeclared, protected.
    Protected,
    /// Undeclared, cannot be deleted now.
    Skip,
    /// Outside the manifest's scope.
    OutOfScope,
    /// Surplus, marked now (with `deletion.grace`).
    Mark,
    /// Surplus, marked, grace period not over.
    Pending,
}

impl Category {
    /// `delete`, `keep`, `protected`, `skip`, `out of scope`.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Delete => "delete",
            Category::Keep => "keep",
            Category::Protected => "protected",
            Category::Skip => "skip",
            Category::OutOfScope => "out of scope",
            Category::Mark => "mark",
            Category::Pending => "pending",
        }
    }
}

/// A live instance with the reason it is in its category.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// The live instance.
    pub instance: Instance,
    /// Why it is there, in words for people.
    pub reason: String,
    /// Why it is there, as a code.
    pub code: ReasonCode,
}

/// The result of planning. Every live instance is in exactly one of `delete`, `keep`,
/// `protected`, `skip` and `out_of_scope` (and, once `grace::apply` ran, `mark` and `pending`,
/// which take instances out of `delete`). `unmark` is an overlay: its instances stay in
/// `keep`, `protected` or `out_of_scope`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Plan {
    /// Undeclared, managed, deletable instances: what `apply` deletes.
    pub delete: Vec<Decision>,
    /// Declared instances, with the entry that declares them.
    pub keep: Vec<Decision>,
    /// Undeclared instances that a `protect` rule keeps, with the rule.
    pub protected: Vec<Decision>,
    /// Undeclared instances that cannot be deleted now (prepaid, busy, too young), with why.
    pub skip: Vec<Decision>,
    /// Instances outside the manifest's `scope`: never touched.
    pub out_of_scope: Vec<Instance>,
    /// Declared entries that match no live instance.
    pub missing: Vec<Entry>,
    /// How many entries the manifest declares.
    pub declared: usize,
    /// The activity guard's figures of every instance it checked, by id; `None` when the
    /// guard (`guards.idle_for`) is not configured (see [`crate::activity`]).
    pub activity: Option<BTreeMap<String, ActivityFigures>>,
    /// With `deletion.grace`: surplus instances marked now (a tag), deleted on a later run.
    pub mark: Vec<Decision>,
    /// With `deletion.grace`: marked surplus instances whose grace period is not over.
    pub pending: Vec<Decision>,
    /// With `deletion.grace`: marked instances that are no longer surplus: the mark goes.
    pub unmark: Vec<Decision>,
    /// With `deletion.recycle_bin`: where each deletion goes, by instance id.
    pub destinations: BTreeMap<String, Destination>,
    /// With `deletion.grace`: when each `mark` and `pending` instance may be deleted (RFC
    /// 3339, UTC), by instance id.
    pub deletable_after: BTreeMap<String, String>,
}

/// Where a deletion goes (with `deletion.recycle_bin`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// To the DCS recycle bin (`is_recycle: true`): kept 7 days, restorable.
    RecycleBin,
    /// Destroyed for good: why it cannot go to the recycle bin.
    Permanent(String),
}

impl Plan {
    /// True when this deletion goes to the recycle bin.
    pub fn recoverable(&self, id: &str) -> bool {
        matches!(self.destinations.get(id), Some(Destination::RecycleBin))
    }

    /// `(to the recycle bin, permanently)` among the deletions, when the recycle bin is in
    /// use (`None` otherwise).
    pub fn destination_counts(&self) -> Option<(usize, usize)> {
        if self.destinations.is_empty() {
            return None;
        }
        let bin = self
            .delete
            .iter()
            .filter(|d| self.recoverable(&d.instance.id))
            .count();
        Some((bin, self.delete.len().saturating_sub(bin)))
    }
}

/// Why a plan that was shown (saved, or before the prompt) can no longer be applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stale {
    /// One line per planned instance that changed.
    pub changes: Vec<String>,
    /// A unified diff of the planned deletions, then and now.
    pub diff: String,
}

/// Guard settings given on the command line for one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--allow-empty`.
    pub allow_empty: bool,
    /// `--max-delete N`: replaces the manifest's `max_delete` for this run.
    pub max_delete: Option<usize>,
}

impl Plan {
    /// True when there is nothing to delete, mark or unmark.
    pub fn is_empty(&self) -> bool {
        self.delete.is_empty() && self.mark.is_empty() && self.unmark.is_empty()
    }

    /// How many live instances are in scope (everything but `out_of_scope`).
    pub fn managed(&self) -> usize {
        self.delete.len()
            + self.keep.len()
            + self.protected.len()
            + self.skip.len()
            + self.mark.len()
            + self.pending.len()
    }
}

/// Why an undeclared, unprotected instance cannot be deleted now, if it cannot.
fn skip_reason(
    inst: &Instance,
    min_age: Option<Duration>,
    now: time::OffsetDateTime,
) -> Option<(ReasonCode, String)> {
    if inst.is_prepaid() {
        return Some((
            ReasonCode::Prepaid,
            "prepaid (yearly/monthly): the API cannot delete it; unsubscribe it through billing"
                .to_owned(),
        ));
    }
    if inst.billing().is_none() {
        return Some((
            ReasonCode::BillingUnknown,
            format!(
                "billing mode unknown (charging_mode {}): only pay-per-use instances are deleted",
                inst.charging_mode
                    .map_or_else(|| "missing".to_owned(), |m| m.to_string())
            ),
        ));
    }
    if !DELETABLE_STATUSES.contains(&inst.status.as_str()) {
        return Some((
            ReasonCode::Status,
            format!(
                "status {}: only RUNNING, ERROR and CREATEFAILED instances can be deleted; the \
                 next run will see it again",
                inst.status
            ),
        ));
    }
    if let Some(min_age) = min_age {
        let created = inst.created_at.as_deref().and_then(parse_time);
        let Some(created) = created else {
            return Some((
                ReasonCode::CreationUnknown,
                format!(
                    "creation time unknown ({}), so min_age {} cannot be checked",
                    inst.created_at.as_deref().unwrap_or("missing"),
                    human_duration(min_age)
                ),
            ));
        };
        match age(created, now) {
            Some(a) if a >= min_age => {}
            Some(a) => {
                return Some((
                    ReasonCode::TooYoung,
                    format!(
                        "younger than min_age {}: created {} ago",
                        human_duration(min_age),
                        human_duration(a)
                    ),
                ));
            }
            None => {
                return Some((
                    ReasonCode::TooYoung,
                    format!(
                        "younger than min_age {}: created in the future ({}), by the clock of \
                         this machine",
                        human_duration(min_age),
                        inst.created_at.as_deref().unwrap_or_default()
                    ),
                ));
            }
        }
    }
    None
}

/// `declared by ` and the entry's [`Entry::label`], written into one string at its final size
/// (one allocation per kept instance instead of four).
fn declared_reason(e: &Entry) -> String {
    const PREFIX: &str = "declared by instances[";
    let index = e.index.to_string();
    let name = e.name.as_deref().unwrap_or_default();
    let id = e.id.as_deref().unwrap_or_default();
    let mut out = String::with_capacity(
        PREFIX.len() + index.len() + name.len() + id.len() + "] (name: , id: )".len(),
    );
    out.push_str(PREFIX);
    out.push_str(&index);
    out.push_str("] (");
    if let Some(name) = &e.name {
        out.push_str("name: ");
        out.push_str(name);
    }
    if let Some(id) = &e.id {
        if e.name.is_some() {
            out.push_str(", ");
        }
        out.push_str("id: ");
        out.push_str(id);
    }
    out.push(')');
    out
}

/// How many instances are moved into the plan between two shrinkings of the listing.
const RELEASE_EVERY: usize = 4096;

/// Plans the reconciliation of `live` against the manifest's `entries` and `rules`, at time
/// `now` (for `min_age`). The instances move into the plan (for a large project the listing is
/// the biggest value the tool holds; this keeps one copy of it).
///
/// Returns one message per entry whose `id` and `name` disagree with the live instances;
/// such a manifest is not planned at all, so nothing can be deleted because of it.
pub fn plan(
    entries: &[Entry],
    rules: &Rules,
    live: Vec<Instance>,
    now: time::OffsetDateTime,
) -> Result<Plan, Vec<String>> {
    let (declared_by, missing) = match_entries(entries, &live)?;

    // Where each instance goes, decided before anything moves, so that every list of the plan
    // is allocated once at its final size.
    enum Place {
        OutOfScope,
        Keep(usize),
        Protected(String),
        Skip(ReasonCode, String),
        Delete,
    }
    let places: Vec<Place> = live
        .iter()
        .zip(&declared_by)
        .map(|(inst, by)| {
            if !rules.scope.contains(inst) {
                Place::OutOfScope
            } else if let Some(index) = *by {
                Place::Keep(index)
            } else if let Some((n, rule)) = rules
                .protect
                .iter()
                .enumerate()
                .find(|(_, r)| r.matches(inst))
            {
                Place::Protected(format!("protected by protect[{n}] ({})", rule.describe()))
            } else if let Some((code, reason)) = skip_reason(inst, rules.guards.min_age, now) {
                Place::Skip(code, reason)
            } else {
                Place::Delete
            }
        })
        .collect();
    drop(declared_by);
    let count = |f: fn(&Place) -> bool| places.iter().filter(|p| f(p)).count();
    let mut plan = Plan {
        delete: Vec::with_capacity(count(|p| matches!(p, Place::Delete))),
        keep: Vec::with_capacity(count(|p| matches!(p, Place::Keep(_)))),
        protected: Vec::with_capacity(count(|p| matches!(p, Place::Protected(_)))),
        skip: Vec::with_capacity(count(|p| matches!(p, Place::Skip(..)))),
        out_of_scope: Vec::with_capacity(count(|p| matches!(p, Place::OutOfScope))),
        missing,
        declared: entries.len(),
        ..Plan::default()
    };
    // The instances are moved from the back of the listing, which is shrunk as it empties: its
    // memory goes back while the plan's lists fill, instead of both being held at the end.
    // The lists are reversed afterwards (and sorted anyway), so the order is unchanged.
    let (mut live, mut places) = (live, places);
    let mut moved = 0usize;
    while let (Some(instance), Some(place)) = (live.pop(), places.pop()) {
        moved = moved.wrapping_add(1);
        if moved.is_multiple_of(RELEASE_EVERY) {
            live.shrink_to_fit();
            places.shrink_to_fit();
        }
        match place {
            Place::OutOfScope => plan.out_of_scope.push(instance),
            Place::Keep(index) => {
                // Entries are numbered by position, so this is a lookup, not a search.
                let entry = entries
                    .get(index)
                    .filter(|e| e.index == index)
                    .or_else(|| entries.iter().find(|e| e.index == index));
                let reason = match entry {
                    Some(e) => declared_reason(e),
                    None => format!("declared by instances[{index}]"),
                };
                plan.keep.push(Decision {
                    instance,
                    reason,
                    code: ReasonCode::Declared,
                });
            }
            Place::Protected(reason) => plan.protected.push(Decision {
                instance,
                reason,
                code: ReasonCode::Protected,
            }),
            Place::Skip(code, reason) => plan.skip.push(Decision {
                instance,
                reason,
                code,
            }),
            Place::Delete => plan.delete.push(Decision {
                instance,
                reason: "not declared in the manifest".to_owned(),
                code: ReasonCode::NotDeclared,
            }),
        }
    }
    drop((live, places));
    plan.delete.reverse();
    plan.keep.reverse();
    plan.protected.reverse();
    plan.skip.reverse();
    plan.out_of_scope.reverse();
    let order = |a: &Decision, b: &Decision| {
        (&a.instance.name, &a.instance.id).cmp(&(&b.instance.name, &b.instance.id))
    };
    plan.delete.sort_by(order);
    plan.keep.sort_by(order);
    plan.protected.sort_by(order);
    plan.skip.sort_by(order);
    plan.out_of_scope
        .sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    Ok(plan)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Guards, Limit, NameGlob, NameRegex, ProtectRule, Scope};

    fn inst(id: &str, name: &str) -> Instance {
        Instance {
            id: id.to_owned(),
            name: name.to_owned(),
            status: "RUNNING".to_owned(),
            charging_mode: Some(0),
            ..Instance::default()
        }
    }

    #[test]
    fn the_declared_reason_is_the_entry_label() {
        for (id, name) in [
            (None, None),
            (None, Some("a")),
            (Some("i-1"), None),
            (Some("i-1"), Some("a b")),
        ] {
            let e = Entry {
                index: 12,
                id: id.map(str::to_owned),
                name: name.map(str::to_owned),
                region: None,
            };
            assert_eq!(declared_reason(&e), format!("declared by {}", e.label()));
        }
    }

    #[test]
    fn a_large_listing_moved_in_steps_gives_the_same_sorted_plan() {
        // More than two steps of RELEASE_EVERY, listed in reverse, every third declared.
        let n = 2 * RELEASE_EVERY + 777;
        let live: Vec<Instance> = (0..n)
            .rev()
            .map(|i| inst(&format!("id-{i:05}"), &format!("n-{i:05}")))
            .collect();
        let entries: Vec<Entry> = (0..n)
            .step_by(3)
            .enumerate()
            .map(|(k, i)| by_name(k, &format!("n-{i:05}")))
            .collect();
        let p = plan(&entries, &Rules::default(), live, NOW).expect("plans");
        assert_eq!(p.keep.len(), n.div_ceil(3));
        assert_eq!(p.delete.len(), n - n.div_ceil(3));
        for list in [&p.keep, &p.delete] {
            assert!(
                list.windows(2)
                    .all(|w| w[0].instance.name < w[1].instance.name)
            );
        }
        assert_eq!(p.keep[1].instance.name, "n-00003");
        assert_eq!(p.keep[1].reason, "declared by instances[1] (name: n-00003)");
        assert_eq!(p.delete[0].instance.id, "id-00001");
    }

    fn by_name(index: usize, name: &str) -> Entry {
        Entry {
            index,
            id: None,
            name: Some(name.to_owned()),
            region: None,
        }
    }

    fn by_id(index: usize, id: &str) -> Entry {
        Entry {
            index,
            id: Some(id.to_owned()),
            name: None,
            region: None,
        }
    }

    fn both(index: usize, id: &str, name: &str) -> Entry {
        Entry {
            index,
            id: Some(id.to_owned()),
            name: Some(name.to_owned()),
            region: None,
        }
    }

    fn ids(ds: &[Decision]) -> Vec<&str> {
        ds.iter().map(|d| d.instance.id.as_str()).collect()
    }

    const NOW: time::OffsetDateTime = time::macros::datetime!(2026-06-01 12:00:00 UTC);

    fn ok(entries: &[Entry], live: &[Instance]) -> Plan {
        ok_with(entries, &Rules::default(), live)
    }

    fn ok_with(entries: &[Entry], rules: &Rules, live: &[Instance]) -> Plan {
        match plan(entries, rules, live.to_vec(), NOW) {
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
        assert!(
            p.refusals(&Guards::default(), Overrides::default())
                .is_empty()
        );
    }

    #[test]
    fn undeclared_instances_are_deleted() {
        let live = [inst("1", "a"), inst("2", "b"), inst("3", "c")];
        let p = ok(&[by_name(0, "b")], &live);
        assert_eq!(ids(&p.delete), ["1", "3"]);
        assert_eq!(p.delete[0].code, ReasonCode::NotDeclared);
        assert_eq!(p.keep[0].code, ReasonCode::Declared);
        assert_eq!(ids(&p.keep), ["2"]);
        assert_eq!(p.delete[0].reason, "not declared in the manifest");
        assert_eq!(p.keep[0].reason, "declared by instances[0] (name: b)");
    }

    #[test]
    fn ids_match_without_regard_to_case_and_names_in_normal_form_c() {
        let live = [
            inst("7fd63116-e1ea-4cd1-9b1c-000000000001", "café"),
            inst("7fd63116-e1ea-4cd1-9b1c-000000000002", "b"),
        ];
        let p = ok(
            &[
                by_name(0, "cafe\u{301}"),
                by_id(1, "7FD63116-E1EA-4CD1-9B1C-000000000002"),
            ],
            &live,
        );
        assert!(p.delete.is_empty(), "{:?}", p.delete);
        assert!(p.missing.is_empty());
        let both = ok(
            &[both(
                0,
                "7FD63116-E1EA-4CD1-9B1C-000000000001",
                "cafe\u{301}",
            )],
            &live,
        );
        assert_eq!(ids(&both.keep), ["7fd63116-e1ea-4cd1-9b1c-000000000001"]);
    }

    #[test]
    fn a_missing_entry_that_looks_like_a_deletion_refuses_the_plan() {
        let live = [inst("1", "orders-cache"), inst("2", "Other")];
        for written in [
            "orders\u{200b}-cache",
            "Orders-Cache",
            "orders-cache ",
            "ｏrders-cache",
        ] {
            let p = ok(&[by_name(0, written)], &live);
            let refusals = p.refusals(
                &Guards::default(),
                Overrides {
                    allow_empty: true,
                    max_delete: Some(100),
                },
            );
            assert_eq!(refusals.len(), 1, "{written:?}: {refusals:?}");
            assert!(
                refusals[0].starts_with("near miss: instances[0]")
                    && refusals[0].contains("did you mean \"orders-cache\"?"),
                "{}",
                refusals[0]
            );
        }
        // An id written with an invisible character is a near miss too.
        let p = ok(&[by_id(0, "2\u{feff}")], &live);
        assert_eq!(p.near_misses().len(), 1, "{:?}", p.near_misses());
        // A really different name is no near miss.
        let p = ok(&[by_name(0, "orders-cache-2")], &live);
        assert!(p.near_misses().is_empty());
    }

    #[test]
    fn an_unknown_billing_mode_is_a_skip_not_a_deletion() {
        for mode in [None, Some(2), Some(-1)] {
            let mut i = inst("1", "a");
            i.charging_mode = mode;
            let p = ok(&[], &[i]);
            assert!(p.delete.is_empty(), "{mode:?}");
            assert_eq!(p.skip[0].code, ReasonCode::BillingUnknown);
            assert!(
                p.skip[0].reason.starts_with("billing mode unknown"),
                "{}",
                p.skip[0].reason
            );
        }
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
        let err = plan(&[both(0, "1", "b")], &Rules::default(), live.to_vec(), NOW)
            .err()
            .unwrap_or_default();
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
        let err = plan(&[both(0, "1", "a")], &Rules::default(), live.to_vec(), NOW)
            .err()
            .unwrap_or_default();
        assert_eq!(
            err,
            ["instances[0] (name: a, id: 1): no live instance has id 1, but `a` exists with id 2"]
        );
    }

    #[test]
    fn all_conflicts_are_reported_at_once() {
        let live = [inst("1", "a"), inst("2", "b")];
        let err = plan(
            &[both(0, "1", "x"), both(1, "2", "y")],
            &Rules::default(),
            live.to_vec(),
            NOW,
        )
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
        assert_eq!(
            p.refusals(&Guards::default(), Overrides::default()).len(),
            1
        );
        assert!(p.refusals(&Guards::default(), Overrides::default())[0].contains("--allow-empty"));
        assert!(
            p.refusals(
                &Guards::default(),
                Overrides {
                    allow_empty: true,
                    max_delete: None
                }
            )
            .is_empty()
        );
        // Nothing live: nothing to refuse.
        assert!(
            ok(&[], &[])
                .refusals(&Guards::default(), Overrides::default())
                .is_empty()
        );
    }

    fn tagged(id: &str, name: &str, tags: &[(&str, &str)]) -> Instance {
        let mut i = inst(id, name);
        i.tags = tags
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        i
    }

    fn regex(s: &str) -> NameRegex {
        NameRegex::new(s).expect("it works")
    }

    fn glob(s: &str) -> NameGlob {
        NameGlob::new(s).expect("it works")
    }

    #[test]
    fn instances_outside_the_scope_are_never_touched() {
        let live = [inst("1", "ci-1"), inst("2", "prod-db"), inst("3", "ci-x")];
        let rules = Rules {
            scope: Scope {
                name_prefix: Some("ci-".to_owned()),
                name_regex: Some(regex("^ci-[0-9]+$")),
                ..Scope::default()
            },
            ..Rules::default()
        };
        // Even declared-nothing: only ci-1 is managed.
        let p = ok_with(&[by_name(0, "other")], &rules, &live);
        assert_eq!(ids(&p.delete), ["1"]);
        let out: Vec<&str> = p.out_of_scope.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(out, ["3", "2"]);
        assert_eq!(p.managed(), 1);
    }

    #[test]
    fn scope_by_enterprise_project_and_tags() {
        let mut a = tagged("1", "a", &[("owner", "platform"), ("env", "ci")]);
        a.enterprise_project_id = Some("0".into());
        let mut b = tagged("2", "b", &[("owner", "platform")]);
        b.enterprise_project_id = Some("7".into());
        let mut c = tagged("3", "c", &[("owner", "data")]);
        c.enterprise_project_id = Some("0".into());
        let rules = Rules {
            scope: Scope {
                enterprise_project_id: Some("0".to_owned()),
                tags: vec![("owner".to_owned(), "platform".to_owned())],
                ..Scope::default()
            },
            ..Rules::default()
        };
        let p = ok_with(&[by_name(0, "zz")], &rules, &[a, b, c]);
        assert_eq!(ids(&p.delete), ["1"]);
        assert_eq!(p.out_of_scope.len(), 2);
    }

    #[test]
    fn protect_rules_keep_undeclared_instances_and_say_which_rule() {
        let live = [
            inst("1", "prod-db"),
            inst("2", "scratch"),
            tagged("3", "keepme", &[("keep", "true")]),
            inst("9d78", "by-id"),
        ];
        let rules = Rules {
            protect: vec![
                ProtectRule::Name(glob("prod-*")),
                ProtectRule::Id("9d78".to_owned()),
                ProtectRule::Tag(vec![("keep".to_owned(), "true".to_owned())]),
            ],
            ..Rules::default()
        };
        let p = ok_with(&[by_name(0, "zz")], &rules, &live);
        assert_eq!(ids(&p.delete), ["2"]);
        assert_eq!(ids(&p.protected), ["9d78", "3", "1"]);
        assert_eq!(p.protected[0].reason, "protected by protect[1] (id: 9d78)");
        assert_eq!(
            p.protected[1].reason,
            "protected by protect[2] (tag: {keep: true})"
        );
        assert_eq!(
            p.protected[2].reason,
            "protected by protect[0] (name: 'prod-*')"
        );
    }

    #[test]
    fn a_declared_protected_instance_is_kept() {
        let rules = Rules {
            protect: vec![ProtectRule::Name(glob("*"))],
            ..Rules::default()
        };
        let p = ok_with(&[by_name(0, "a")], &rules, &[inst("1", "a")]);
        assert_eq!(ids(&p.keep), ["1"]);
        assert!(p.protected.is_empty());
    }

    #[test]
    fn instances_younger_than_min_age_are_skipped() {
        let mut young = inst("1", "young");
        young.created_at = Some("2026-06-01T11:00:00.000Z".to_owned());
        let mut old = inst("2", "old");
        old.created_at = Some("2026-06-01T09:59:59.000Z".to_owned());
        let mut unknown = inst("3", "unknown");
        unknown.created_at = None;
        let rules = Rules {
            guards: Guards {
                min_age: Some(Duration::from_secs(2 * 3600)),
                ..Guards::default()
            },
            ..Rules::default()
        };
        let p = ok_with(&[by_name(0, "zz")], &rules, &[young, old, unknown]);
        assert_eq!(ids(&p.delete), ["2"]);
        assert_eq!(ids(&p.skip), ["3", "1"]);
        assert_eq!(p.skip[1].reason, "younger than min_age 2h: created 1h ago");
        assert!(p.skip[0].reason.starts_with("creation time unknown"));
        // Without min_age, age does not matter.
        let p = ok(&[by_name(0, "zz")], &[inst("1", "young")]);
        assert_eq!(ids(&p.delete), ["1"]);
    }

    #[test]
    fn max_delete_caps_by_count_or_percentage() {
        let live: Vec<Instance> = (0..10)
            .map(|i| inst(&i.to_string(), &format!("n{i}")))
            .collect();
        let p = ok(&[by_name(0, "n0")], &live);
        assert_eq!(p.delete.len(), 9);
        let count = Guards {
            max_delete: Some(Limit::Count(8)),
            ..Guards::default()
        };
        let r = p.refusals(&count, Overrides::default());
        assert_eq!(r.len(), 1);
        assert!(
            r[0].starts_with(
                "max_delete: 9 deletions exceed the cap of 8 (max_delete 8 of 10 managed instances)"
            ),
            "{}",
            r[0]
        );
        assert!(r[0].contains("--max-delete 9"), "{}", r[0]);
        assert!(
            p.refusals(
                &Guards {
                    max_delete: Some(Limit::Count(9)),
                    ..Guards::default()
                },
                Overrides::default()
            )
            .is_empty()
        );
        let pct = Guards {
            max_delete: Some(Limit::Percent(85)),
            ..Guards::default()
        };
        assert_eq!(
            p.refusals(&pct, Overrides::default()).len(),
            1,
            "85% of 10 is 8"
        );
        let pct = Guards {
            max_delete: Some(Limit::Percent(90)),
            ..Guards::default()
        };
        assert!(p.refusals(&pct, Overrides::default()).is_empty());
        // --max-delete raises (or sets) the cap for this run.
        let raised = Overrides {
            allow_empty: false,
            max_delete: Some(9),
        };
        assert!(p.refusals(&count, raised).is_empty());
        let lowered = Overrides {
            allow_empty: false,
            max_delete: Some(3),
        };
        assert_eq!(p.refusals(&Guards::default(), lowered).len(), 1);
    }

    #[test]
    fn empty_guard_counts_managed_instances_and_can_be_allowed_in_the_manifest() {
        let p = ok(&[], &[inst("1", "a")]);
        let allowed = Guards {
            allow_empty: true,
            ..Guards::default()
        };
        assert!(p.refusals(&allowed, Overrides::default()).is_empty());
        // Only out-of-scope instances: nothing is managed, nothing to refuse.
        let rules = Rules {
            scope: Scope {
                name_prefix: Some("ci-".to_owned()),
                ..Scope::default()
            },
            ..Rules::default()
        };
        let p = ok_with(&[], &rules, &[inst("1", "a")]);
        assert!(
            p.refusals(&Guards::default(), Overrides::default())
                .is_empty()
        );
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        const NAMES: [&str; 6] = ["ci-1", "ci-2", "prod-a", "prod-b", "x", "ci-prod"];
        const STATUSES: [&str; 6] = [
            "RUNNING",
            "ERROR",
            "CREATEFAILED",
            "CREATING",
            "FROZEN",
            "NEW_THING",
        ];

        fn arb_instance() -> impl Strategy<Value = Instance> {
            (
                0usize..NAMES.len(),
                0usize..STATUSES.len(),
                any::<bool>(),
                0i64..(10 * 86_400),
                any::<bool>(),
                any::<bool>(),
            )
                .prop_map(|(n, s, prepaid, age, keep_tag, epid)| Instance {
                    id: String::new(),
                    name: NAMES[n].to_owned(),
                    status: STATUSES[s].to_owned(),
                    created_at: Some(
                        (NOW - time::Duration::seconds(age))
                            .format(&time::format_description::well_known::Rfc3339)
                            .unwrap_or_default(),
                    ),
                    charging_mode: Some(i64::from(prepaid)),
                    spec_code: None,
                    enterprise_project_id: Some(if epid { "0" } else { "1" }.into()),
                    tags: if keep_tag {
                        vec![("keep".to_owned(), "true".to_owned())]
                    } else {
                        Vec::new()
                    },
                    ..Instance::default()
                })
        }

        fn arb_live() -> impl Strategy<Value = Vec<Instance>> {
            proptest::collection::vec(arb_instance(), 0..25).prop_map(|mut v| {
                for (i, inst) in v.iter_mut().enumerate() {
                    inst.id = format!("id-{i}");
                }
                v
            })
        }

        fn arb_entries() -> impl Strategy<Value = Vec<Entry>> {
            proptest::collection::vec(
                (
                    proptest::option::of(0usize..30),
                    proptest::option::of(0usize..NAMES.len()),
                ),
                0..8,
            )
            .prop_map(|raw| {
                let mut out: Vec<Entry> = Vec::new();
                for (id, name) in raw {
                    // Name-only or id-only entries (pinned pairs can conflict, tested above).
                    let entry = match (id, name) {
                        (Some(i), _) => Entry {
                            index: out.len(),
                            id: Some(format!("id-{i}")),
                            name: None,
                            region: None,
                        },
                        (None, Some(n)) => Entry {
                            index: out.len(),
                            id: None,
                            name: Some(NAMES[n].to_owned()),
                            region: None,
                        },
                        (None, None) => continue,
                    };
                    out.push(entry);
                }
                out
            })
        }

        fn arb_rules() -> impl Strategy<Value = Rules> {
            (
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                any::<bool>(),
                proptest::option::of(0u64..(5 * 86_400)),
            )
                .prop_map(|(prefix, epid, prot_glob, prot_tag, prot_id, min_age)| {
                    let mut protect = Vec::new();
                    if prot_glob {
                        protect.push(ProtectRule::Name(glob("prod-*")));
                    }
                    if prot_tag {
                        protect.push(ProtectRule::Tag(vec![(
                            "keep".to_owned(),
                            "true".to_owned(),
                        )]));
                    }
                    if prot_id {
                        protect.push(ProtectRule::Id("id-3".to_owned()));
                    }
                    Rules {
                        scope: Scope {
                            name_prefix: prefix.then(|| "ci-".to_owned()),
                            enterprise_project_id: epid.then(|| "0".to_owned()),
                            ..Scope::default()
                        },
                        protect,
                        guards: Guards {
                            min_age: min_age.map(Duration::from_secs),
                            ..Guards::default()
                        },
                        ..Rules::default()
                    }
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2000))]

            /// Nothing declared, protected, out of scope, prepaid, busy or too young is ever
            /// deleted; every deleted id is live; the categories partition the live set.
            #[test]
            fn only_undeclared_managed_deletable_instances_are_deleted(
                live in arb_live(), entries in arb_entries(), rules in arb_rules()
            ) {
                let p = plan(&entries, &rules, live.clone(), NOW).expect("it works");
                let mut seen: Vec<&str> = Vec::new();
                for d in p.delete.iter().chain(&p.keep).chain(&p.protected).chain(&p.skip) {
                    seen.push(&d.instance.id);
                }
                seen.extend(p.out_of_scope.iter().map(|i| i.id.as_str()));
                seen.sort_unstable();
                let mut want: Vec<&str> = live.iter().map(|i| i.id.as_str()).collect();
                want.sort_unstable();
                prop_assert_eq!(seen, want);
                for d in &p.delete {
                    let i = &d.instance;
                    prop_assert!(live.contains(i));
                    prop_assert!(rules.scope.contains(i));
                    prop_assert!(!entries.iter().any(|e| e.id.as_deref() == Some(&i.id) || (e.id.is_none() && e.name.as_deref() == Some(&i.name))));
                    prop_assert!(!rules.protect.iter().any(|r| r.matches(i)));
                    prop_assert!(!i.is_prepaid());
                    prop_assert!(DELETABLE_STATUSES.contains(&i.status.as_str()));
                    if let Some(min_age) = rules.guards.min_age {
                        let created = i.created_at.as_deref().and_then(crate::util::parse_time);
                        prop_assert!(created.is_some_and(|c| NOW - c >= time::Duration::try_from(min_age).unwrap_or(time::Duration::MAX)));
                    }
                }
            }
        }
    }
}
