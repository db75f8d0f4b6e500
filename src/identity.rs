//! Who the tool acts as and where: the resolved credentials, endpoint, region and project id,
//! after the IAM lookup of the project id when one was needed. Used by `plan`, `apply` and
//! `whoami`; what it logs and prints never holds a secret.

use crate::api::{Auth, Client, ClientOptions, iam};
use crate::config::{self, Chain, Env, ManifestTarget, ProjectId, Sourced, Target};
use crate::error::Result;

/// The resolved identity and target of a run.
#[derive(Debug, Clone)]
pub struct Identity {
    /// Credentials and their source.
    pub chain: Chain,
    /// The DCS endpoint.
    pub endpoint: Sourced<url::Url>,
    /// The region, when known.
    pub region: Option<Sourced<String>>,
    /// The project id.
    pub project_id: Sourced<String>,
    /// The IAM endpoint, when the project id was looked up there.
    pub iam_endpoint: Option<Sourced<url::Url>>,
}

impl Identity {
    /// Where requests go.
    pub fn target(&self) -> Target {
        Target {
            endpoint: self.endpoint.value.clone(),
            project_id: self.project_id.value.clone(),
        }
    }

    /// A DCS client for this identity.
    pub fn client(&self, options: &ClientOptions) -> Result<Client> {
        Client::new(
            self.endpoint.value.clone(),
            self.project_id.value.clone(),
            self.chain.auth.clone(),
            options,
        )
    }

    /// Logs (at `info`, i.e. `-v`) where the project, region and endpoint came from (the
    /// credentials are logged by [`identify`]).
    pub fn log(&self) {
        tracing::info!(
            "project id {} from {}",
            self.project_id.value,
            self.project_id.origin
        );
        if let Some(r) = &self.region {
            tracing::info!("region {} from {}", r.value, r.origin);
        }
        tracing::info!(
            "endpoint {} from {}",
            self.endpoint.value,
            self.endpoint.origin
        );
    }
}

/// Logs (at `info`, i.e. `-v`) which source supplied the credentials.
pub fn log_credentials(chain: &Chain) {
    match &chain.auth {
        Auth::AkSk(c) => tracing::info!(
            "credentials: AK {} from {}{}",
            c.masked_ak(),
            chain.source,
            chain
                .security_token_origin
                .as_deref()
                .map(|o| format!(", with a security token from {o}"))
                .unwrap_or_default()
        ),
        Auth::Token(_) => tracing::info!(
            "credentials: an IAM token from {} (X-Auth-Token, no signature)",
            chain.source
        ),
        Auth::Metadata(_) => tracing::info!(
            "credentials: temporary ones from {}, fetched again before they expire",
            chain.source
        ),
    }
}

/// Resolves the identity for `manifest` and the command line; asks IAM for the project id
/// when none is given (the only network call before the DCS API's).
pub async fn identify(
    cli_endpoint: Option<&str>,
    cli_project: Option<&str>,
    manifest: &ManifestTarget,
    env: &Env,
    options: &ClientOptions,
) -> Result<Identity> {
    let r = config::resolve(cli_endpoint, cli_project, manifest, env)?;
    log_credentials(&r.chain);
    let (project_id, iam_endpoint) = match r.project_id {
        ProjectId::Known(p) => (p, None),
        ProjectId::Lookup { region, iam } => {
            tracing::info!(
                "no project id given: asking IAM at {} for the project of region {region}",
                iam.value
            );
            let id = iam::project_id_of_region(&iam.value, &region, &r.chain.auth, options).await?;
            config::check_project_id(&id)?;
            let origin = format!("IAM lookup of region {region} at {}", iam.value);
            (Sourced::new(id, origin), Some(iam))
        }
    };
    Ok(Identity {
        chain: r.chain,
        endpoint: r.endpoint,
        region: r.region,
        project_id,
        iam_endpoint,
    })
}
