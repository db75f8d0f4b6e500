//! `plan`: what would be deleted, as text, JSON or Markdown; optionally saved for
//! `apply --plan`. Over several targets: a section (or JSON entry) per target and the fleet
//! summary.

use std::io::Write;

use super::{Io, write_err, write_file};
use crate::config::{Config, Env, Format, PlanConfig};
use crate::error::{EXIT_CHANGES, EXIT_OK, Error, Result};
use crate::fleet::{self, Selection, TotalLimit};
use crate::manifest::Manifest;
use crate::render::{self, notes};
use crate::saved;
use crate::session::{self, Session};

pub(crate) async fn run(cfg: &Config, p: &PlanConfig, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    let selection = fleet::select(&p.manifest, cfg.fleet.shard)?;
    if selection.is_fleet() {
        return several(cfg, p, env, io, selection).await;
    }
    let manifest = fleet::only(selection)?;
    single(cfg, p, env, io, manifest).await
}

fn key(cfg: &Config) -> Option<&[u8]> {
    cfg.plan_key
        .as_ref()
        .map(|k| secrecy::ExposeSecret::expose_secret(k).as_bytes())
}

async fn single(
    cfg: &Config,
    p: &PlanConfig,
    env: &Env,
    io: &mut Io<'_>,
    manifest: Manifest,
) -> Result<u8> {
    let session = Session::open(cfg, &session::target_of(&manifest), env, None).await?;
    let mut planned = session.plan(&manifest, p.overrides).await?;
    fleet::guard_single(&mut planned, TotalLimit::given(cfg).as_ref());
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
            cfg.fleet.max_delete_total,
            key(cfg),
            // Which of the manifest's `regions:` this plan is of (read back by apply).
            manifest.region.as_deref(),
        )
        .map_err(|e| Error::Internal(format!("cannot encode the saved plan: {e}")))?;
        write_file(out, &text)?;
        saved_note(p, io, out)?;
    }
    Ok(if p.detailed_exitcode && !planned.plan.is_empty() {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}

fn saved_note(p: &PlanConfig, io: &mut Io<'_>, out: &std::path::Path) -> Result<()> {
    let note = notes::saved_note(&out.display().to_string());
    match p.format {
        Format::Text => notes::paragraph(io.out, &note).map_err(write_err)?,
        Format::Json | Format::Markdown => tracing::info!("{note}"),
    }
    Ok(())
}

/// Several targets (or a shard): planned concurrently, printed in order, then the summary.
async fn several(
    cfg: &Config,
    p: &PlanConfig,
    env: &Env,
    io: &mut Io<'_>,
    selection: Selection,
) -> Result<u8> {
    fleet::check_single_target_flags(cfg, &selection)?;
    let (shard, total) = (selection.shard, selection.total);
    let of = selection.targets.len();
    let color = io.color;
    // Each target's text or Markdown section is written into memory as soon as that target
    // is planned, while the others wait for their answers; nothing reaches stdout before
    // every target is planned and the run found sound (no duplicate target).
    let planned = fleet::plan_all_then(cfg, env, selection.targets, p.overrides, |n, t| {
        if let Ok((_, planned)) = &mut t.result {
            planned.context.color = color;
        }
        let v = fleet::view_of(t);
        let mut section = Vec::new();
        match p.format {
            Format::Text => {
                render::fleet::text_section(&mut section, n, of, &v).map_err(write_err)?
            }
            Format::Markdown => section = render::fleet::markdown_section(&v).into_bytes(),
            // The JSON document is written at the end, one target at a time.
            Format::Json => {}
        }
        // Held until every target is planned: no room left over from the buffer's growth.
        section.shrink_to_fit();
        Ok(section)
    })
    .await?;
    let (plans, sections): (Vec<_>, Vec<_>) = planned.into_iter().unzip();
    let refusals = fleet::total_refusals(&plans, TotalLimit::given(cfg).as_ref());
    let view = fleet::view(&plans, shard, total, refusals);
    {
        let mut w = std::io::BufWriter::with_capacity(64 * 1024, &mut *io.out);
        let sections = sections.into_iter().collect::<Result<Vec<Vec<u8>>>>()?;
        match p.format {
            Format::Text => render::fleet::fleet_text(&mut w, &view, &sections),
            Format::Json => {
                render::fleet::write_fleet_json(&mut w, &view).and_then(|()| writeln!(w))
            }
            Format::Markdown => render::fleet::fleet_markdown(&mut w, &view, &sections),
        }
        .and_then(|()| w.flush())
        .map_err(write_err)?;
    }
    let errors: Vec<(String, u8)> = plans
        .iter()
        .filter_map(|t| {
            t.result
                .as_ref()
                .err()
                .map(|e| (t.label.name(), e.exit_code()))
        })
        .collect();
    if let Some(out) = &p.out {
        if !errors.is_empty() {
            return Err(fleet::fault_error(
                &errors,
                plans.len(),
                &format!("the plan was not saved to {}", out.display()),
            ));
        }
        let mut docs = Vec::with_capacity(plans.len());
        for t in &plans {
            if let Ok((_, planned)) = &t.result {
                docs.push(
                    saved::document(
                        &planned.plan,
                        &planned.context,
                        &t.manifest.text,
                        planned.overrides,
                        None,
                        key(cfg),
                        t.manifest.region.as_deref(),
                    )
                    .map_err(|e| Error::Internal(format!("cannot encode the saved plan: {e}")))?,
                );
            }
        }
        let text = saved::fleet_document(&docs, cfg.fleet.max_delete_total, key(cfg))
            .map_err(|e| Error::Internal(format!("cannot encode the saved plan: {e}")))?;
        write_file(out, &text)?;
        saved_note(p, io, out)?;
    }
    if !errors.is_empty() {
        return Err(fleet::fault_error(
            &errors,
            plans.len(),
            "the other targets are planned above",
        ));
    }
    let changes = plans
        .iter()
        .any(|t| t.result.as_ref().is_ok_and(|(_, pl)| !pl.plan.is_empty()));
    Ok(if p.detailed_exitcode && changes {
        EXIT_CHANGES
    } else {
        EXIT_OK
    })
}
