//! `export`: a manifest declaring every live managed instance, to adopt the tool on an
//! existing project.

use super::whoami::optional_manifest;
use super::{Io, write_err, write_file};
use crate::config::{Config, Env, ExportConfig};
use crate::error::{EXIT_OK, Error, Result};
use crate::manifest::{self, Manifest};
use crate::render::notes;
use crate::session::{self, Session};

fn refuse_existing(e: &ExportConfig) -> Result<()> {
    match &e.out {
        Some(out) if out.exists() && !e.force => Err(Error::Usage(format!(
            "{}: the file exists; pass --force to overwrite it",
            out.display()
        ))),
        _ => Ok(()),
    }
}

pub(crate) async fn run(cfg: &Config, e: &ExportConfig, env: &Env, io: &mut Io<'_>) -> Result<u8> {
    refuse_existing(e)?;
    let source = optional_manifest(&e.manifest, "the command line")?;
    if !source.regions.is_empty() && e.region.is_none() {
        return Err(Error::Usage(format!(
            "{} lists `regions:`; export writes the manifest of one target: pass --region \
             REGION (one of {})",
            source.path.display(),
            source
                .regions
                .iter()
                .map(|r| r.region.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    // `--region` names the target: it replaces the manifest's region and endpoint.
    let source = match &e.region {
        Some(region) => Manifest {
            region: Some(region.clone()),
            endpoint: None,
            ..source
        },
        None => source,
    };
    let target = session::target_of(&source);
    let session = Session::open(cfg, &target, env, None).await?;
    let mut scope = source.rules.scope.clone();
    if let Some(prefix) = &e.scope_prefix {
        scope.name_prefix = Some(prefix.clone());
    }
    let mut live = session.client.list_instances().await?;
    live.retain(|i| scope.contains(i));
    live.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    let endpoint = session.target.endpoint.to_string();
    let endpoint = endpoint.trim_end_matches('/');
    let by_region = cfg.endpoint.is_none() && source.endpoint.is_none() && source.region.is_some();
    let out_name = e
        .out
        .as_ref()
        .map_or_else(|| "FILE".to_owned(), |o| o.display().to_string());
    let export = manifest::Export {
        header: notes::export_header(
            &crate::util::rfc3339(time::OffsetDateTime::now_utc()),
            &session.target.project_id,
            endpoint,
            &out_name,
        ),
        project_id: &session.target.project_id,
        region: if by_region {
            source.region.as_deref()
        } else {
            None
        },
        endpoint: if by_region { None } else { Some(endpoint) },
        scope: &scope,
        instances: live.iter().map(|i| (i, notes::export_comment(i))).collect(),
    };
    let text = manifest::export_manifest(&export);
    // What we write must read back as a manifest declaring exactly these instances.
    let check = manifest::parse(text.as_bytes(), std::path::Path::new(&out_name))?;
    if check.instances.len() != live.len() {
        return Err(Error::Internal(format!(
            "the exported manifest declares {} instances, not {}",
            check.instances.len(),
            live.len()
        )));
    }
    match &e.out {
        Some(out) => {
            refuse_existing(e)?;
            write_file(out, &text)?;
            notes::exported(io.out, live.len(), &out.display().to_string()).map_err(write_err)?;
        }
        None => write!(io.out, "{text}").map_err(write_err)?,
    }
    Ok(EXIT_OK)
}
