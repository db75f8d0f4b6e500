//! `schema`: prints the manifest's JSON Schema.

use super::{Io, write_err};
use crate::error::{EXIT_OK, Result};

/// Writes [`crate::manifest::schema::SCHEMA`] to stdout.
pub(crate) fn run(io: &mut Io<'_>) -> Result<u8> {
    io.out
        .write_all(crate::manifest::schema::SCHEMA.as_bytes())
        .map_err(write_err)?;
    Ok(EXIT_OK)
}
