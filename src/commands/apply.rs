//! `apply`: a fresh plan (after confirmation) or a saved plan (re-checked, no prompt), then
//! one tail for both: show, guard, confirm, delete, wait, report.

use std::path::Path;

use super::{Confirmation, Io};
use crate::config::{ApplyConfig, ApplySource, Config, Env};
use crate::error::{EXIT_OK, Error, Result};
use crate::manifest;
use crate::render::diff::unified;
use crate::render::notes;
use crate::render::report::{self, Reporter};
use crate::saved;
use crate::session::{self, Planned, Session};

pub(crate) async fn run(cfg: &Config, a: &ApplyConfig, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    let color = io.color && !a.json;
    let confirm = &mut *io.confirm;
    let mut reporter = report::reporter(a.json, &mut *io.out, io.progress);
    let result = apply(cfg, a, env, confirm, color, &mut *reporter).await;
    if let Err(e) = reporter.finish(&result) {
        return Err(report::write_error(e));
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
    reporter: &mut dyn Reporter,
) -> Result<u8> {
    let (session, mut planned) = match &a.source {
        ApplySource::Manifest(choice) => {
            let manifest = manifest::load(choice.path())?;
            let session = Session::open(cfg, &session::target_of(&manifest), env).await?;
            let planned = session.plan(&manifest, a.overrides).await?;
            (session, planned)
        }
        ApplySource::Saved { plan, manifest } => {
            saved_plan(cfg, a, env, plan, manifest.as_deref(), reporter).await?
        }
    };
    planned.context.color = color;
    tail(&session, &planned, a, confirm, reporter).await
}

/// `apply --plan FILE`: the saved plan re-checked against the live instances.
async fn saved_plan(
    cfg: &Config,
    a: &ApplyConfig,
    env: &Env,
    plan_file: &Path,
    manifest_file: Option<&Path>,
    reporter: &mut dyn Reporter,
) -> Result<(Session, Planned)> {
    let origin = plan_file.display().to_string();
    let bytes = std::fs::read(plan_file).map_err(|e| Error::io(plan_file, e))?;
    let saved = saved::parse(&bytes, &origin).map_err(Error::Usage)?;
    let manifest = manifest::parse(
        saved.manifest_text.as_bytes(),
        Path::new(&saved.doc.manifest.path),
    )
    .map_err(|e| Error::Usage(format!("{origin}: the saved manifest is invalid: {e}")))?;

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
    let session = Session::for_saved(cfg, &saved, &origin, env)?;
    match session
        .replan_saved(&saved, &manifest, &origin, a.overrides)
        .await?
    {
        Ok(planned) => Ok((session, planned)),
        Err(stale) => {
            reporter
                .stale(&origin, &stale)
                .map_err(report::write_error)?;
            Err(Error::StalePlan {
                plan: origin,
                planned: saved.doc.delete.len(),
                changes: stale.changes,
            })
        }
    }
}

/// The tail both plan sources share: show, guard, confirm, delete, wait, report.
async fn tail(
    session: &Session,
    planned: &Planned,
    a: &ApplyConfig,
    confirm: &mut dyn FnMut(&str) -> Confirmation,
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
        let question =
            notes::confirm_question(planned.plan.delete.len(), &planned.context.project_id);
        match confirm(&question) {
            Confirmation::Yes => {}
            Confirmation::No => {
                return Err(Error::NotConfirmed(
                    "apply cancelled; nothing was deleted".to_owned(),
                ));
            }
            Confirmation::NoTerminal => {
                return Err(Error::NotConfirmed(
                    "apply needs a confirmation, but standard input is not a terminal; nothing \
                     was deleted. Review the plan above, then re-run with --auto-approve (or save \
                     the plan with `plan --out FILE` and run `apply --plan FILE`)"
                        .to_owned(),
                ));
            }
        }
    }
    reporter
        .deleting(planned.plan.delete.len())
        .map_err(report::write_error)?;
    let mut write_failed = None;
    let applied = crate::apply::apply(&planned.plan, &session.client, |i, o| {
        if let Err(e) = reporter.outcome(i, o) {
            write_failed.get_or_insert(e);
        }
    })
    .await;
    if let Some(e) = write_failed {
        tracing::warn!("could not write every outcome line: {e}");
    }
    reporter.applied(&applied).map_err(report::write_error)?;
    if let Some((timeout, interval)) = a.wait {
        super::wait::wait_gone(
            &session.client,
            applied.gone_or_going(),
            timeout,
            interval,
            reporter,
        )
        .await?;
    }
    match applied.error() {
        Some(e) => Err(e),
        None => Ok(EXIT_OK),
    }
}
