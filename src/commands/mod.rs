//! The commands, one file each. A command strings the steps together (manifest, session,
//! plan, apply) and hands every value to a printer; it writes no prose itself.

pub(crate) mod apply;
pub(crate) mod apply_fleet;
pub(crate) mod diff;
pub(crate) mod emulator;
pub(crate) mod export;
pub(crate) mod plan;
pub(crate) mod schema;
pub(crate) mod validate;
pub(crate) mod wait;
pub(crate) mod whoami;

use std::io::Write;
use std::path::Path;

use crate::config::{Cmd, Config, Env};
use crate::error::{EXIT_OK, Error, Result};

pub use crate::{Confirmation, Io};

/// An error writing results to stdout.
pub(crate) fn write_err(e: std::io::Error) -> Error {
    Error::io("<stdout>", e)
}

/// Writes `text` to `path` atomically: a temporary file next to it, then a rename.
pub(crate) fn write_file(path: &Path, text: &str) -> Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(path, e))?;
    tmp.write_all(text.as_bytes())
        .map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Runs the command of `cfg`; returns the exit code of a run that did not fail.
pub(crate) async fn dispatch(cfg: Config, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    match &cfg.command {
        Cmd::Validate(m) => validate::run(&cfg, m, io),
        Cmd::Plan(p) => plan::run(&cfg, p, env, io).await,
        Cmd::Apply(a) => apply::run(&cfg, a, env, io).await,
        Cmd::Whoami(m) => whoami::run(&cfg, m, env, io).await,
        Cmd::Diff(m) => diff::run(&cfg, m, env, io).await,
        Cmd::Export(e) => export::run(&cfg, e, env, io).await,
        Cmd::Emulator(a) => emulator::run(a, cfg.project_id.as_deref(), io).await,
        // Boxed: the demo runs the other commands through `crate::run`.
        Cmd::Demo => Box::pin(crate::demo::run(io.out)).await,
        Cmd::Completions(shell) => {
            let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(*shell, &mut command, "dcs-reconcile", io.out);
            Ok(EXIT_OK)
        }
        Cmd::Schema => schema::run(io),
        Cmd::Man => {
            let command = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_mangen::Man::new(command)
                .render(io.out)
                .map_err(write_err)?;
            Ok(EXIT_OK)
        }
    }
}
