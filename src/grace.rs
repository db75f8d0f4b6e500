//! The grace period (`deletion.grace`): two-phase deletion. Pure; applied to a [`Plan`] after
//! the planner (and after [`crate::recycle`]).
//!
//! A surplus instance is first **marked** with the tag [`MARK_KEY`] = the UTC time of
//! marking (RFC 3339). A later run deletes it only if it is still surplus and deletable and
//! was marked at least `grace` ago; until then it is **pending**. A marked instance that is
//! now declared, protected or out of scope is **unmarked**. A mark whose value cannot be read
//! is treated as marked now: it is marked again with a readable time. A marked instance that
//! is skipped now (busy, too young) keeps its mark. Without `grace` marks are ignored and
//! nothing is tagged.

use std::time::Duration;

use time::OffsetDateTime;

use crate::model::Instance;
use crate::plan::{Decision, Plan, ReasonCode};
use crate::util::{human_duration, parse_time, rfc3339};

/// The tag key of a mark (valid for DCS: no `/`).
pub const MARK_KEY: &str = "dcs-reconcile:pending-delete";

/// The mark's value on `inst`, if it carries one.
pub fn mark_of(inst: &Instance) -> Option<&str> {
    inst.tags
        .iter()
        .find(|(k, _)| k == MARK_KEY)
        .map(|(_, v)| v.as_str())
}

/// The tag written when marking at `now`.
pub fn mark_tag(now: OffsetDateTime) -> (String, String) {
    (MARK_KEY.to_owned(), rfc3339(now))
}

/// `t + grace`, or `None` when it does not fit.
fn after(t: OffsetDateTime, grace: Duration) -> Option<OffsetDateTime> {
    let grace = time::Duration::try_from(grace).ok()?;
    t.checked_add(grace)
}

/// Splits `plan`'s deletions into mark / pending / delete and finds the marks to remove,
/// under `grace` at `now`. Without `grace`, nothing changes.
pub fn apply(plan: &mut Plan, grace: Option<Duration>, now: OffsetDateTime) {
    plan.mark.clear();
    plan.pending.clear();
    plan.unmark.clear();
    plan.deletable_after.clear();
    let Some(grace) = grace else {
        return;
    };
    let grace_text = human_duration(grace);
    let mut delete = Vec::with_capacity(plan.delete.len());
    for d in std::mem::take(&mut plan.delete) {
        let marked = mark_of(&d.instance).map(|v| (v.to_owned(), parse_time(v)));
        match marked {
            None | Some((_, None)) => {
                let when = after(now, grace).map_or_else(|| "never".to_owned(), rfc3339);
                let reason = match &marked {
                    Some((raw, None)) => format!(
                        "not declared; its mark `{}` is unreadable, so it is marked again now; \
                         deletable after {when} (grace {grace_text})",
                        raw.escape_debug()
                    ),
                    _ => format!(
                        "not declared: marked now; deletable after {when} (grace {grace_text})"
                    ),
                };
                plan.deletable_after.insert(d.instance.id.clone(), when);
                plan.destinations.remove(&d.instance.id);
                plan.mark.push(Decision {
                    reason,
                    code: ReasonCode::GraceMark,
                    ..d
                });
            }
            Some((raw, Some(at))) => match after(at, grace) {
                Some(due) if due <= now => delete.push(Decision {
                    reason: format!("not declared; marked {raw}, grace {grace_text} is over"),
                    code: ReasonCode::GraceOver,
                    ..d
                }),
                due => {
                    let when = due.map_or_else(|| "never".to_owned(), rfc3339);
                    plan.deletable_after
                        .insert(d.instance.id.clone(), when.clone());
                    plan.destinations.remove(&d.instance.id);
                    plan.pending.push(Decision {
                        reason: format!(
                            "not declared; marked {raw}, deletable after {when} (grace \
                             {grace_text})"
                        ),
                        code: ReasonCode::GracePending,
                        ..d
                    });
                }
            },
        }
    }
    plan.delete = delete;
    let mut unmark: Vec<Decision> = Vec::new();
    for (what, ds) in [("declared", &plan.keep), ("protected", &plan.protected)] {
        for d in ds {
            if let Some(v) = mark_of(&d.instance) {
                unmark.push(Decision {
                    instance: d.instance.clone(),
                    reason: format!(
                        "marked {v}, but now {what} ({}): the mark is removed",
                        d.reason
                    ),
                    code: ReasonCode::NoLongerSurplus,
                });
            }
        }
    }
    for i in &plan.out_of_scope {
        if let Some(v) = mark_of(i) {
            unmark.push(Decision {
                instance: i.clone(),
                reason: format!("marked {v}, but now out of scope: the mark is removed"),
                code: ReasonCode::NoLongerSurplus,
            });
        }
    }
    let order = |a: &Decision, b: &Decision| {
        (&a.instance.name, &a.instance.id).cmp(&(&b.instance.name, &b.instance.id))
    };
    unmark.sort_by(order);
    plan.unmark = unmark;
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn inst(id: &str, mark: Option<&str>) -> Instance {
        Instance {
            id: id.to_owned(),
            name: format!("n-{id}"),
            status: "RUNNING".to_owned(),
            tags: mark
                .map(|m| vec![(MARK_KEY.to_owned(), m.to_owned())])
                .unwrap_or_default(),
            ..Instance::default()
        }
    }

    fn decision(i: Instance) -> Decision {
        Decision {
            instance: i,
            reason: "not declared in the manifest".to_owned(),
            code: ReasonCode::NotDeclared,
        }
    }

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn without_grace_nothing_changes() {
        let mut p = Plan {
            delete: vec![decision(inst("a", Some("2026-01-01T00:00:00Z")))],
            ..Plan::default()
        };
        let before = p.clone();
        apply(&mut p, None, datetime!(2026-12-01 10:00 UTC));
        assert_eq!(p, before);
    }

    #[test]
    fn mark_then_pending_then_delete() {
        let now = datetime!(2026-12-01 10:00 UTC);
        let mut p = Plan {
            delete: vec![
                decision(inst("new", None)),
                decision(inst("young", Some("2026-12-01T09:00:00Z"))),
                decision(inst("old", Some("2026-11-30T10:00:00Z"))),
                decision(inst("bad", Some("yesterday"))),
                decision(inst("future", Some("2027-01-01T00:00:00Z"))),
            ],
            ..Plan::default()
        };
        apply(&mut p, Some(DAY), now);
        let ids = |ds: &[Decision]| ds.iter().map(|d| d.instance.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&p.delete), ["old"], "exactly grace ago is over");
        assert_eq!(p.delete[0].code, ReasonCode::GraceOver);
        assert_eq!(ids(&p.mark), ["new", "bad"]);
        assert!(
            p.mark[1].reason.contains("unreadable"),
            "{}",
            p.mark[1].reason
        );
        assert_eq!(ids(&p.pending), ["young", "future"]);
        assert_eq!(p.deletable_after["new"], "2026-12-02T10:00:00Z");
        assert_eq!(p.deletable_after["young"], "2026-12-02T09:00:00Z");
        assert_eq!(p.deletable_after["future"], "2027-01-02T00:00:00Z");
        assert!(!p.deletable_after.contains_key("old"));
    }

    #[test]
    fn marked_but_declared_protected_or_out_of_scope_is_unmarked() {
        let mut p = Plan {
            keep: vec![decision(inst("k", Some("2026-11-30T10:00:00Z")))],
            protected: vec![decision(inst("p", Some("x")))],
            skip: vec![decision(inst("s", Some("2026-11-30T10:00:00Z")))],
            out_of_scope: vec![inst("o", Some("2026-11-30T10:00:00Z")), inst("o2", None)],
            ..Plan::default()
        };
        apply(&mut p, Some(DAY), datetime!(2026-12-01 10:00 UTC));
        let ids: Vec<&str> = p.unmark.iter().map(|d| d.instance.id.as_str()).collect();
        assert_eq!(ids, ["k", "o", "p"], "a skipped instance keeps its mark");
        assert!(
            p.unmark
                .iter()
                .all(|d| d.code == ReasonCode::NoLongerSurplus)
        );
        assert_eq!(p.keep.len(), 1, "unmarking does not move the instance");
    }

    #[test]
    fn the_mark_is_rfc3339_utc() {
        assert_eq!(
            mark_tag(datetime!(2026-12-01 10:00:00.5 +02:00)),
            (MARK_KEY.to_owned(), "2026-12-01T08:00:00Z".to_owned())
        );
    }
}
