//! The DCS API client: one endpoint, one project, one identity.
//!
//! This file holds the client and its settings; the requests live next to it, one job per
//! file: [`super::http`] (signing, sending, retrying, error answers), [`super::list`],
//! [`super::delete`] and [`super::tags`].

use std::time::Duration;

use secrecy::SecretString;
use url::Url;

use super::DEFAULT_CONCURRENCY;
use super::auth::Auth;
use super::redact::Redactor;
use super::retry::RetryPolicy;
use crate::error::{Error, Result};

/// Transport settings.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// TCP/TLS connect timeout.
    pub connect_timeout: Duration,
    /// Timeout of one whole request.
    pub request_timeout: Duration,
    /// How many listing pages may be in flight at once (at least 1; 0 is taken as 1).
    pub concurrency: usize,
    /// Retries of failed requests.
    pub retry: RetryPolicy,
    /// Secrets besides the credentials (e.g. a plan-signing key) that must never appear in a
    /// message: scrubbed from every text the server sends back, like the SK.
    pub redact: Vec<SecretString>,
    /// One bound on the requests in flight over the whole run, shared by every client built
    /// with these options (all targets of a fleet). `None`: no bound beyond `concurrency`.
    pub in_flight: Option<std::sync::Arc<tokio::sync::Semaphore>>,
    /// The HTTP clients, built once and shared by every client built with these options
    /// (and their clones): one pool of connections and one load of the root certificates.
    /// The timeouts above are read when the first of them is built.
    pub http: std::sync::Arc<super::http::HttpClients>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            concurrency: DEFAULT_CONCURRENCY,
            retry: RetryPolicy::default(),
            redact: Vec::new(),
            in_flight: None,
            http: std::sync::Arc::default(),
        }
    }
}

/// A DCS API client bound to one endpoint and project.
#[derive(Debug)]
pub struct Client {
    pub(super) http: reqwest::Client,
    pub(super) endpoint: Url,
    pub(super) host: String,
    /// `None` for IAM, which is not project-scoped (no `X-Project-Id` header).
    pub(super) project_id: Option<String>,
    pub(super) auth: Auth,
    pub(super) retry: RetryPolicy,
    pub(super) concurrency: usize,
    /// Scrubs the secrets above out of server text.
    pub(super) redactor: Redactor,
    /// The run's bound on requests in flight (see [`ClientOptions::in_flight`]).
    pub(super) in_flight: Option<std::sync::Arc<tokio::sync::Semaphore>>,
}

impl Client {
    /// A client for `endpoint` (scheme, host, optional port) and the project `project_id`,
    /// authenticated with `auth` (AK/SK [`super::Credentials`] or a token).
    pub fn new(
        endpoint: Url,
        project_id: String,
        auth: impl Into<Auth>,
        options: &ClientOptions,
    ) -> Result<Client> {
        Client::build(endpoint, Some(project_id), auth.into(), options)
    }

    /// A client for a service that is not project-scoped (IAM): no `X-Project-Id` header.
    pub fn unscoped(
        endpoint: Url,
        auth: impl Into<Auth>,
        options: &ClientOptions,
    ) -> Result<Client> {
        Client::build(endpoint, None, auth.into(), options)
    }

    fn build(
        endpoint: Url,
        project_id: Option<String>,
        auth: Auth,
        options: &ClientOptions,
    ) -> Result<Client> {
        let http = super::http::http_client(options, &endpoint)?;
        let host = match (endpoint.host_str(), endpoint.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => {
                return Err(Error::Usage(format!("endpoint {endpoint} has no host")));
            }
        };
        let redactor = Redactor::new(&auth, &options.redact);
        Ok(Client {
            http,
            endpoint,
            host,
            project_id,
            auth,
            retry: options.retry,
            concurrency: options.concurrency.max(1),
            redactor,
            in_flight: options.in_flight.clone(),
        })
    }

    /// The URL of `path` (which starts with `/`) on this endpoint, with `query` appended.
    pub(super) fn url(&self, path: &str, query: &str) -> String {
        let base = self.endpoint.as_str().trim_end_matches('/');
        if query.is_empty() {
            format!("{base}{path}")
        } else {
            format!("{base}{path}?{query}")
        }
    }

    /// `/v2/{project_id}/instances`.
    pub(super) fn instances_path(&self) -> String {
        format!("/v2/{}/instances", self.project())
    }

    /// The project id of a project-scoped client (empty for IAM, which never builds a
    /// project path).
    pub(super) fn project(&self) -> &str {
        self.project_id.as_deref().unwrap_or_default()
    }
}
