//! `whoami`: which credentials, project, region and endpoint a run would use; for several
//! targets, a section per target.

use super::{Io, write_err};
use crate::config::{Config, Env, ManifestChoice};
use crate::error::{EXIT_OK, Error, Result};
use crate::fleet;
use crate::identity::{self, Identity};
use crate::manifest::{self, Manifest};
use crate::render::notes;
use crate::session;

/// The one manifest of `choice` (`export`): a given one must load; the default one only
/// when it exists.
pub(crate) fn optional_manifest(choice: &ManifestChoice, none: &str) -> Result<Manifest> {
    match choice {
        ManifestChoice::Given(files) => match files.as_slice() {
            [file] => manifest::load(file),
            _ => Err(Error::Usage(
                "this command reads one manifest; give -f once".to_owned(),
            )),
        },
        ManifestChoice::Default
            if std::path::Path::new(crate::config::DEFAULT_MANIFEST).exists() =>
        {
            manifest::load(std::path::Path::new(crate::config::DEFAULT_MANIFEST))
        }
        ManifestChoice::Default => Ok(Manifest::empty(std::path::Path::new(none))),
    }
}

/// Shows the temporary credentials' AK and expiry: they are fetched.
async fn fetch_temporary(id: &mut Identity) -> Result<()> {
    if let crate::api::Auth::Metadata(m) = &id.chain.auth {
        let creds = m.credentials().await?;
        if let crate::config::Source::Metadata { expires_at, .. } = &mut id.chain.source {
            *expires_at = m.expires_at().map(crate::api::metadata::format_time);
        }
        id.chain.auth = crate::api::Auth::AkSk(creds);
    }
    Ok(())
}

pub(crate) async fn run(
    cfg: &Config,
    choice: &ManifestChoice,
    env: &Env,
    io: &mut Io<'_>,
) -> Result<u8> {
    let default_missing = matches!(choice, ManifestChoice::Default)
        && !std::path::Path::new(crate::config::DEFAULT_MANIFEST).exists();
    let manifests = match choice {
        _ if default_missing => vec![optional_manifest(choice, "the command line")?],
        _ => {
            let selection = fleet::select(choice, cfg.fleet.shard)?;
            if selection.is_fleet() {
                fleet::check_single_target_flags(cfg, &selection)?;
                return several(cfg, env, io, selection.targets).await;
            }
            selection.targets
        }
    };
    for manifest in manifests {
        let mut id = session::identify(cfg, &session::target_of(&manifest), env, None).await?;
        fetch_temporary(&mut id).await?;
        notes::whoami(io.out, &id).map_err(write_err)?;
    }
    Ok(EXIT_OK)
}

/// A section per target; a target whose identity cannot be resolved says why, and the run
/// exits 1 at the end.
async fn several(cfg: &Config, env: &Env, io: &mut Io<'_>, targets: Vec<Manifest>) -> Result<u8> {
    let shared = identity::Shared::new(env)?;
    let of = targets.len();
    let mut errors = Vec::new();
    for (n, m) in targets.iter().enumerate() {
        let label = fleet::label_of(m);
        crate::render::fleet::target_header(io.out, n, of, &label).map_err(write_err)?;
        match session::identify(cfg, &session::target_of(m), env, Some(&shared)).await {
            Ok(mut id) => {
                fetch_temporary(&mut id).await?;
                notes::whoami(io.out, &id).map_err(write_err)?;
            }
            Err(e) => {
                crate::render::fleet::target_error(io.out, &e).map_err(write_err)?;
                errors.push((label.name(), e.exit_code()));
            }
        }
        crate::render::fleet::between(io.out).map_err(write_err)?;
    }
    if errors.is_empty() {
        Ok(EXIT_OK)
    } else {
        Err(fleet::fault_error(&errors, of, "see above"))
    }
}
