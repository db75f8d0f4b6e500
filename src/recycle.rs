//! The recycle bin: which deletions may go there (dcs-api.md §9). Pure; applied to a
//! [`Plan`] after the planner, when the manifest sets `deletion.recycle_bin`.
//!
//! Only Redis 4.0 or later, and not the Enterprise edition, can go to the recycle bin. The
//! listing's `engine`, `engine_version` and `product_type` tell; an instance whose eligibility
//! cannot be told (a field missing or unreadable) counts as not recoverable, so it is never
//! sent with `is_recycle: true` while the user believes it recoverable.

use crate::model::{Deletion, Instance};
use crate::plan::{Destination, Plan, ReasonCode};

/// How long the recycle bin keeps an instance.
pub const KEPT_DAYS: u32 = 7;

/// `Ok` when `inst` can go to the recycle bin; else why not, in words for people.
pub fn eligibility(inst: &Instance) -> Result<(), String> {
    let engine = inst.engine.as_deref().map(str::trim).unwrap_or_default();
    if engine.is_empty() {
        return Err(
            "the engine is unknown, so it may not be able to use the recycle bin".to_owned(),
        );
    }
    if !engine.eq_ignore_ascii_case("redis") {
        return Err(format!("{engine} cannot use the recycle bin (Redis only)"));
    }
    let version = inst
        .engine_version
        .as_deref()
        .map(str::trim)
        .unwrap_or_default();
    let major = version
        .split('.')
        .next()
        .and_then(|m| m.trim().parse::<u32>().ok());
    match major {
        None => {
            return Err(format!(
                "the Redis version is unknown ({}), so it may not be able to use the recycle bin",
                if version.is_empty() {
                    "missing"
                } else {
                    version
                }
            ));
        }
        Some(m) if m < 4 => {
            return Err(format!("Redis {version} cannot use the recycle bin"));
        }
        Some(_) => {}
    }
    match inst.product_type.as_deref().map(str::trim) {
        None | Some("") => Err(
            "the edition (product_type) is unknown, so it may not be able to use the recycle bin"
                .to_owned(),
        ),
        Some(p) if p.eq_ignore_ascii_case("enterprise") => {
            Err("the Enterprise edition cannot use the recycle bin".to_owned())
        }
        Some(_) => Ok(()),
    }
}

/// Decides where each of `plan`'s deletions goes under `deletion`: with `recycle_bin`, every
/// deletion gets a [`Destination`]; with `require_recoverable`, the ineligible ones become
/// skips with the reason. Without `recycle_bin`, nothing changes.
pub fn apply(plan: &mut Plan, deletion: &Deletion) {
    plan.destinations.clear();
    if !deletion.recycle_bin {
        return;
    }
    let mut kept = Vec::with_capacity(plan.delete.len());
    for d in std::mem::take(&mut plan.delete) {
        match eligibility(&d.instance) {
            Ok(()) => {
                plan.destinations
                    .insert(d.instance.id.clone(), Destination::RecycleBin);
                kept.push(d);
            }
            Err(why) if deletion.require_recoverable => {
                plan.skip.push(crate::plan::Decision {
                    reason: format!(
                        "not recoverable: {why}; require_recoverable keeps it from being \
                         destroyed permanently"
                    ),
                    code: ReasonCode::NotRecoverable,
                    ..d
                });
            }
            Err(why) => {
                plan.destinations
                    .insert(d.instance.id.clone(), Destination::Permanent(why));
                kept.push(d);
            }
        }
    }
    plan.delete = kept;
    plan.skip.sort_by(|a, b| {
        (&a.instance.name, &a.instance.id).cmp(&(&b.instance.name, &b.instance.id))
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Decision;

    fn redis(version: Option<&str>, product: Option<&str>) -> Instance {
        Instance {
            id: format!("id-{version:?}-{product:?}"),
            name: "n".to_owned(),
            status: "RUNNING".to_owned(),
            charging_mode: Some(0),
            engine: Some("Redis".into()),
            engine_version: version.map(Into::into),
            product_type: product.map(Into::into),
            ..Instance::default()
        }
    }

    #[test]
    fn redis_4_and_later_but_not_enterprise_is_eligible() {
        assert_eq!(eligibility(&redis(Some("4.0"), Some("generic"))), Ok(()));
        assert_eq!(eligibility(&redis(Some("6.0"), Some("generic"))), Ok(()));
        assert_eq!(eligibility(&redis(Some("7.0"), Some("generic"))), Ok(()));
        assert_eq!(
            eligibility(&redis(Some("3.0"), Some("generic"))),
            Err("Redis 3.0 cannot use the recycle bin".to_owned())
        );
        assert_eq!(
            eligibility(&redis(Some("6.0"), Some("enterprise"))),
            Err("the Enterprise edition cannot use the recycle bin".to_owned())
        );
        let mut memcached = redis(Some("1.5"), Some("generic"));
        memcached.engine = Some("Memcached".into());
        assert!(eligibility(&memcached).is_err());
    }

    #[test]
    fn what_cannot_be_told_is_not_recoverable() {
        for i in [
            redis(None, Some("generic")),
            redis(Some("x.y"), Some("generic")),
            redis(Some("5.0"), None),
            redis(Some("5.0"), Some(" ")),
            Instance {
                engine: None,
                ..redis(Some("5.0"), Some("generic"))
            },
        ] {
            let why = eligibility(&i).expect_err("not recoverable");
            assert!(why.contains("unknown"), "{why}");
        }
    }

    fn plan_of(instances: Vec<Instance>) -> Plan {
        Plan {
            delete: instances
                .into_iter()
                .map(|instance| Decision {
                    instance,
                    reason: "not declared in the manifest".to_owned(),
                    code: ReasonCode::NotDeclared,
                })
                .collect(),
            ..Plan::default()
        }
    }

    #[test]
    fn each_deletion_gets_a_destination_or_a_skip() {
        let ok = redis(Some("5.0"), Some("generic"));
        let old = redis(Some("3.0"), Some("generic"));
        let mut off = plan_of(vec![ok.clone(), old.clone()]);
        apply(&mut off, &Deletion::default());
        assert!(off.destinations.is_empty());
        assert_eq!(off.destination_counts(), None);

        let on = Deletion {
            recycle_bin: true,
            ..Deletion::default()
        };
        let mut p = plan_of(vec![ok.clone(), old.clone()]);
        apply(&mut p, &on);
        assert_eq!(p.delete.len(), 2);
        assert!(p.recoverable(&ok.id));
        assert!(!p.recoverable(&old.id));
        assert_eq!(p.destination_counts(), Some((1, 1)));

        let strict = Deletion {
            recycle_bin: true,
            require_recoverable: true,
            ..Deletion::default()
        };
        let mut p = plan_of(vec![ok.clone(), old.clone()]);
        apply(&mut p, &strict);
        assert_eq!(p.delete.len(), 1);
        assert_eq!(p.skip.len(), 1);
        assert_eq!(p.skip[0].code, ReasonCode::NotRecoverable);
        assert!(
            p.skip[0].reason.contains("Redis 3.0"),
            "{}",
            p.skip[0].reason
        );
    }
}
