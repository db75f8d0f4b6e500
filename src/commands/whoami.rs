//! `whoami`: which credentials, project, region and endpoint a run would use.

use super::{Io, write_err};
use crate::config::{Config, Env, ManifestChoice};
use crate::error::{EXIT_OK, Result};
use crate::manifest::{self, Manifest};
use crate::render::notes;
use crate::session;

/// The manifest of `choice`: a given one must load; the default one only when it exists.
pub(crate) fn optional_manifest(choice: &ManifestChoice, none: &str) -> Result<Manifest> {
    match choice {
        ManifestChoice::Given(file) => manifest::load(file),
        ManifestChoice::Default if choice.path().exists() => manifest::load(choice.path()),
        ManifestChoice::Default => Ok(Manifest::empty(std::path::Path::new(none))),
    }
}

pub(crate) async fn run(
    cfg: &Config,
    choice: &ManifestChoice,
    env: &Env,
    io: &mut Io<'_>,
) -> Result<u8> {
    let manifest = optional_manifest(choice, "the command line")?;
    let mut id = session::identify(cfg, &session::target_of(&manifest), env).await?;
    // Temporary credentials are fetched, to show the AK and when they expire.
    if let crate::api::Auth::Metadata(m) = &id.chain.auth {
        let creds = m.credentials().await?;
        if let crate::config::Source::Metadata { expires_at, .. } = &mut id.chain.source {
            *expires_at = m.expires_at().map(crate::api::metadata::format_time);
        }
        id.chain.auth = crate::api::Auth::AkSk(creds);
    }
    notes::whoami(io.out, &id).map_err(write_err)?;
    Ok(EXIT_OK)
}
