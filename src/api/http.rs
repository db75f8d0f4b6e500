//! Sending requests: the reqwest client, signing, the retry loop, and the ONE place where a
//! non-2xx answer becomes an [`Error::Api`] with its hint ([`Client::check`]).
//!
//! Every request is signed with [`super::sign`]; the query string sent is exactly the canonical
//! one that was signed. Errors name the method, URL, HTTP status, `X-Request-Id` and what the
//! API said, scrubbed of every secret ([`super::redact`]). Requests are logged (method, URL,
//! status, request id) but never a header value.

use std::time::Instant;

use tracing::{debug, info, warn};
use url::Url;

use super::auth::Auth;
use super::client::{Client, ClientOptions};
use super::proxy;
use super::redact::{clip, one_line};
use super::retry::{self, retryable_status};
use super::sign;
use super::wire;
use crate::error::{ApiError, DecodeError, Error, Result};

/// The most characters of server text (a message, a body's first bytes) put into an error.
const SERVER_TEXT_MAX: usize = 1024;

/// How many characters of a body that is not a DCS error are shown.
const SNIPPET_MAX: usize = 200;

/// What an HTTP exchange gave back. The body is the buffer the HTTP layer filled, not a copy.
/// The request id and `Location` are already scrubbed of secrets.
pub(super) struct Answer {
    pub(super) status: u16,
    pub(super) request_id: Option<String>,
    /// `Retry-After`, as sent.
    pub(super) retry_after: Option<String>,
    /// `Location` of a redirect (redirects are never followed).
    pub(super) location: Option<String>,
    pub(super) body: bytes::Bytes,
}

impl Answer {
    /// ` (request id …)`, or nothing.
    pub(super) fn request_id_suffix(&self) -> String {
        self.request_id
            .as_deref()
            .map(|r| format!(" (request id {r})"))
            .unwrap_or_default()
    }
}

/// The HTTP client every request to `endpoint` is sent with: rustls with certificate
/// verification, the timeouts of `options`, a `dcs-reconcile/<version>` User-Agent, no
/// redirects, and a proxy only for https endpoints (see [`super::proxy`]).
pub(super) fn http_client(options: &ClientOptions, endpoint: &Url) -> Result<reqwest::Client> {
    // One client per kind of endpoint for the whole run: building one loads the root
    // certificates, which for a fleet of 100 targets was most of the CPU of a plan.
    let cell = if endpoint.scheme() == "https" {
        &options.http.https
    } else {
        &options.http.plain
    };
    if let Some(client) = cell.get() {
        return Ok(client.clone());
    }
    let client = build_http_client(options, endpoint)?;
    Ok(cell.get_or_init(|| client).clone())
}

/// The reqwest clients of a run, built once each: for https endpoints (through a proxy when
/// the environment names one) and for plain-http loopback endpoints (never through a proxy).
#[derive(Debug, Default)]
pub struct HttpClients {
    https: std::sync::OnceLock<reqwest::Client>,
    plain: std::sync::OnceLock<reqwest::Client>,
}

fn build_http_client(options: &ClientOptions, endpoint: &Url) -> Result<reqwest::Client> {
    // reqwest is built with rustls but no default crypto provider: use ring. Installing
    // twice is harmless (the second call returns an error we ignore).
    let _ = rustls::crypto::ring::default_provider().install_default();
    // No proxy from reqwest's own reading of the environment: it would send plain-http
    // requests to the emulator, signed and with tokens, through an HTTP_PROXY.
    let mut builder = reqwest::Client::builder()
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        .user_agent(concat!("dcs-reconcile/", env!("CARGO_PKG_VERSION")))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if endpoint.scheme() == "https"
        && let Some(p) = proxy::from_env(|k| std::env::var(k).ok())
    {
        let proxy = reqwest::Proxy::https(&p.url)
            .map_err(|_| {
                // Not repeated: the proxy URL may hold a password.
                Error::Usage(format!(
                    "{} is not a valid proxy URL (expected http://host:port)",
                    p.variable
                ))
            })?
            .no_proxy(
                p.no_proxy
                    .as_deref()
                    .and_then(reqwest::NoProxy::from_string),
            );
        info!(
            proxy = %p.host,
            from = p.variable,
            no_proxy = p.no_proxy.as_deref().unwrap_or("-"),
            "https requests go through a proxy"
        );
        builder = builder.proxy(proxy);
    }
    builder
        .build()
        .map_err(|e| Error::Internal(format!("cannot set up the HTTP client: {e}")))
}

impl Client {
    /// Signs and sends one request; any HTTP status comes back as an [`Answer`].
    pub(super) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<(String, Answer)> {
        // Taken before signing (the signature's date must not age while waiting) and held
        // until the whole answer is read: the run's bound on requests in flight.
        let _permit = match &self.in_flight {
            Some(s) => Some(s.acquire().await.map_err(|_| {
                Error::Internal("the bound on requests in flight was closed".to_owned())
            })?),
            None => None,
        };
        let query_string = sign::canonical_query(query);
        let url = self.url(path, &query_string);
        let sdk_date = sign::sdk_date(time::OffsetDateTime::now_utc());
        let content_type = body.as_ref().map_or("application/json", |(_, ct)| ct);
        let mut headers: Vec<(String, String)> = vec![
            ("Content-Type".to_owned(), content_type.to_owned()),
            ("Host".to_owned(), self.host.clone()),
            ("X-Sdk-Date".to_owned(), sdk_date),
        ];
        if let Some(project) = &self.project_id {
            headers.push(("X-Project-Id".to_owned(), project.clone()));
        }
        let body_bytes = body.map(|(b, _)| b).unwrap_or_default();
        // Temporary credentials are fetched again here when they are about to expire.
        let auth_headers = self.auth.current().await?.headers(
            method.as_str(),
            path,
            query,
            &headers,
            &body_bytes,
        )?;
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
            message: self.redactor.scrub(&error_chain(&e.without_url())),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| self.server_text(v))
        };
        // IAM names its request id X-IAM-Trace-Id.
        let request_id = header("x-request-id").or_else(|| header("x-iam-trace-id"));
        let location = header("location");
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
                location,
                body,
            },
        ))
    }

    /// [`Client::send`] under the retry policy: reads are retried on 429, 5xx, timeouts and
    /// connection errors; anything else (deletes, tag changes) only on 429 (see
    /// [`super::retry`]). Each retry is logged with its reason. The last answer or error is
    /// returned when the retries or the deadline run out.
    pub(super) async fn send_with_retry(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<(String, Answer)> {
        let read = method == reqwest::Method::GET;
        self.send_retrying(method, path, query, body, read).await
    }

    /// A `POST` that only reads (a Cloud Eye query), retried as reads are.
    pub(super) async fn send_read(
        &self,
        path: &str,
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<(String, Answer)> {
        self.send_retrying(reqwest::Method::POST, path, &[], body, true)
            .await
    }

    async fn send_retrying(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(String, String)],
        body: Option<(Vec<u8>, &str)>,
        read: bool,
    ) -> Result<(String, Answer)> {
        let start = Instant::now();
        let mut retries: u32 = 0;
        loop {
            let result = self.send(method.clone(), path, query, body.clone()).await;
            let (reason, retry_after) = match &result {
                Ok((_, a)) if retryable_status(a.status, read) => {
                    let code = wire::parse_error_body(&a.body)
                        .and_then(|b| b.code)
                        .map(|c| format!(" {}", self.server_text(&c)))
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
            let elapsed = start.elapsed();
            let Some(delay) =
                retry::next_delay(&self.retry, retries, elapsed, retry_after, retry::jitter())
            else {
                if retries >= self.retry.max_retries {
                    warn!("{method} {path}: giving up after {retries} retries: {reason}");
                } else {
                    warn!(
                        "{method} {path}: giving up, the retry deadline of {}s would pass: {reason}",
                        self.retry.deadline.as_secs()
                    );
                }
                return result;
            };
            retries = retries.saturating_add(1);
            warn!(
                "{method} {path}: {reason}; retry {retries} of {} in {} ms",
                self.retry.max_retries,
                delay.as_millis()
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// The answer if it is 2xx; otherwise the [`Error::Api`] it means, with a hint where one
    /// helps. `action` is the IAM permission the request needs. This is the only place a
    /// non-2xx answer is turned into an error.
    pub(super) fn check(
        &self,
        method: &str,
        url: String,
        answer: Answer,
        action: &str,
    ) -> Result<(String, Answer)> {
        if (200..300).contains(&answer.status) {
            return Ok((url, answer));
        }
        Err(self.api_error(method, url, answer, action))
    }

    fn api_error(&self, method: &str, url: String, answer: Answer, action: &str) -> Error {
        let parsed = wire::parse_error_body(&answer.body).unwrap_or_default();
        let code = parsed.code.map(|c| self.server_text(&c));
        let redirect = (300..400).contains(&answer.status);
        let api_message = if redirect {
            Some(match &answer.location {
                Some(l) => format!("redirected to {l} (redirects are not followed)"),
                None => {
                    "a redirect without a Location header (redirects are not followed)".to_owned()
                }
            })
        } else {
            parsed
                .message
                .map(|m| self.server_text(&m))
                .or_else(|| (!answer.body.is_empty()).then(|| self.snippet(&answer.body)))
        };
        let project = self
            .project_id
            .as_ref()
            .map(|p| format!(" in project {p}"))
            .unwrap_or_default();
        let gateway_auth = code
            .as_deref()
            .is_some_and(|c| c.starts_with("APIGW.0301") || c.starts_with("APIG.0301"));
        let hint = match (answer.status, code.as_deref(), &self.auth) {
            (_, _, Auth::AkSk(creds)) if gateway_auth => Some(format!(
                "the signature or token was rejected: check the SK that belongs to AK {}, the \
                 project id, and this machine's clock (X-Sdk-Date must be within 15 minutes \
                 of the server's time)",
                creds.masked_ak()
            )),
            (_, _, Auth::Metadata(_)) if gateway_auth => Some(format!(
                "the signature or token was rejected: {} may lack access to this project, or \
                 this machine's clock is off (X-Sdk-Date must be within 15 minutes of the \
                 server's time)",
                self.auth.who()
            )),
            (_, _, Auth::Token(_)) if gateway_auth => Some(
                "the signature or token was rejected: check that the auth token is a valid, \
                 unexpired (24 h) IAM token scoped to this project, and the project id"
                    .to_owned(),
            ),
            (_, Some(c), _) if c.ends_with(".0308") => {
                Some("the API throttled the request; wait a few seconds and try again".to_owned())
            }
            (300..=399, _, _) => Some(
                "check the endpoint: give the API's own https:// address, not one that \
                 redirects"
                    .to_owned(),
            ),
            (401, _, _) => Some(format!(
                "authentication failed for {}: check the credentials and the project id",
                self.auth.who()
            )),
            (403, _, _) => Some(format!(
                "{} lacks the IAM permission `{action}`{project}; ask an administrator to grant it",
                self.auth.who()
            )),
            (404, _, _) if self.project_id.is_some() => Some(format!(
                "check the endpoint and that project {} exists in its region",
                self.project()
            )),
            _ => None,
        };
        Error::Api(Box::new(ApiError {
            method: method.to_owned(),
            url,
            status: answer.status,
            code,
            message: api_message,
            request_id: parsed
                .request_id
                .map(|r| self.server_text(&r))
                .or(answer.request_id),
            hint,
        }))
    }

    /// The [`Error::Decode`] of a 2xx answer whose body could not be understood: `detail`
    /// (which may quote the body) and the body's first bytes, scrubbed.
    pub(super) fn decode_error(
        &self,
        method: &str,
        url: &str,
        answer: &Answer,
        detail: &str,
    ) -> Error {
        Error::Decode(Box::new(DecodeError {
            method: method.to_owned(),
            url: url.to_owned(),
            status: answer.status,
            request_id: answer.request_id.clone(),
            detail: self.server_text(detail),
            snippet: self.snippet(&answer.body),
        }))
    }

    /// Text that came from the server, fit for a message: secrets scrubbed, control
    /// characters made spaces, at most [`SERVER_TEXT_MAX`] characters.
    pub(super) fn server_text(&self, text: &str) -> String {
        clip(&one_line(&self.redactor.scrub(text)), SERVER_TEXT_MAX)
    }

    /// The first characters of a body, as one line of scrubbed text. The text is scrubbed
    /// before it is cut, so a secret that straddles the cut is still replaced whole.
    pub(super) fn snippet(&self, body: &[u8]) -> String {
        if body.is_empty() {
            return "(empty)".to_owned();
        }
        let head = &body[..body.len().min(64 * 1024)];
        let text = self.redactor.scrub(&String::from_utf8_lossy(head));
        clip(&one_line(&text), SNIPPET_MAX)
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
    use secrecy::SecretString;

    use super::*;
    use crate::api::auth::Credentials;

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
            location: None,
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

    fn error_text(c: &Client, method: &str, a: Answer, action: &str) -> String {
        match c.check(method, "u".to_owned(), a, action) {
            Ok(_) => panic!("a non-2xx answer passed the check"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_403_names_the_iam_action_and_a_0301_the_masked_ak_and_the_clock() {
        let c = client(aksk(), "p1");
        let body = r#"{"error_code":"DCS.2003","error_msg":"No permission."}"#;
        let e = error_text(&c, "DELETE", answer(403, body), "dcs:instance:delete");
        assert_eq!(
            e,
            "DELETE u: HTTP 403 DCS.2003: No permission. (request id rid-1)\n  hint: AK \
             AKEX…890A lacks the IAM permission `dcs:instance:delete` in project p1; ask an \
             administrator to grant it"
        );
        let body = r#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: verify aksk signature fail","request_id":"gw-9"}"#;
        let e = error_text(&c, "GET", answer(401, body), "dcs:instance:list");
        assert!(e.contains("(request id gw-9)"), "{e}");
        assert!(e.contains("the signature or token was rejected"), "{e}");
        assert!(e.contains("AK AKEX…890A"), "{e}");
        assert!(e.contains("X-Sdk-Date must be within 15 minutes"), "{e}");
        assert!(!e.contains("very-secret"), "{e}");
        let c = client(Auth::Token(SecretString::from("tok-secret")), "p1");
        let e = error_text(&c, "GET", answer(403, "{}"), "dcs:instance:list");
        assert!(
            e.contains("the auth token lacks the IAM permission `dcs:instance:list`"),
            "{e}"
        );
        assert!(!e.contains("tok-secret"), "{e}");
    }

    #[test]
    fn a_2xx_passes_and_a_redirect_names_its_location() {
        let c = client(aksk(), "p1");
        assert!(c.check("GET", "u".to_owned(), answer(204, ""), "a").is_ok());
        let mut a = answer(302, "");
        a.location = Some("https://login.example.com/sso".to_owned());
        let e = error_text(&c, "GET", a, "dcs:instance:list");
        assert!(
            e.starts_with(
                "GET u: HTTP 302: redirected to https://login.example.com/sso (redirects are \
                 not followed)"
            ),
            "{e}"
        );
        assert!(e.contains("hint: check the endpoint"), "{e}");
        let e = error_text(&c, "GET", answer(301, ""), "dcs:instance:list");
        assert!(e.contains("a redirect without a Location header"), "{e}");
    }

    #[test]
    fn server_text_is_scrubbed_in_messages_snippets_and_request_ids() {
        let c = client(aksk(), "p1");
        let body = r#"{"error_code":"APIGW.0301","error_msg":"unknown AK AKEXAMPLE1234567890A, sk very-secret-sk-value","request_id":"very-secret-sk-value"}"#;
        let e = error_text(&c, "GET", answer(401, body), "dcs:instance:list");
        assert!(!e.contains("very-secret"), "{e}");
        assert!(!e.contains("AKEXAMPLE1234567890A"), "{e}");
        assert!(e.contains("unknown AK AKEX…890A"), "{e}");
        // The secret straddles the 200-character cut of the snippet.
        let html = format!("{}very-secret-sk-value</html>", "x".repeat(190));
        let e = error_text(&c, "GET", answer(502, &html), "dcs:instance:list");
        assert!(!e.contains("very-sec"), "{e}");
    }

    #[test]
    fn snippets_are_short_and_single_line() {
        let c = client(aksk(), "p1");
        assert_eq!(c.snippet(b""), "(empty)");
        assert_eq!(c.snippet(b"<html>\n502</html>"), "<html> 502</html>");
        let long = vec![b'a'; 500];
        assert_eq!(c.snippet(&long).chars().count(), 201);
    }
}
