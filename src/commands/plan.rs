//! `plan`: what would be deleted, as text, JSON or Markdown; optionally saved for
//! `apply --plan`.

use std::io::Write;

use super::{Io, write_err, write_file};
use crate::config::{Config, Env, Format, PlanConfig};
use crate::error::{EXIT_CHANGES, EXIT_OK, Error, Result};
use crate::manifest;
use crate::render::{self, notes};
use crate::saved;
use crate::session::{self, Session};

pub(crate) async fn run(cfg: &Config, p: &PlanConfig, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    let manifest = manifest::load(p.manifest.path())?;
    let session = Session::open(cfg, &session::target_of(&manifest), env).await?;
    let mut planned = session.plan(&manifest, p.overrides).await?;
    planned.context.color = io.color;
    {
        // Buffered and streamed: a plan can list 100,000 instances, and stdout is
        // line-buffered; the JSON plan is never built as one value.
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, &mut *io.out);
        match p.format {
            Format::Text => render::text::plan_text(&mut w, &planned.plan, &planned.context),
            Format::Json => render::json::write_plan(&mut w, &planned.plan, &planned.context)
                .and_then(|()| writeln!(w)),
            Format::Markdown => write!(
                w,
                "{}",
                render::markdown::plan_markdown(&planned.plan, &planned.context)
            ),
        }
        .and_then(|()| w.flush())
        .map_err(write_err)?;
    }
    if let Some(out) = &p.out {
        let text = saved::document(
            &planned.plan,
            &planned.context,
            &manifest.text,
            planned.overrides,
            cfg.plan_key
                .as_ref()
                .map(|k| secrecy::ExposeSecret::expose_secret(k).as_bytes()),
        )
        .map_err(|e| Error::Internal(format!("cannot encode the saved plan: {e}")))?;
        write_file(out, &text)?;
        let note = notes::saved_note(&out.display().to_string());
        match p.format {
            Format::Text => notes::paragraph(io.out, &note).map_err(write_err)?,
            Format::Json | Format::Markdown => tracing::info!("{note}"),
        }
    }
    Ok(if p.detailed_exitcode && !planned.plan.is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}
