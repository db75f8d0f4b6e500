//! `validate`: the manifests and their endpoints, without any network call.

use super::{Io, write_err};
use crate::config::{self, Config, ManifestChoice};
use crate::error::{EXIT_OK, Error, Result};
use crate::fleet;
use crate::manifest;
use crate::render::notes;

/// Every manifest is checked, and every invalid one named, before the run fails.
pub(crate) fn run(cfg: &Config, choice: &ManifestChoice, io: &mut Io<'_>) -> Result<u8> {
    if let Some(e) = cfg.endpoint.as_deref() {
        config::check_endpoint(e, "--endpoint")?;
    }
    let files = fleet::files(choice)?;
    if let [file] = files.as_slice() {
        return one(file, io);
    }
    let mut errors = Vec::new();
    for file in &files {
        if let Err(e) = one(file, io) {
            errors.push(e.to_string());
        }
    }
    match errors.len() {
        0 => Ok(EXIT_OK),
        n => Err(Error::Fleet {
            message: format!(
                "{n} of {} manifests are invalid:\n{}",
                files.len(),
                errors.join("\n")
            ),
            code: crate::error::EXIT_ERROR,
        }),
    }
}

fn one(file: &std::path::Path, io: &mut Io<'_>) -> Result<u8> {
    let manifest = manifest::load(file)?;
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
