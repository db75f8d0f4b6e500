//! `apply`: a fresh plan (after confirmation) or a saved plan (re-checked, no prompt), then
//! one tail for both: show, guard, confirm, delete, wait, report.

use std::path::Path;

use super::{Confirmation, Io};
use crate::config::{ApplyConfig, ApplySource, Config, Env};
use crate::error::{EXIT_OK, Error, Result};
use crate::fleet::{self, TotalLimit};
use crate::manifest;
use crate::manifest::Manifest;
use crate::render::diff::unified;
use crate::render::notes;
use crate::render::report::{self, Reporter};
use crate::saved;
use crate::session::{self, Planned, Session};
use crate::signals::Interrupt;

pub(crate) async fn run(cfg: &Config, a: &ApplyConfig, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    let color = io.color && !a.json;
    let confirm = &mut *io.confirm;
    let interrupt = Interrupt::listen();
    let mut reporter = report::reporter(a.json, &mut *io.out, io.progress);
    let result = apply(cfg, a, env, confirm, color, &interrupt, &mut *reporter).await;
    let result = match (result, interrupt.signal()) {
        // A signal before any DELETE (while planning or listing): the run was interrupted,
        // whatever it would have ended with; nothing was sent.
        (result, Some(signal)) if !interrupt.was_sent() => {
            if let Err(e) = &result {
                tracing::warn!("{e}");
            }
            Err(Error::Interrupted {
                signal: signal.name(),
                code: signal.exit_code(),
                sent: false,
                not_sent: 0,
                total: 0,
            })
        }
        (result, _) => result,
    };
    if let Err(e) = reporter.finish(&result) {
        if interrupt.was_sent() {
            // Deletions were sent: the exit code stays the outcome's, never 1.
            tracing::error!("could not write the report: {e}");
        } else {
            return Err(report::write_error(e));
        }
    }
    result
}

/// Plans (fresh or saved), then runs the tail.
async fn apply(
    cfg: &Config,
    a: &ApplyConfig,
    env: &Env,
    confirm: &mut dyn FnMut(&str) -> Confirmation,
    color: bool,
    interrupt: &Interrupt,
    reporter: &mut dyn Reporter,
) -> Result<u8> {
    let fleet_run = |confirm, reporter| super::apply_fleet::Run {
        cfg,
        a,
        confirm,
        interrupt,
        reporter,
        color,
    };
    let (session, mut planned, manifest, limit) = match &a.source {
        ApplySource::Manifest(choice) => {
            let selection = fleet::select(choice, cfg.fleet.shard)?;
            if selection.is_fleet() {
                return super::apply_fleet::fresh(fleet_run(confirm, reporter), env, selection)
                    .await;
            }
            let manifest = fleet::only(selection)?;
            let session = Session::open(cfg, &session::target_of(&manifest), env, None).await?;
            let planned = session.plan(&manifest, a.overrides).await?;
            (session, planned, Some(manifest), TotalLimit::given(cfg))
        }
        ApplySource::Saved { plan, manifests } => {
            let origin = plan.display().to_string();
            if let Some(shard) = cfg.fleet.shard {
                return Err(Error::Usage(format!(
                    "--shard {shard} selects the targets of manifests; the saved plan {origin} \
                     holds its targets already (make it with `plan --shard {shard} --out`); \
                     nothing was deleted"
                )));
            }
            match read_saved(cfg, a, plan)? {
                saved::SavedFile::Fleet(targets, total) => {
                    return super::apply_fleet::saved(
                        fleet_run(confirm, reporter),
                        env,
                        &origin,
                        targets,
                        TotalLimit::of(cfg, total, &origin),
                        manifests,
                    )
                    .await;
                }
                saved::SavedFile::One(saved, signature) => {
                    log_signature(&origin, signature);
                    let given = match manifests.as_slice() {
                        [] => None,
                        [one] => Some(one.as_path()),
                        _ => {
                            return Err(Error::Usage(format!(
                                "the saved plan {origin} has one target; give its one manifest \
                                 with -f, or none"
                            )));
                        }
                    };
                    let limit = TotalLimit::of(cfg, saved.max_delete_total(), &origin);
                    let (session, planned) =
                        saved_plan(cfg, a, env, &origin, *saved, given, reporter).await?;
                    (session, planned, None, limit)
                }
            }
        }
    };
    planned.context.color = color;
    fleet::guard_single(&mut planned, limit.as_ref());
    tail(
        &session,
        &planned,
        manifest.as_ref(),
        a,
        confirm,
        interrupt,
        reporter,
    )
    .await
}

/// A saved plan larger than this is refused (a plan of a million instances is about 250 MB).
const MAX_PLAN_BYTES: u64 = 256 * 1024 * 1024;

/// Reads at most [`MAX_PLAN_BYTES`] of `path`, whatever it is (a device reports no size).
fn read_capped(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_PLAN_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > MAX_PLAN_BYTES {
        return Err(Error::Usage(format!(
            "{}: larger than {MAX_PLAN_BYTES} bytes; that is not a saved plan",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Reads and checks the saved-plan file `plan_file` (hash, signature, age).
fn read_saved(cfg: &Config, a: &ApplyConfig, plan_file: &Path) -> Result<saved::SavedFile> {
    let origin = plan_file.display().to_string();
    let bytes = read_capped(plan_file)?;
    let checks = saved::Checks {
        key: cfg
            .plan_key
            .as_ref()
            .map(|k| secrecy::ExposeSecret::expose_secret(k).as_bytes()),
        now: time::OffsetDateTime::now_utc(),
        max_age: a.max_plan_age,
    };
    saved::parse_file(&bytes, &origin, checks).map_err(Error::Usage)
}

/// Logs how a saved plan's signature was checked.
pub(crate) fn log_signature(origin: &str, signature: saved::Signature) {
    match signature {
        saved::Signature::Verified => tracing::info!("{origin}: signature verified"),
        saved::Signature::Unverified => tracing::warn!(
            "{origin} is signed, but DCS_RECONCILE_PLAN_KEY is not set: only its hash was checked"
        ),
        saved::Signature::Unsigned => tracing::warn!(
            "{origin} is unsigned: only its hash was checked, which anyone who can write the \
             file can recompute; set DCS_RECONCILE_PLAN_KEY (a CI secret) for plan and apply to \
             sign and verify plans"
        ),
    }
}

/// `apply --plan FILE` of one target: the saved plan re-checked against the live instances.
async fn saved_plan(
    cfg: &Config,
    a: &ApplyConfig,
    env: &Env,
    origin: &str,
    saved: saved::SavedPlan,
    manifest_file: Option<&Path>,
    reporter: &mut dyn Reporter,
) -> Result<(Session, Planned)> {
    let manifest = manifest::parse(
        saved.manifest_text.as_bytes(),
        Path::new(&saved.doc.manifest.path),
    )
    .map_err(|e| Error::Usage(format!("{origin}: the saved manifest is invalid: {e}")))
    .and_then(|m| super::apply_fleet::region_of(m, saved.doc.region.as_deref(), origin))?;

    // The file merged must be the file reviewed.
    if let Some(file) = manifest_file {
        let current = manifest::load(file)?;
        if current.sha256 != saved.doc.manifest.sha256 {
            let diff = unified(
                &saved.manifest_text,
                &current.text,
                &format!("{} (in {origin})", saved.doc.manifest.path),
                &file.display().to_string(),
            );
            reporter
                .manifest_changed(&diff)
                .map_err(report::write_error)?;
            return Err(Error::Guard(format!(
                "{}: SHA-256 {} differs from the manifest the saved plan {origin} was made from \
                 ({}); nothing was deleted. The diff above shows what changed: make a new plan \
                 from this file and review it.",
                file.display(),
                current.sha256,
                saved.doc.manifest.sha256
            )));
        }
    }
    let session = Session::for_saved(cfg, &saved, origin, env, None)?;
    match session
        .replan_saved(&saved, &manifest, origin, a.overrides)
        .await?
    {
        Ok(planned) => Ok((session, planned)),
        Err(stale) => {
            reporter
                .stale(origin, &stale)
                .map_err(report::write_error)?;
            Err(Error::StalePlan {
                plan: format!("saved plan {origin}"),
                planned: saved.doc.delete.len(),
                changes: stale.changes,
            })
        }
    }
}

/// The answer to the prompt: `yes` goes on; anything else deletes nothing.
pub(crate) fn check_answer(answer: Confirmation) -> Result<()> {
    match answer {
        Confirmation::Yes => Ok(()),
        Confirmation::No => Err(Error::NotConfirmed(
            "apply cancelled; nothing was deleted".to_owned(),
        )),
        Confirmation::NoTerminal => Err(Error::NotConfirmed(
            "apply needs a confirmation, but standard input is not a terminal; nothing was \
             deleted. Review the plan above, then re-run with --auto-approve (or save the plan \
             with `plan --out FILE` and run `apply --plan FILE`)"
                .to_owned(),
        )),
    }
}

/// The tail both plan sources share: show, guard, confirm (and list again), delete, wait,
/// report. `manifest` is set for a fresh plan, which is checked again after the prompt.
async fn tail(
    session: &Session,
    planned: &Planned,
    manifest: Option<&Manifest>,
    a: &ApplyConfig,
    confirm: &mut dyn FnMut(&str) -> Confirmation,
    interrupt: &Interrupt,
    reporter: &mut dyn Reporter,
) -> Result<u8> {
    reporter
        .plan(planned.shown())
        .map_err(report::write_error)?;
    if !planned.context.refusals.is_empty() {
        return Err(Error::Guard(format!(
            "refusing to apply; nothing was deleted: {}",
            planned.context.refusals.join("; ")
        )));
    }
    if planned.plan.is_empty() {
        return Ok(EXIT_OK);
    }
    // A saved plan was the review: no prompt.
    if planned.saved.is_none() && !a.auto_approve {
        let p = &planned.plan;
        let question = if p.delete.is_empty() {
            notes::tag_question(p.mark.len(), p.unmark.len(), &planned.context.project_id)
        } else {
            notes::confirm_question(p.delete.len(), &planned.context.project_id)
        };
        interrupt.prompting(true);
        let answer = confirm(&question);
        interrupt.prompting(false);
        check_answer(answer)?;
        // The world may have moved while the question was open: what was confirmed must
        // still stand, as a saved plan's deletions must.
        if let Some(manifest) = manifest
            && let Err(stale) = session.recheck(manifest, planned).await?
        {
            let what = "plan shown before the prompt";
            reporter.stale(what, &stale).map_err(report::write_error)?;
            return Err(Error::StalePlan {
                plan: what.to_owned(),
                planned: planned.plan.delete.len(),
                changes: stale.changes,
            });
        }
    }
    if !planned.plan.delete.is_empty() {
        reporter
            .deleting(planned.plan.delete.len())
            .map_err(report::write_error)?;
    }
    match delete_and_wait(session, planned, a, interrupt, reporter).await {
        Some(e) => Err(e),
        None => Ok(EXIT_OK),
    }
}

/// Deletes `planned`'s instances (and with `--wait` waits for them to leave the listing):
/// the error the outcome ends with, if any. From the first DELETE on, every error is the
/// outcome's (exit 4, or 130/143 when a signal came before anything was sent), never 1:
/// a report that cannot be written is logged, not returned.
pub(crate) async fn delete_and_wait(
    session: &Session,
    planned: &Planned,
    a: &ApplyConfig,
    interrupt: &Interrupt,
    reporter: &mut dyn Reporter,
) -> Option<Error> {
    let mut write_failed = None;
    let applied = crate::apply::apply(&planned.plan, &session.client, interrupt, |i, o| {
        if let Err(e) = reporter.outcome(i, o) {
            write_failed.get_or_insert(e);
        }
    })
    .await;
    if let Some(e) = write_failed {
        tracing::error!("could not write every outcome line: {e}");
    }
    if let Err(e) = reporter.applied(&applied) {
        tracing::error!("could not write the apply summary: {e}");
    }
    if let Some(e) = applied.error() {
        return Some(e);
    }
    let (timeout, interval) = a.wait?;
    super::wait::wait_gone(
        &session.client,
        applied.gone_or_going(),
        timeout,
        interval,
        interrupt,
        reporter,
    )
    .await
    .err()
}
