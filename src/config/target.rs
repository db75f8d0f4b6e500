//! Where requests go: endpoint, region and project id resolved from the command line, the
//! manifest's few target fields and the credential source, each with where it came from.
//! No network: when the project id must be looked up in IAM, this says where.

use url::Url;

use super::credentials::{Chain, credential_chain};
use super::endpoint::{check_endpoint, check_project_id, check_region, region_endpoint};
use super::env::*;
use crate::error::{Error, Result};

/// The target fields of a manifest: all that the resolution needs of it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestTarget {
    /// The manifest's path, for messages (`dcs.yaml: region`).
    pub file: String,
    /// `region:`.
    pub region: Option<String>,
    /// `project_id:`.
    pub project_id: Option<String>,
    /// `endpoint:`.
    pub endpoint: Option<String>,
}

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The DCS endpoint, e.g. `https://dcs.cn-north-4.myhuaweicloud.com`.
    pub endpoint: Url,
    /// The project id.
    pub project_id: String,
}

/// The project id, or how to find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectId {
    /// Given: on the command line, in the manifest or by the credential source.
    Known(Sourced<String>),
    /// Not given: ask IAM at `iam` for the project named `region`.
    Lookup {
        /// The region, which is also the project's name.
        region: String,
        /// The IAM endpoint (checked: https, or http to a loopback host).
        iam: Sourced<Url>,
    },
}

/// Everything known before any network call: credentials, endpoint, region and project id,
/// each with where it came from.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// Credentials and their source.
    pub chain: Chain,
    /// The DCS endpoint.
    pub endpoint: Sourced<Url>,
    /// The region, when known.
    pub region: Option<Sourced<String>>,
    /// The project id or how to look it up.
    pub project_id: ProjectId,
}

/// A setting and where it came from (`--project-id`, `dcs.yaml: region`, `HW_PROJECT_ID`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where it came from, for `-v` and `whoami`.
    pub origin: String,
}

impl<T> Sourced<T> {
    /// `value` from `origin`.
    pub fn new(value: T, origin: impl Into<String>) -> Sourced<T> {
        Sourced {
            value,
            origin: origin.into(),
        }
    }
}

/// Resolves credentials, endpoint, region and project id without any network call.
///
/// Endpoint: `--endpoint`, the manifest's `endpoint:`, the region's default. Region: the
/// manifest's `region:`, `HW_REGION_NAME`. Project id: `--project-id`, the manifest's
/// `project_id:`, the credential source's, else an IAM lookup of the region.
pub fn resolve(
    cli_endpoint: Option<&str>,
    cli_project: Option<&str>,
    manifest: &ManifestTarget,
    env: &Env,
) -> Result<Resolution> {
    resolve_with(cli_endpoint, cli_project, manifest, env, None)
}

/// [`resolve`] with the credential chain already built (`Some`: one chain for every target
/// of a run, so temporary credentials are fetched once); `None` builds it from `env`.
pub fn resolve_with(
    cli_endpoint: Option<&str>,
    cli_project: Option<&str>,
    manifest: &ManifestTarget,
    env: &Env,
    chain: Option<&Chain>,
) -> Result<Resolution> {
    let file = &manifest.file;
    let region = match (&manifest.region, env.get(ENV_HW_REGION)) {
        (Some(r), _) => Some(Sourced::new(r.clone(), format!("{file}: region"))),
        (None, Some(r)) => Some(Sourced::new(r.trim().to_owned(), ENV_HW_REGION)),
        (None, None) => None,
    };
    if let Some(r) = &region {
        check_region(&r.value, &r.origin)?;
    }
    let endpoint = if let Some(e) = cli_endpoint {
        Sourced::new(check_endpoint(e, "--endpoint")?, "--endpoint")
    } else if let Some(e) = &manifest.endpoint {
        let origin = format!("{file}: endpoint");
        Sourced::new(check_endpoint(e, &origin)?, origin)
    } else if let Some(r) = &region {
        let origin = format!("default of region {} ({})", r.value, r.origin);
        Sourced::new(
            check_endpoint(&region_endpoint("dcs", &r.value), &r.origin)?,
            origin,
        )
    } else {
        return Err(Error::Usage(format!(
            "{file}: no endpoint: set `region:` (or `endpoint:`) in the manifest, set \
             {ENV_HW_REGION}, or pass --endpoint"
        )));
    };
    let chain = match chain {
        Some(c) => c.clone(),
        None => credential_chain(env)?,
    };
    let given = cli_project
        .filter(|p| !p.trim().is_empty())
        .map(|p| Sourced::new(p.to_owned(), "--project-id"))
        .or_else(|| {
            manifest
                .project_id
                .as_ref()
                .map(|p| Sourced::new(p.clone(), format!("{file}: project_id")))
        })
        .or_else(|| chain.project_id.clone());
    let project_id = match (given, &region) {
        (Some(p), _) => {
            check_project_id(&p.value)?;
            ProjectId::Known(p)
        }
        (None, Some(r)) => {
            let iam = match &chain.iam_endpoint {
                Some(e) => Sourced::new(check_endpoint(&e.value, &e.origin)?, e.origin.clone()),
                None => Sourced::new(
                    check_endpoint(&region_endpoint("iam", &r.value), &r.origin)?,
                    format!("default of region {}", r.value),
                ),
            };
            ProjectId::Lookup {
                region: r.value.clone(),
                iam,
            }
        }
        (None, None) => {
            return Err(Error::Usage(format!(
                "{file}: no project id: set `project_id:` in the manifest, pass --project-id or \
                 set {ENV_PROJECT_ID} (or {ENV_HW_PROJECT_ID}, or `project_id` in the \
                 credentials file); or give a region (`region:` or {ENV_HW_REGION}) so that \
                 it can be looked up in IAM"
            )));
        }
    };
    Ok(Resolution {
        chain,
        endpoint,
        region,
        project_id,
    })
}
