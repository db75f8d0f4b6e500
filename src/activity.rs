//! The activity guard (`guards.idle_for`): deletions that Cloud Eye shows in use, or that it
//! has no data for, become skips.
//!
//! [`guard`] is pure: it takes a plan, the [`IdleRule`] and what Cloud Eye answered for each
//! planned deletion, moves the active and the unknown ones from `delete` to `skip` (keeping
//! the plan's order) and records the figures of every instance checked in `plan.activity`.
//! No data is never "idle": an instance Cloud Eye knows nothing about stays.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use crate::api::ces::Activity;
use crate::model::Guards;
use crate::plan::{Decision, Plan, ReasonCode};

/// When an instance counts as idle.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IdleRule {
    /// `idle_for`: the window looked at, ending now.
    pub window: Duration,
    /// `idle_max_ops`: the highest peak of commands per second still idle.
    pub max_ops: f64,
    /// `idle_max_connections`: the most new connections in the window still idle.
    pub max_connections: u64,
}

impl IdleRule {
    /// The rule of `guards`; `None` when `idle_for` is not set (no guard).
    pub fn of(guards: &Guards) -> Option<IdleRule> {
        Some(IdleRule {
            window: guards.idle_for?,
            max_ops: guards.idle_max_ops.map_or(0.0, |n| n.get()),
            max_connections: guards.idle_max_connections.unwrap_or(0),
        })
    }
}

pub use crate::model::ActivityFigures;

/// `24h`, `2d`, `90m`: a window in the largest unit that divides it (days from 2 days on).
pub fn window_text(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 2 * 86_400 && s.is_multiple_of(86_400) {
        format!("{}d", s / 86_400)
    } else if s >= 3600 && s.is_multiple_of(3600) {
        format!("{}h", s / 3600)
    } else if s >= 60 && s.is_multiple_of(60) {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

/// A figure for people: `12`, `7.5`, `0.33`.
pub fn number_text(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else {
        let t = format!("{v:.2}");
        t.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

impl ActivityFigures {
    /// The figures of one answer under `rule`.
    pub fn new(rule: &IdleRule, observed: Option<&Activity>) -> ActivityFigures {
        match observed {
            Some(a) if !a.peak_ops.is_nan() && !a.new_connections.is_nan() => {
                // Compared as f64: a u64 threshold above 2^53 rounds, harmlessly upwards or
                // downwards by less than one connection in 2^53.
                #[allow(clippy::cast_precision_loss)]
                let max_connections = rule.max_connections as f64;
                ActivityFigures {
                    window: rule.window,
                    peak_ops: Some(a.peak_ops),
                    new_connections: Some(a.new_connections),
                    datapoints: a.datapoints,
                    idle: a.peak_ops <= rule.max_ops && a.new_connections <= max_connections,
                }
            }
            _ => ActivityFigures {
                window: rule.window,
                peak_ops: None,
                new_connections: None,
                datapoints: 0,
                idle: false,
            },
        }
    }

    /// `peak 12 ops/s, 40 new connections in the last 24h`, or `no monitoring data in the
    /// last 24h`.
    pub fn describe(&self) -> String {
        let window = window_text(self.window);
        match (self.peak_ops, self.new_connections) {
            (Some(ops), Some(conns)) => format!(
                "peak {} ops/s, {} new connections in the last {window}",
                number_text(ops),
                number_text(conns)
            ),
            _ => format!("no monitoring data in the last {window}"),
        }
    }

    /// Why an instance that is not idle is skipped.
    fn skip(&self) -> (ReasonCode, String) {
        let window = window_text(self.window);
        if self.peak_ops.is_some() {
            (
                ReasonCode::InUse,
                format!("in use: {} (Cloud Eye)", self.describe()),
            )
        } else {
            (
                ReasonCode::ActivityUnknown,
                format!("activity unknown: no monitoring data in the last {window}"),
            )
        }
    }
}

/// Applies the activity guard to `plan`: every deletion is looked up in `observed` (what
/// Cloud Eye answered, by instance id; a missing id is no data), its figures recorded in
/// `plan.activity`, and the ones that are not idle move to `plan.skip` with the reason. The
/// deletions that stay, and the skips, keep the plan's order.
pub fn guard(plan: &mut Plan, rule: &IdleRule, observed: &HashMap<String, Option<Activity>>) {
    let mut figures: BTreeMap<String, ActivityFigures> = BTreeMap::new();
    let mut kept = Vec::with_capacity(plan.delete.len());
    let mut moved: Vec<Decision> = Vec::new();
    for mut d in std::mem::take(&mut plan.delete) {
        let f = ActivityFigures::new(rule, observed.get(&d.instance.id).and_then(Option::as_ref));
        figures.insert(d.instance.id.clone(), f);
        if f.idle {
            kept.push(d);
        } else {
            let (code, reason) = f.skip();
            d.code = code;
            d.reason = reason;
            moved.push(d);
        }
    }
    plan.delete = kept;
    if !moved.is_empty() {
        plan.skip.extend(moved);
        plan.skip.sort_by(|a, b| {
            (&a.instance.name, &a.instance.id).cmp(&(&b.instance.name, &b.instance.id))
        });
    }
    plan.activity
        .get_or_insert_with(BTreeMap::new)
        .extend(figures);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Instance, NonNegative};

    const DAY: Duration = Duration::from_secs(86_400);

    fn decision(id: &str, name: &str) -> Decision {
        Decision {
            instance: Instance {
                id: id.to_owned(),
                name: name.to_owned(),
                status: "RUNNING".to_owned(),
                charging_mode: Some(0),
                ..Instance::default()
            },
            reason: "not declared in the manifest".to_owned(),
            code: ReasonCode::NotDeclared,
        }
    }

    fn seen(peak_ops: f64, new_connections: f64) -> Option<Activity> {
        Some(Activity {
            peak_ops,
            new_connections,
            datapoints: 576,
        })
    }

    fn rule(max_ops: f64, max_connections: u64) -> IdleRule {
        IdleRule {
            window: DAY,
            max_ops,
            max_connections,
        }
    }

    fn ids(ds: &[Decision]) -> Vec<&str> {
        ds.iter().map(|d| d.instance.id.as_str()).collect()
    }

    #[test]
    fn no_idle_for_is_no_guard() {
        assert_eq!(IdleRule::of(&Guards::default()), None);
        let g = Guards {
            idle_for: Some(DAY),
            idle_max_ops: NonNegative::new(1.5),
            idle_max_connections: Some(3),
            ..Guards::default()
        };
        assert_eq!(IdleRule::of(&g), Some(rule(1.5, 3)));
    }

    #[test]
    fn active_and_unknown_deletions_become_skips_in_order() {
        let mut plan = Plan {
            delete: vec![
                decision("i-a", "a"),
                decision("i-b", "b"),
                decision("i-c", "c"),
                decision("i-d", "d"),
            ],
            skip: vec![decision("i-bb", "bb")],
            ..Plan::default()
        };
        let observed: HashMap<String, Option<Activity>> = [
            ("i-a".to_owned(), seen(0.0, 0.0)),
            ("i-b".to_owned(), seen(12.0, 40.0)),
            ("i-c".to_owned(), None),
        ]
        .into_iter()
        .collect();
        guard(&mut plan, &rule(0.0, 0), &observed);
        assert_eq!(ids(&plan.delete), ["i-a"]);
        assert_eq!(ids(&plan.skip), ["i-b", "i-bb", "i-c", "i-d"]);
        let b = &plan.skip[0];
        assert_eq!(b.code, ReasonCode::InUse);
        assert_eq!(
            b.reason,
            "in use: peak 12 ops/s, 40 new connections in the last 24h (Cloud Eye)"
        );
        assert_eq!(plan.skip[2].code, ReasonCode::ActivityUnknown);
        assert_eq!(
            plan.skip[2].reason,
            "activity unknown: no monitoring data in the last 24h"
        );
        assert_eq!(
            plan.skip[3].code,
            ReasonCode::ActivityUnknown,
            "an id Cloud Eye did not answer for is unknown too"
        );
        let figures = plan.activity.as_ref().map(|a| a.len());
        assert_eq!(figures, Some(4), "every instance checked has figures");
        let a = plan.activity.as_ref().and_then(|a| a.get("i-a").copied());
        assert_eq!(
            a,
            Some(ActivityFigures {
                window: DAY,
                peak_ops: Some(0.0),
                new_connections: Some(0.0),
                datapoints: 576,
                idle: true,
            })
        );
    }

    #[test]
    fn thresholds_are_inclusive_and_each_one_counts() {
        let r = rule(2.0, 5);
        assert!(ActivityFigures::new(&r, seen(2.0, 5.0).as_ref()).idle);
        assert!(!ActivityFigures::new(&r, seen(2.01, 0.0).as_ref()).idle);
        assert!(!ActivityFigures::new(&r, seen(0.0, 6.0).as_ref()).idle);
        assert!(!ActivityFigures::new(&r, seen(f64::NAN, 0.0).as_ref()).idle);
        assert!(!ActivityFigures::new(&r, seen(0.0, f64::INFINITY).as_ref()).idle);
        assert!(!ActivityFigures::new(&r, None).idle);
    }

    #[test]
    fn nothing_to_delete_still_marks_the_guard_as_configured() {
        let mut plan = Plan::default();
        guard(&mut plan, &rule(0.0, 0), &HashMap::new());
        assert_eq!(plan.activity, Some(BTreeMap::new()));
        assert!(plan.delete.is_empty() && plan.skip.is_empty());
    }

    #[test]
    fn windows_and_figures_read_like_the_manifest() {
        assert_eq!(window_text(Duration::from_secs(3600)), "1h");
        assert_eq!(window_text(DAY), "24h");
        assert_eq!(window_text(2 * DAY), "2d");
        assert_eq!(window_text(30 * DAY), "30d");
        assert_eq!(window_text(Duration::from_secs(90 * 60)), "90m");
        assert_eq!(window_text(Duration::from_secs(61)), "61s");
        assert_eq!(number_text(12.0), "12");
        assert_eq!(number_text(7.5), "7.5");
        assert_eq!(number_text(1.0 / 3.0), "0.33");
        assert_eq!(number_text(f64::INFINITY), "inf");
    }
}
