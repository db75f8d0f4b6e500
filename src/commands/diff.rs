//! `diff`: the declared instances against the live managed ones, as a unified diff; for
//! several targets, one diff after another (each names its manifest and project).

use super::{Io, write_err};
use crate::config::{Config, Env, ManifestChoice};
use crate::error::{EXIT_CHANGES, EXIT_OK, Result};
use crate::fleet;
use crate::plan::Overrides;
use crate::render;
use crate::session::{Planned, Session};

fn warn_hidden(p: &Planned) {
    if !p.plan.protected.is_empty() || !p.plan.skip.is_empty() {
        tracing::warn!(
            "{}: {} protected and {} skipped live instances are undeclared but not deleted; \
             they are not in the diff (plan shows them)",
            p.context.manifest,
            p.plan.protected.len(),
            p.plan.skip.len()
        );
    }
}

pub(crate) async fn run(
    cfg: &Config,
    choice: &ManifestChoice,
    env: &Env,
    io: &mut Io<'_>,
) -> Result<u8> {
    let selection = fleet::select(choice, cfg.fleet.shard)?;
    if !selection.is_fleet() {
        let manifest = fleet::only(selection)?;
        let session = Session::open(cfg, &crate::session::target_of(&manifest), env, None).await?;
        let p = session.plan(&manifest, Overrides::default()).await?;
        warn_hidden(&p);
        let diff = render::diff::plan_diff(&p.plan, &p.context);
        if diff.is_empty() {
            return Ok(EXIT_OK);
        }
        write!(io.out, "{diff}").map_err(write_err)?;
        return Ok(EXIT_CHANGES);
    }
    fleet::check_single_target_flags(cfg, &selection)?;
    let plans = fleet::plan_all(cfg, env, selection.targets, Overrides::default()).await?;
    let (mut changes, mut errors) = (false, Vec::new());
    for t in &plans {
        match &t.result {
            Ok((_, p)) => {
                warn_hidden(p);
                let diff = render::diff::plan_diff(&p.plan, &p.context);
                if !diff.is_empty() {
                    changes = true;
                    write!(io.out, "{diff}").map_err(write_err)?;
                }
            }
            Err(e) => {
                tracing::error!("{}: {e}", t.label.name());
                errors.push((t.label.name(), e.exit_code()));
            }
        }
    }
    if !errors.is_empty() {
        return Err(fleet::fault_error(
            &errors,
            plans.len(),
            "the others are diffed above",
        ));
    }
    Ok(if changes { EXIT_CHANGES } else { EXIT_OK })
}
