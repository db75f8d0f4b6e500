//! `apply` over several targets: every target planned (fresh, concurrently) or its saved
//! plan re-checked, every plan shown, then all or nothing: a target that cannot be planned,
//! is refused or is stale stops the whole run before any deletion (`--keep-going` applies
//! the others and exits 4). One confirmation, then deletions target by target in a stable
//! order; a signal stops the run between targets and every target is reported.

use std::path::PathBuf;

use super::Confirmation;
use crate::config::{ApplyConfig, Config, Env, ManifestChoice};
use crate::error::{EXIT_OK, Error, Result};
use crate::fleet::{self, Selection, TargetPlan, TotalLimit};
use crate::identity;
use crate::manifest::{self, Manifest};
use crate::render::notes;
use crate::render::report::{self, Reporter};
use crate::saved::{SavedPlan, Signature};
use crate::session::Session;
use crate::signals::Interrupt;

/// What the tail needs besides the plans.
pub(crate) struct Run<'r, 'w> {
    pub cfg: &'r Config,
    pub a: &'r ApplyConfig,
    pub confirm: &'r mut dyn FnMut(&str) -> Confirmation,
    pub interrupt: &'r Interrupt,
    pub reporter: &'r mut (dyn Reporter + 'w),
    pub color: bool,
}

/// A fresh plan of every selected target.
pub(crate) async fn fresh(run: Run<'_, '_>, env: &Env, selection: Selection) -> Result<u8> {
    run.reporter.fleet();
    fleet::check_single_target_flags(run.cfg, &selection)?;
    let plans = fleet::plan_all(run.cfg, env, selection.targets, run.a.overrides).await?;
    let limit = TotalLimit::given(run.cfg);
    tail(run, plans, false, limit).await
}

/// The saved plan of several targets (`apply --plan FILE`), each re-checked against its
/// live instances; with `-f`, the files must be the ones the plan was made from.
pub(crate) async fn saved(
    run: Run<'_, '_>,
    env: &Env,
    origin: &str,
    targets: Vec<(SavedPlan, Signature)>,
    limit: Option<TotalLimit>,
    given: &[PathBuf],
) -> Result<u8> {
    run.reporter.fleet();
    if run.cfg.endpoint.is_some() || run.cfg.project_id.is_some() {
        return Err(Error::Usage(format!(
            "--endpoint and --project-id name one target, but the saved plan {origin} has {}; \
             nothing was deleted",
            targets.len()
        )));
    }
    if !given.is_empty() {
        check_given(origin, &targets, given)?;
    }
    let shared = identity::Shared::new(env)?;
    let mut plans = Vec::with_capacity(targets.len());
    for (n, (saved, signature)) in targets.into_iter().enumerate() {
        let at = format!("{origin} (target {n})");
        super::apply::log_signature(&at, signature);
        plans.push(saved_target(&run, env, &shared, &at, saved).await);
    }
    // A file edited to hold one target twice (its hash recomputed) plans it once, not twice.
    fleet::check_duplicates(&plans)?;
    tail(run, plans, true, limit).await
}

/// Every given manifest must be the manifest of a saved target, and every saved target's
/// manifest must be given: the files merged must be the files reviewed.
fn check_given(origin: &str, targets: &[(SavedPlan, Signature)], given: &[PathBuf]) -> Result<()> {
    let current = fleet::load(&ManifestChoice::Given(given.to_vec()))?;
    let saved: std::collections::BTreeMap<&str, &str> = targets
        .iter()
        .map(|(s, _)| (s.doc.manifest.sha256.as_str(), s.doc.manifest.path.as_str()))
        .collect();
    for m in &current {
        if !saved.contains_key(m.sha256.as_str()) {
            return Err(Error::Guard(format!(
                "{}: SHA-256 {} is not the SHA-256 of any manifest the saved plan {origin} was \
                 made from; nothing was deleted. Make a new plan from these files and review it",
                m.path.display(),
                m.sha256
            )));
        }
    }
    for (sha, path) in saved {
        if !current.iter().any(|m| m.sha256 == sha) {
            return Err(Error::Guard(format!(
                "the saved plan {origin} was made from {path} (SHA-256 {sha}), which is not \
                 among the files given with -f, or has changed; nothing was deleted"
            )));
        }
    }
    Ok(())
}

/// One saved target re-checked: its session and plan as it stands now, or why not.
async fn saved_target(
    run: &Run<'_, '_>,
    env: &Env,
    shared: &identity::Shared,
    at: &str,
    saved: SavedPlan,
) -> TargetPlan {
    let path = std::path::PathBuf::from(&saved.doc.manifest.path);
    let manifest = manifest::parse(saved.manifest_text.as_bytes(), &path)
        .map_err(|e| Error::Usage(format!("{at}: the saved manifest is invalid: {e}")))
        .and_then(|m| region_of(m, saved.doc.region.as_deref(), at));
    let manifest = match manifest {
        Ok(m) => m,
        Err(e) => {
            let mut m = Manifest::empty(&path);
            m.region.clone_from(&saved.doc.region);
            return TargetPlan {
                label: saved_label(&m, &saved),
                manifest: m,
                result: Err(e),
            };
        }
    };
    let label = saved_label(&manifest, &saved);
    let result = async {
        let session = Session::for_saved(run.cfg, &saved, at, env, Some(shared))?;
        match session
            .replan_saved(&saved, &manifest, at, run.a.overrides)
            .await?
        {
            Ok(planned) => Ok((session, planned)),
            // The changes go into the message: a target's section shows only its error.
            Err(stale) => Err(Error::Guard(format!(
                "the saved plan {at} is stale ({} of its {} deletions changed: {}); nothing was \
                 deleted. Run plan again and review the new plan.",
                stale.changes.len(),
                saved.doc.delete.len(),
                stale.changes.join("; ")
            ))),
        }
    }
    .await;
    TargetPlan {
        label,
        manifest,
        result,
    }
}

fn saved_label(m: &Manifest, saved: &SavedPlan) -> crate::render::fleet::TargetLabel {
    let mut label = fleet::label_of(m);
    label.project_id = Some(saved.doc.project_id.clone());
    label.endpoint = Some(saved.doc.endpoint.clone());
    label
}

/// The target of `region` among a saved manifest's targets.
pub(crate) fn region_of(m: Manifest, region: Option<&str>, at: &str) -> Result<Manifest> {
    if m.regions.is_empty() {
        return Ok(m);
    }
    m.into_targets()
        .into_iter()
        .find(|t| t.region.as_deref() == region)
        .ok_or_else(|| {
            Error::Usage(format!(
                "{at}: the saved manifest lists no region {}; the file was edited",
                region.unwrap_or("(none)")
            ))
        })
}

/// Show every plan, check all or nothing, confirm once, re-check, delete target by target.
async fn tail(
    run: Run<'_, '_>,
    plans: Vec<TargetPlan>,
    saved: bool,
    limit: Option<TotalLimit>,
) -> Result<u8> {
    let Run {
        cfg,
        a,
        confirm,
        interrupt,
        reporter,
        color,
    } = run;
    let mut plans = plans;
    for t in &mut plans {
        if let Ok((_, planned)) = &mut t.result {
            planned.context.color = color;
        }
    }
    let of = plans.len();
    for (n, t) in plans.iter().enumerate() {
        reporter
            .target(n, of, &t.label)
            .map_err(report::write_error)?;
        match &t.result {
            Ok((_, planned)) => reporter.plan(planned.shown()),
            Err(e) => reporter.target_failed(e),
        }
        .map_err(report::write_error)?;
    }
    let refusals = fleet::total_refusals(&plans, limit.as_ref());
    if !refusals.is_empty() {
        return Err(Error::Guard(format!(
            "refusing to apply; nothing was deleted in any target: {}",
            refusals.join("; ")
        )));
    }
    let mut faults = fleet::faults(&plans);
    if !faults.is_empty() && !cfg.fleet.keep_going {
        return Err(fleet::fault_error(
            &faults,
            of,
            "nothing was deleted in any target. Fix them, or pass --keep-going to apply the \
             others",
        ));
    }
    // Refused targets are named in the report as left out.
    for (n, t) in plans.iter().enumerate() {
        if let Ok((_, planned)) = &t.result
            && !planned.context.refusals.is_empty()
        {
            reporter
                .target(n, of, &t.label)
                .and_then(|()| {
                    reporter.target_failed(&Error::Guard(format!(
                        "refused, left out (--keep-going): {}",
                        planned.context.refusals.join("; ")
                    )))
                })
                .map_err(report::write_error)?;
        }
    }
    let mut runnable: Vec<usize> = plans
        .iter()
        .enumerate()
        .filter(|(_, t)| {
            t.result.as_ref().is_ok_and(|(_, planned)| {
                planned.context.refusals.is_empty() && !planned.plan.is_empty()
            })
        })
        .map(|(n, _)| n)
        .collect();
    if !runnable.is_empty() && !saved && !a.auto_approve {
        let (mut deletions, mut tags) = (0usize, 0usize);
        for &n in &runnable {
            if let Ok((_, p)) = &plans[n].result {
                deletions = deletions.saturating_add(p.plan.delete.len());
                tags = tags.saturating_add(p.plan.mark.len() + p.plan.unmark.len());
            }
        }
        interrupt.prompting(true);
        let answer = confirm(&notes::fleet_question(deletions, tags, runnable.len()));
        interrupt.prompting(false);
        super::apply::check_answer(answer)?;
        // What was confirmed must still stand, in every target, before any deletion.
        let mut stale_targets = Vec::new();
        for &n in &runnable {
            let t = &plans[n];
            let Ok((session, planned)) = &t.result else {
                continue;
            };
            if let Err(stale) = session.recheck(&t.manifest, planned).await? {
                reporter
                    .target(n, of, &t.label)
                    .and_then(|()| reporter.stale("plan shown before the prompt", &stale))
                    .map_err(report::write_error)?;
                stale_targets.push(n);
            }
        }
        if !stale_targets.is_empty() {
            let stale: Vec<(String, u8)> = stale_targets
                .iter()
                .map(|&n| (plans[n].label.name(), crate::error::EXIT_GUARD))
                .collect();
            if !cfg.fleet.keep_going {
                return Err(Error::Fleet {
                    message: format!(
                        "the plan shown before the prompt is stale in {}: {}; nothing was \
                         deleted in any target. Run plan again and review the new plan",
                        crate::render::plural(stale.len(), "target", "targets"),
                        stale
                            .iter()
                            .map(|(n, _)| n.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    code: crate::error::EXIT_GUARD,
                });
            }
            runnable.retain(|n| !stale_targets.contains(n));
            faults.extend(stale);
        }
    }
    let mut errors: Vec<(String, Error)> = Vec::new();
    let (mut planned_total, mut not_sent) = (0usize, 0usize);
    for &n in &runnable {
        let t = &plans[n];
        let Ok((session, planned)) = &t.result else {
            continue;
        };
        planned_total = planned_total.saturating_add(planned.plan.delete.len());
        // An earlier target's DELETEs may have been sent: a report that cannot be written
        // (closed stdout) is logged, and the exit code stays the outcomes', never 1.
        if let Err(e) = reporter.target(n, of, &t.label) {
            tracing::error!("could not write the report: {e}");
        }
        if let Some(signal) = interrupt.signal() {
            // Stopped between targets: this one was not touched.
            not_sent = not_sent.saturating_add(planned.plan.delete.len());
            let why = Error::Interrupted {
                signal: signal.name(),
                code: signal.exit_code(),
                sent: false,
                not_sent: planned.plan.delete.len(),
                total: planned.plan.delete.len(),
            };
            if let Err(e) = reporter.target_failed(&why) {
                tracing::error!("could not write the report: {e}");
            }
            continue;
        }
        if !planned.plan.delete.is_empty()
            && let Err(e) = reporter.deleting(planned.plan.delete.len())
        {
            tracing::error!("could not write the report: {e}");
        }
        let error = super::apply::delete_and_wait(session, planned, a, interrupt, reporter).await;
        if let Some(Error::Interrupted { not_sent: ns, .. }) = &error {
            not_sent = not_sent.saturating_add(*ns);
        }
        if let Some(e) = error {
            if let Err(w) = reporter.target_failed(&e) {
                tracing::error!("could not write the report: {w}");
            }
            errors.push((t.label.name(), e));
        }
    }
    if let Some(signal) = interrupt.signal() {
        return Err(Error::Interrupted {
            signal: signal.name(),
            code: signal.exit_code(),
            sent: interrupt.was_sent(),
            not_sent,
            total: planned_total,
        });
    }
    let skipped = if faults.is_empty() {
        String::new()
    } else {
        format!(
            "; left out (--keep-going): {}",
            faults
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    if errors.len() == 1
        && faults.is_empty()
        && let Some((_, e)) = errors.pop()
    {
        return Err(e);
    }
    if !errors.is_empty() {
        return Err(Error::Fleet {
            message: format!(
                "{} of {} applied targets failed: {}{skipped}",
                errors.len(),
                runnable.len(),
                errors
                    .iter()
                    .map(|(n, e)| format!("{n}: {e}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            code: crate::error::EXIT_DELETE_FAILED,
        });
    }
    if !faults.is_empty() {
        return Err(Error::Fleet {
            message: format!(
                "applied {} of {of} targets{skipped}",
                of.saturating_sub(faults.len())
            ),
            code: crate::error::EXIT_DELETE_FAILED,
        });
    }
    Ok(EXIT_OK)
}
