//! `validate`: the manifest and the endpoints, without any network call.

use super::{Io, write_err};
use crate::config::{self, Config, ManifestChoice};
use crate::error::{EXIT_OK, Result};
use crate::manifest;
use crate::render::notes;

pub(crate) fn run(cfg: &Config, choice: &ManifestChoice, io: &mut Io<'_>) -> Result<u8> {
    let manifest = manifest::load(choice.path())?;
    if let Some(e) = cfg.endpoint.as_deref() {
        config::check_endpoint(e, "--endpoint")?;
    }
    if let Some(e) = &manifest.endpoint {
        config::check_endpoint(e, &format!("{}: endpoint", manifest.path.display()))?;
    }
    notes::valid(
        io.out,
        &manifest.path.display().to_string(),
        manifest.instances.len(),
    )
    .map_err(write_err)?;
    Ok(EXIT_OK)
}
