//! `diff`: the declared instances against the live managed ones, as a unified diff.

use super::{Io, write_err};
use crate::config::{Config, Env, ManifestChoice};
use crate::error::{EXIT_CHANGES, EXIT_OK, Result};
use crate::manifest;
use crate::plan::Overrides;
use crate::render;
use crate::session::{self, Session};

pub(crate) async fn run(
    cfg: &Config,
    choice: &ManifestChoice,
    env: &Env,
    io: &mut Io<'_>,
) -> Result<u8> {
    let manifest = manifest::load(choice.path())?;
    let session = Session::open(cfg, &session::target_of(&manifest), env).await?;
    let p = session.plan(&manifest, Overrides::default()).await?;
    let diff = render::diff::plan_diff(&p.plan, &p.context);
    if !p.plan.protected.is_empty() || !p.plan.skip.is_empty() {
        tracing::warn!(
            "{} protected and {} skipped live instances are undeclared but not deleted; they \
             are not in the diff (plan shows them)",
            p.plan.protected.len(),
            p.plan.skip.len()
        );
    }
    if diff.is_empty() {
        return Ok(EXIT_OK);
    }
    write!(io.out, "{diff}").map_err(write_err)?;
    Ok(EXIT_CHANGES)
}
