//! The HTTP client of the DCS API: signed, paginated listing and chunked batch deletion.
//!
//! Every request is signed with [`super::sign`]; the query string sent is exactly the canonical
//! one that was signed. Errors name the method, URL, HTTP status, `X-Request-Id` and what the
//! API said. The client logs requests (method, URL, status, request id) but never a header value.

use std::collections::HashSet;
use std::fmt;
use std::time::Duration;

use futures_util::StreamExt;
use secrecy::{ExposeSecret, SecretString};
use tracing::{debug, warn};
use url::Url;

use super::retry::{self, RetryPolicy, retryable_status};
use super::sign::{self, SignInput};
use super::wire::{self, BatchDeleteBody, BatchDeleteResponse, ListResponse};
use super::{DEFAULT_CONCURRENCY, DELETE_BATCH_MAX, LIST_LIMIT};
use crate::error::{ApiError, DecodeError, Error, Result};
use crate::model::Instance;

/// AK/SK credentials. `Debug` shows the AK masked and never the SK or token.
#[derive(Clone)]
pub struct Credentials {
    /// Access key id.
    pub ak: String,
    /// Secret access key.
    pub sk: SecretString,
    /// Security token of temporary credentials, sent and signed as `X-Security-Token`.
    pub security_token: Option<SecretString>,
}

impl Credentials {
    /// The AK with all but its first and last four characters hidden, e.g. `AKEX…890A`.
    pub fn masked_ak(&self) -> String {
        mask(&self.ak)
    }
}

/// Hides all but the first and last four characters of `s` (all of it when it is short).
pub fn mask(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() < 12 {
        return "****".to_owned();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// How requests prove who sends them.
#[derive(Clone)]
pub enum Auth {
    /// `SDK-HMAC-SHA256` signatures with an AK/SK (and a security token when temporary).
    AkSk(Credentials),
    /// `X-Auth-Token: <token>`, a project-scoped IAM token, instead of a signature.
    Token(SecretString),
}

impl From<Credentials> for Auth {
    fn from(c: Credentials) -> Auth {
        Auth::AkSk(c)
    }
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::AkSk(c) => f.debug_tuple("AkSk").field(c).finish(),
            Auth::Token(_) => f.debug_tuple("Token").field(&"(redacted)").finish(),
        }
    }
}

impl Auth {
    /// Who the requests are sent as, for messages: `AK AKEX…890A` or `the auth token`.
    pub fn who(&self) -> String {
        match self {
            Auth::AkSk(c) => format!("AK {}", c.masked_ak()),
            Auth::Token(_) => "the auth token".to_owned(),
        }
    }

    /// The headers that authenticate a request whose other headers are `headers`: the
    /// security token and the `Authorization` signature over all of them, or `X-Auth-Token`.
    /// Every value returned is marked sensitive, so that no HTTP library logs it.
    pub fn headers(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<Vec<(&'static str, reqwest::header::HeaderValue)>> {
        let value = |v: &str, what: &str| {
            reqwest::header::HeaderValue::from_str(v)
                .map(|mut v| {
                    v.set_sensitive(true);
                    v
                })
                .map_err(|_| {
                    Error::Credentials(format!(
                        "the {what} contains characters that cannot be sent in an HTTP header"
                    ))
                })
        };
        match self {
            Auth::Token(token) => Ok(vec![(
                "X-Auth-Token",
                value(token.expose_secret(), "auth token")?,
            )]),
            Auth::AkSk(c) => {
                let mut out = Vec::new();
                let mut signed: Vec<(String, String)> = headers.to_vec();
                if let Some(token) = &c.security_token {
                    out.push((
                        "X-Security-Token",
                        value(token.expose_secret(), "security token")?,
                    ));
                    signed.push((
                        "X-Security-Token".to_owned(),
                        token.expose_secret().to_owned(),
                    ));
                }
                let authorization = sign::authorization(
                    &c.ak,
                    c.sk.expose_secret(),
                    &SignInput {
                        method,
                        path,
                        query,
                        headers: &signed,
                        body,
                    },
                );
                out.push(("Authorization", value(&authorization, "access key")?));
                Ok(out)
            }
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("ak", &self.masked_ak())
            .field("sk", &"(redacted)")
            .field(
                "security_token",
                &self.security_token.as_ref().map(|_| "(redacted)"),
            )
            .finish()
    }
}

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
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            concurrency: DEFAULT_CONCURRENCY,
            retry: RetryPolicy::default(),
        }
    }
}

/// The outcome of deleting one instance, as the batch answer reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// `result: success`: the API accepted the deletion (it completes asynchronously); or,
    /// after a request whose answer was lost, the instance is gone from the listing.
    Deleted,
    /// After a request whose answer was lost: the listing shows the instance `DELETING`.
    Deleting,
    /// `result: failed`, or no result for this id, or the whole request failed: the reason.
    Failed(String),
}

/// A DCS API client bound to one endpoint and project.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    endpoint: Url,
    host: String,
    project_id: String,
    auth: Auth,
    retry: RetryPolicy,
    concurrency: usize,
}

/// What an HTTP exchange gave back. The body is the buffer the HTTP layer filled, not a copy.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) request_id: Option<String>,
    /// `Retry-After`, as sent.
    pub(super) retry_after: Option<String>,
    pub(super) body: bytes::Bytes,
}

/// The HTTP client every request is sent with: rustls with certificate verification, the
/// timeouts of `options`, a `dcs-reconcile/<version>` User-Agent and no redirects.
pub(super) fn http_client(options: &ClientOptions) -> Result<reqwest::Client> {
    // reqwest is built with rustls but no default crypto provider: use ring. Installing
    // twice is harmless (the second call returns an error we ignore).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        .user_agent(concat!("dcs-reconcile/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| Error::Usage(format!("cannot set up the HTTP client: {e}")))
}

impl Client {
    /// A client for `endpoint` (scheme, host, optional port) and `project_id` (empty: no
    /// `X-Project-Id` header, as for IAM), authenticated with `auth` (AK/SK [`Credentials`] or
    /// a token).
    pub fn new(
        endpoint: Url,
        project_id: String,
        auth: impl Into<Auth>,
        options: &ClientOptions,
    ) -> Result<Client> {
        let http = http_client(options)?;
        let host = match (endpoint.host_str(), endpoint.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => {
                return Err(Error::Usage(format!("endpoint {endpoint} has no host")));
            }
        };
        Ok(Client {
            http,
            endpoint,
            host,
            project_id,
            auth: auth.into(),
            retry: options.retry,
            concurrency: options.concurrency.max(1),
        })
    }

    /// The URL of `path` (which starts with `/`) on this endpoint, with `query` appended.
    fn url(&self, path: &str, query: &str) -> String {
        let base = self.endpoint.as_str().trim_end_matches('/');
        if query.is_empty() {
            format!("{base}{path}")
        } else {
            format!("{base}{path}?{query}")
        }
    }

    fn instances_path(&self) -> String {
        format!("/v2/{}/instances", self.project_id)
    }

    /// Signs and sends one request; any HTTP status comes back as an [`Answer`].
    pub(super) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<(String, Answer)> {
        let query_string = sign::canonical_query(query);
        let url = self.url(path, &query_string);
        let sdk_date = sign::sdk_date(time::OffsetDateTime::now_utc());
        let content_type = body.as_ref().map_or("application/json", |(_, ct)| ct);
        let mut headers: Vec<(String, String)> = vec![
            ("Content-Type".to_owned(), content_type.to_owned()),
            ("Host".to_owned(), self.host.clone()),
            ("X-Sdk-Date".to_owned(), sdk_date),
        ];
        if !self.project_id.is_empty() {
            headers.push(("X-Project-Id".to_owned(), self.project_id.clone()));
        }
        let body_bytes = body.map(|(b, _)| b).unwrap_or_default();
        let auth_headers =
            self.auth
                .headers(method.as_str(), path, query, &headers, &body_bytes)?;
        let mut request = self.http.request(method.clone(), &url);
        for (k, v) in &headers {
            request = request.header(k.as_str(), v.as_str());
        }
        for (k, v) in auth_headers {
            request = request.header(k, v);
        }
        if !body_bytes.is_empty() {
            request = request.body(body_bytes);
        }
        debug!(method = %method, url = %url, "sending request");
        let transport = |e: reqwest::Error| Error::Transport {
            method: method.to_string(),
            url: url.clone(),
            message: error_chain(&e.without_url()),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        // IAM names its request id X-IAM-Trace-Id.
        let request_id = ["x-request-id", "x-iam-trace-id"]
            .iter()
            .find_map(|h| response.headers().get(*h))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response.bytes().await.map_err(transport)?;
        debug!(method = %method, url = %url, status, request_id = request_id.as_deref().unwrap_or("-"), bytes = body.len(), "answer");
        Ok((
            url,
            Answer {
                status,
                request_id,
                retry_after,
                body,
            },
        ))
    }

    /// [`Client::send`] under the retry policy: reads are retried on 429, 5xx, timeouts and
    /// connection errors; deletes only on 429 and 503 (the request was not processed). Each
    /// retry is logged with its reason. The last answer or error is returned when the retries
    /// or the deadline run out.
    pub(super) async fn send_with_retry(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<(String, Answer)> {
        let read = method == reqwest::Method::GET;
        let start = std::time::Instant::now();
        let mut attempt: u32 = 0;
        loop {
            let result = self.send(method.clone(), path, query, body.clone()).await;
            let (reason, retry_after) = match &result {
                Ok((_, a)) if retryable_status(a.status, read) => {
                    let code = wire::parse_error_body(&a.body)
                        .and_then(|b| b.code)
                        .map(|c| format!(" {c}"))
                        .unwrap_or_default();
                    (
                        format!("HTTP {}{code}", a.status),
                        a.retry_after.as_deref().and_then(|v| {
                            retry::parse_retry_after(v, time::OffsetDateTime::now_utc())
                        }),
                    )
                }
                Err(Error::Transport { message, .. }) if read => (message.clone(), None),
                _ => return result,
            };
            let delay = retry::backoff(&self.retry, attempt, retry_after, retry::jitter());
            if attempt >= self.retry.max_retries {
                warn!(
                    "{method} {path}: giving up after {} retries: {reason}",
                    attempt
                );
                return result;
            }
            if start.elapsed() + delay > self.retry.deadline {
                warn!(
                    "{method} {path}: giving up, the retry deadline of {}s would pass: {reason}",
                    self.retry.deadline.as_secs()
                );
                return result;
            }
            attempt += 1;
            warn!(
                "{method} {path}: {reason}; retry {attempt} of {} in {} ms",
                self.retry.max_retries,
                delay.as_millis()
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Turns a non-2xx answer into an [`Error::Api`] with a hint where one helps; `action` is
    /// the IAM permission the request needs.
    pub(super) fn api_error(
        &self,
        method: &str,
        url: String,
        answer: Answer,
        action: &str,
    ) -> Error {
        let parsed = wire::parse_error_body(&answer.body).unwrap_or_default();
        let api_message = parsed
            .message
            .or_else(|| (!answer.body.is_empty()).then(|| snippet(&answer.body)));
        let code = parsed.code;
        let project = if self.project_id.is_empty() {
            String::new()
        } else {
            format!(" in project {}", self.project_id)
        };
        let hint = match (answer.status, code.as_deref(), &self.auth) {
            (_, Some(c), Auth::AkSk(creds))
                if c.starts_with("APIGW.0301") || c.starts_with("APIG.0301") =>
            {
                Some(format!(
                    "the signature or token was rejected: check the SK that belongs to AK {}, the \
                     project id, and this machine's clock (X-Sdk-Date must be within 15 minutes \
                     of the server's time)",
                    creds.masked_ak()
                ))
            }
            (_, Some(c), Auth::Token(_))
                if c.starts_with("APIGW.0301") || c.starts_with("APIG.0301") =>
            {
                Some(
                    "the signature or token was rejected: check that the auth token is a valid, \
                     unexpired (24 h) IAM token scoped to this project, and the project id"
                        .to_owned(),
                )
            }
            (_, Some(c), _) if c.ends_with(".0308") => {
                Some("the API throttled the request; wait a few seconds and try again".to_owned())
            }
            (401, _, _) => Some(format!(
                "authentication failed for {}: check the credentials and the project id",
                self.auth.who()
            )),
            (403, _, _) => Some(format!(
                "{} lacks the IAM permission `{action}`{project}; ask an administrator to grant it",
                self.auth.who()
            )),
            (404, _, _) if !self.project_id.is_empty() => Some(format!(
                "check the endpoint and that project {} exists in its region",
                self.project_id
            )),
            _ => None,
        };
        Error::Api(Box::new(ApiError {
            method: method.to_owned(),
            url,
            status: answer.status,
            code,
            message: api_message,
            request_id: parsed.request_id.or(answer.request_id),
            hint,
        }))
    }

    /// Reads one page of the listing and parses it into compact [`Instance`]s as soon as it
    /// has arrived; the raw body is dropped before this returns.
    async fn list_page(&self, offset: usize) -> Result<ListResponse> {
        let query = vec![
            ("include_failure".to_owned(), "true".to_owned()),
            ("limit".to_owned(), LIST_LIMIT.to_string()),
            ("offset".to_owned(), offset.to_string()),
        ];
        let path = self.instances_path();
        let (url, answer) = self
            .send_with_retry(reqwest::Method::GET, &path, &query, None)
            .await?;
        if !(200..300).contains(&answer.status) {
            return Err(self.api_error("GET", url, answer, "dcs:instance:list"));
        }
        serde_json::from_slice::<ListResponse>(&answer.body).map_err(|e| {
            Error::Decode(Box::new(DecodeError {
                method: "GET".to_owned(),
                url,
                status: answer.status,
                request_id: answer.request_id,
                detail: e.to_string(),
                snippet: snippet(&answer.body),
            }))
        })
    }

    /// Lists every instance of the project (`limit=1000`, `include_failure=true`),
    /// de-duplicated by id.
    ///
    /// The first page gives `instance_num`; the other pages are then read concurrently, at most
    /// `concurrency` at a time, and put together in offset order. So N instances take exactly
    /// ceil(N/1000) requests (one when N <= 1000) in about two round trips. A listing whose
    /// pages do not add up to `instance_num` is read again; if it still does not add up, this
    /// fails rather than return a partial view.
    pub async fn list_instances(&self) -> Result<Vec<Instance>> {
        const ATTEMPTS: usize = 3;
        let mut last_problem = String::new();
        for attempt in 1..=ATTEMPTS {
            match self.list_once().await? {
                Ok(all) => return Ok(all),
                Err(problem) => {
                    warn!(attempt, "listing inconsistent, reading it again: {problem}");
                    last_problem = problem;
                }
            }
        }
        Err(Error::Listing(format!(
            "GET {}: the listing stayed inconsistent after {ATTEMPTS} attempts ({last_problem}); \
             refusing to plan on a partial view of the project",
            self.url(&self.instances_path(), "")
        )))
    }

    /// One pass over all pages. The inner `Err` describes an inconsistency.
    async fn list_once(&self) -> Result<std::result::Result<Vec<Instance>, String>> {
        let first = self.list_page(0).await?;
        let Some(total) = first.instance_num else {
            // Without a total the number of pages is unknown: read on until a short page.
            return self.list_rest_sequentially(first).await;
        };
        let mut all = first.instances;
        let first_count = all.len();
        // An empty first page ends the listing (the count check below then decides).
        let offsets = if first_count == 0 {
            0..0
        } else {
            LIST_LIMIT..usize::try_from(total).unwrap_or(usize::MAX)
        };
        // One allocation for the whole listing (capped: `instance_num` is the server's word).
        all.reserve(usize::try_from(total).unwrap_or(0).min(1000 * LIST_LIMIT));
        let mut pages = futures_util::stream::iter(offsets.step_by(LIST_LIMIT))
            .map(|offset| async move { (offset, self.list_page(offset).await) })
            .buffered(self.concurrency);
        while let Some((offset, page)) = pages.next().await {
            let page = page?;
            if let Some(n) = page.instance_num
                && n != total
            {
                return Ok(Err(format!(
                    "instance_num changed from {total} to {n} between pages"
                )));
            }
            if page.instances.is_empty() {
                // Pages past this one would be empty too: stop reading them.
                return Ok(Err(format!(
                    "instance_num is {total} but the page at offset {offset} is empty"
                )));
            }
            all.extend(page.instances);
        }
        drop(pages);
        dedup_by_id(&mut all);
        if all.len() as u64 != total {
            return Ok(Err(format!(
                "instance_num is {total} but the pages held {} distinct instances",
                all.len()
            )));
        }
        Ok(Ok(all))
    }

    /// The listing when the first page carries no `instance_num`: the next pages one by one,
    /// until a page holds fewer than `LIST_LIMIT` instances.
    async fn list_rest_sequentially(
        &self,
        first: ListResponse,
    ) -> Result<std::result::Result<Vec<Instance>, String>> {
        let mut all = first.instances;
        let mut count = all.len();
        let mut offset = 0;
        while count == LIST_LIMIT {
            offset += LIST_LIMIT;
            let page = self.list_page(offset).await?;
            count = page.instances.len();
            all.extend(page.instances);
        }
        dedup_by_id(&mut all);
        Ok(Ok(all))
    }

    /// Deletes `ids` (at most [`DELETE_BATCH_MAX`]) in one `DELETE /v2/{project_id}/instances`
    /// and returns the per-instance outcome, in the order of `ids`. An id the answer does not
    /// mention is reported as failed.
    pub async fn delete_batch(&self, ids: &[String]) -> Result<Vec<(String, DeleteOutcome)>> {
        if ids.len() > DELETE_BATCH_MAX {
            return Err(Error::Usage(format!(
                "internal error: a batch of {} ids exceeds the API's cap of {DELETE_BATCH_MAX}",
                ids.len()
            )));
        }
        let body = serde_json::to_vec(&BatchDeleteBody {
            instances: ids.to_vec(),
        })
        .map_err(|e| Error::Usage(format!("cannot encode the delete body: {e}")))?;
        let query = vec![("all_failure".to_owned(), "false".to_owned())];
        let path = self.instances_path();
        let (url, answer) = self
            .send_with_retry(
                reqwest::Method::DELETE,
                &path,
                &query,
                Some((body, "application/json;charset=UTF-8")),
            )
            .await?;
        if !(200..300).contains(&answer.status) {
            return Err(self.api_error("DELETE", url, answer, "dcs:instance:delete"));
        }
        let parsed: BatchDeleteResponse = serde_json::from_slice(&answer.body).map_err(|e| {
            Error::Decode(Box::new(DecodeError {
                method: "DELETE".to_owned(),
                url: url.clone(),
                status: answer.status,
                request_id: answer.request_id.clone(),
                detail: e.to_string(),
                snippet: snippet(&answer.body),
            }))
        })?;
        let rid = answer
            .request_id
            .as_deref()
            .map(|r| format!(" (request id {r})"))
            .unwrap_or_default();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let result = parsed
                .results
                .iter()
                .find(|r| r.instance.as_deref() == Some(id.as_str()));
            let outcome = match result.and_then(|r| r.result.as_deref()) {
                Some("success") => DeleteOutcome::Deleted,
                Some(other) => DeleteOutcome::Failed(format!("the API answered `{other}`{rid}")),
                None => DeleteOutcome::Failed(format!(
                    "the API's answer has no result for this instance{rid}"
                )),
            };
            out.push((id.clone(), outcome));
        }
        for r in &parsed.results {
            if let Some(id) = &r.instance
                && !ids.contains(id)
            {
                warn!("the delete answer mentions {id}, which was not in the request");
            }
        }
        Ok(out)
    }
}

/// Drops every instance whose id came earlier in `all`, keeping the first occurrence and the
/// order. Ids are borrowed, not copied, while looking for repeats.
fn dedup_by_id(all: &mut Vec<Instance>) {
    let repeats: HashSet<usize> = {
        let mut seen: HashSet<&str> = HashSet::with_capacity(all.len());
        all.iter()
            .enumerate()
            .filter(|(_, i)| !seen.insert(i.id.as_str()))
            .map(|(n, _)| n)
            .collect()
    };
    if repeats.is_empty() {
        return;
    }
    debug!(
        repeats = repeats.len(),
        "dropping repeated instances from the listing"
    );
    let mut n = 0;
    all.retain(|_| {
        let keep = !repeats.contains(&n);
        n += 1;
        keep
    });
}

/// The first bytes of a body, as text, for error messages.
fn snippet(body: &[u8]) -> String {
    const MAX: usize = 200;
    if body.is_empty() {
        return "(empty)".to_owned();
    }
    let cut = &body[..body.len().min(MAX)];
    let text = String::from_utf8_lossy(cut);
    let one_line: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if body.len() > MAX {
        format!("{one_line}…")
    } else {
        one_line
    }
}

/// `outer: inner: innermost`, without repeating a cause already in the outer message.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_hides_the_middle() {
        assert_eq!(mask("AKEXAMPLE1234567890A"), "AKEX…890A");
        assert_eq!(mask("short"), "****");
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let c = Credentials {
            ak: "AKEXAMPLE1234567890A".to_owned(),
            sk: SecretString::from("very-secret-sk-value"),
            security_token: Some(SecretString::from("very-secret-token")),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(!shown.contains("AKEXAMPLE1234567890A"), "{shown}");
        assert!(shown.contains("AKEX…890A"), "{shown}");
    }

    fn header_text(headers: &[(&str, reqwest::header::HeaderValue)]) -> String {
        headers
            .iter()
            .map(|(k, v)| format!("{k}: {}\n", v.to_str().unwrap_or("?")))
            .collect()
    }

    #[test]
    fn token_auth_sends_only_the_token_and_marks_it_sensitive() -> Result<()> {
        let auth = Auth::Token(SecretString::from("MIItoken-value"));
        let h = auth.headers("GET", "/v2/p/instances", &[], &[], b"")?;
        assert_eq!(header_text(&h), "X-Auth-Token: MIItoken-value\n");
        assert!(h.iter().all(|(_, v)| v.is_sensitive()));
        assert!(!format!("{auth:?}").contains("MIItoken"));
        assert_eq!(auth.who(), "the auth token");
        Ok(())
    }

    #[test]
    fn a_security_token_is_sent_and_signed() -> Result<()> {
        let creds = Credentials {
            ak: "AKEXAMPLE1234567890A".to_owned(),
            sk: SecretString::from("SKEXAMPLEsecretKey0123456789abcdefghijKL"),
            security_token: Some(SecretString::from("tempTOKENexample")),
        };
        let headers = vec![("X-Sdk-Date".to_owned(), "20240101T000000Z".to_owned())];
        let h = Auth::from(creds).headers("GET", "/", &[], &headers, b"")?;
        let text = header_text(&h);
        assert!(
            text.starts_with("X-Security-Token: tempTOKENexample\n"),
            "{text}"
        );
        assert!(
            text.contains("SignedHeaders=x-sdk-date;x-security-token,"),
            "{text}"
        );
        assert!(h.iter().all(|(_, v)| v.is_sensitive()));
        Ok(())
    }

    fn client(auth: Auth, project: &str) -> Client {
        let url = Url::parse("https://dcs.example.com").unwrap_or_else(|e| panic!("{e}"));
        Client::new(url, project.to_owned(), auth, &ClientOptions::default())
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn answer(status: u16, body: &str) -> Answer {
        Answer {
            status,
            request_id: Some("rid-1".to_owned()),
            retry_after: None,
            body: body.as_bytes().to_vec().into(),
        }
    }

    fn aksk() -> Auth {
        Auth::from(Credentials {
            ak: "AKEXAMPLE1234567890A".to_owned(),
            sk: SecretString::from("very-secret-sk-value"),
            security_token: None,
        })
    }

    #[test]
    fn a_403_names_the_iam_action_and_a_0301_the_masked_ak_and_the_clock() {
        let c = client(aksk(), "p1");
        let body = r#"{"error_code":"DCS.2003","error_msg":"No permission."}"#;
        let e = c
            .api_error(
                "DELETE",
                "u".to_owned(),
                answer(403, body),
                "dcs:instance:delete",
            )
            .to_string();
        assert_eq!(
            e,
            "DELETE u: HTTP 403 DCS.2003: No permission. (request id rid-1)\n  hint: AK \
             AKEX…890A lacks the IAM permission `dcs:instance:delete` in project p1; ask an \
             administrator to grant it"
        );
        let body = r#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: verify aksk signature fail","request_id":"gw-9"}"#;
        let e = c
            .api_error(
                "GET",
                "u".to_owned(),
                answer(401, body),
                "dcs:instance:list",
            )
            .to_string();
        assert!(e.contains("(request id gw-9)"), "{e}");
        assert!(e.contains("the signature or token was rejected"), "{e}");
        assert!(e.contains("AK AKEX…890A"), "{e}");
        assert!(e.contains("X-Sdk-Date must be within 15 minutes"), "{e}");
        assert!(!e.contains("very-secret"), "{e}");
        let c = client(Auth::Token(SecretString::from("tok-secret")), "p1");
        let e = c
            .api_error(
                "GET",
                "u".to_owned(),
                answer(403, "{}"),
                "dcs:instance:list",
            )
            .to_string();
        assert!(
            e.contains("the auth token lacks the IAM permission `dcs:instance:list`"),
            "{e}"
        );
        assert!(!e.contains("tok-secret"), "{e}");
    }

    #[test]
    fn repeated_ids_keep_their_first_occurrence_and_the_order() {
        let inst = |id: &str, name: &str| Instance {
            id: id.to_owned(),
            name: name.to_owned(),
            ..Instance::default()
        };
        let mut all = vec![
            inst("a", "1"),
            inst("b", "2"),
            inst("a", "3"),
            inst("c", "4"),
            inst("b", "5"),
        ];
        dedup_by_id(&mut all);
        let names: Vec<&str> = all.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["1", "2", "4"]);
        let mut none = vec![inst("x", "1"), inst("y", "2")];
        dedup_by_id(&mut none);
        assert_eq!(none.len(), 2);
    }

    #[test]
    fn snippets_are_short_and_single_line() {
        assert_eq!(snippet(b""), "(empty)");
        assert_eq!(snippet(b"<html>\n502</html>"), "<html> 502</html>");
        let long = vec![b'a'; 500];
        assert_eq!(snippet(&long).chars().count(), 201);
    }
}
