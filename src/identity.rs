//! Who the tool acts as and where: the resolved credentials, endpoint, region and project id,
//! after the IAM lookup of the project id when one was needed. Used by `plan`, `apply` and
//! `whoami`; what it logs and prints never holds a secret.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::api::{Auth, Client, ClientOptions, iam};
use crate::config::{self, Chain, Env, ManifestTarget, ProjectId, Sourced, Target};
use crate::error::Result;

/// What the targets of one run share: the credential chain (built once, so temporary
/// credentials are fetched once and refreshed for all) and the project ids IAM gave, by IAM
/// endpoint and region (each looked up once, however many targets name the region).
#[derive(Debug, Default)]
pub struct Shared {
    chain: Option<Chain>,
    #[allow(clippy::type_complexity)]
    projects: Mutex<HashMap<(String, String), Arc<OnceCell<String>>>>,
}

impl Shared {
    /// One chain for every target of the run, from `env`.
    pub fn new(env: &Env) -> Result<Shared> {
        let chain = config::credential_chain(env)?;
        log_credentials(&chain);
        Ok(Shared {
            chain: Some(chain),
            projects: Mutex::new(HashMap::new()),
        })
    }

    /// The chain, when built for the run.
    pub fn chain(&self) -> Option<&Chain> {
        self.chain.as_ref()
    }

    /// The cell of the project id of `region` at `iam`: the first target asks, the others
    /// wait for its answer.
    fn project_cell(&self, iam: &url::Url, region: &str) -> Arc<OnceCell<String>> {
        let mut map = match self.projects.lock() {
            Ok(m) => m,
            // A panic elsewhere cannot leave the map half-written: it only caches.
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry((iam.to_string(), region.to_owned()))
            .or_default()
            .clone()
    }
}

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
    shared: Option<&Shared>,
) -> Result<Identity> {
    let chain = shared.and_then(Shared::chain);
    let r = config::resolve_with(cli_endpoint, cli_project, manifest, env, chain)?;
    if chain.is_none() {
        log_credentials(&r.chain);
    }
    let (project_id, iam_endpoint) = match r.project_id {
        ProjectId::Known(p) => (p, None),
        ProjectId::Lookup { region, iam } => {
            let lookup = || async {
                tracing::info!(
                    "no project id given: asking IAM at {} for the project of region {region}",
                    iam.value
                );
                let id =
                    iam::project_id_of_region(&iam.value, &region, &r.chain.auth, options).await?;
                config::check_project_id(&id)?;
                Ok::<String, crate::Error>(id)
            };
            let id = match shared {
                Some(s) => s
                    .project_cell(&iam.value, &region)
                    .get_or_try_init(lookup)
                    .await?
                    .clone(),
                None => lookup().await?,
            };
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
