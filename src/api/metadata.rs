//! Temporary credentials from the ECS metadata service, as the official SDKs'
//! `MetadataAccessor` gets them, and their refresh.
//!
//! `PUT {metadata}/meta-data/latest/api/token` with `X-Metadata-Token-Ttl-Seconds: 21600` asks
//! for a session token (404, 405 and 503 mean the service has none: the requests go without
//! it, and it is asked again only after 24 hours). `GET {metadata}/openstack/latest/securitykey`
//! (with `X-Metadata-Token` when there is one; on a 401 a new session token is asked and the
//! request sent once more) answers `{"credential": {access, secret, securitytoken,
//! expires_at}}`. The credentials are fetched again when less than 40 minutes remain.
//!
//! Plain http is sent only to the metadata address itself or to a loopback override; the
//! session token, SK and security token are never formatted, and every one handed out is known
//! to the [`super::redact::Redactor`] of the clients that use them.

use std::fmt;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use time::OffsetDateTime;
use url::Url;

use super::auth::Credentials;
use super::redact::{clip, one_line};
use crate::error::{Error, Result};

/// The metadata service's address.
pub const DEFAULT_METADATA_ENDPOINT: &str = "http://169.254.169.254";
/// The session-token path.
pub const TOKEN_PATH: &str = "/meta-data/latest/api/token";
/// The temporary-credentials path.
pub const SECURITY_KEY_PATH: &str = "/openstack/latest/securitykey";
/// The lifetime asked for a session token (the SDK's: 6 hours).
pub const TOKEN_TTL_SECONDS: u32 = 6 * 60 * 60;
/// Credentials are fetched again when less than this remains (the SDK's threshold).
pub const REFRESH_BEFORE: Duration = Duration::from_secs(40 * 60);
/// How long after a failed session-token request it is asked again (the SDK's).
const TOKEN_RETRY_AFTER: Duration = Duration::from_secs(24 * 60 * 60);
/// The text of a 401 that no session token cures (no agency on the server).
const NO_AGENCY: &str = "Please configure Cloud Service Agency first";
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest answer read from the metadata service.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The metadata address to use: `value` (from `DCS_RECONCILE_METADATA_ENDPOINT`) or
/// [`DEFAULT_METADATA_ENDPOINT`]. Plain http is allowed only to 169.254.169.254 and to
/// loopback addresses (tests, a local proxy).
pub fn metadata_endpoint(value: Option<&str>, origin: &str) -> Result<Url> {
    let text = value.map_or(DEFAULT_METADATA_ENDPOINT, str::trim);
    let url = Url::parse(text)
        .map_err(|e| Error::Credentials(format!("{origin}: {text} is not a valid URL ({e})")))?;
    let host = url.host_str().unwrap_or_default();
    let ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .ok();
    let loopback = host == "localhost" || ip.is_some_and(|ip| ip.is_loopback());
    let metadata = ip == Some(IpAddr::from([169, 254, 169, 254]));
    match url.scheme() {
        "https" if !host.is_empty() => {}
        "http" if loopback || metadata => {}
        "http" => {
            return Err(Error::Credentials(format!(
                "{origin}: {text} is plain http to neither the metadata address \
                 ({DEFAULT_METADATA_ENDPOINT}) nor a loopback address; credentials are not \
                 fetched over it"
            )));
        }
        _ => {
            return Err(Error::Credentials(format!(
                "{origin}: {text} is not an http(s) URL with a host"
            )));
        }
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        return Err(Error::Credentials(format!(
            "{origin}: give only scheme, host and port (no user, password or query)"
        )));
    }
    Ok(url)
}

/// The credentials in use and when they expire.
#[derive(Clone)]
struct Current {
    credentials: Credentials,
    expires_at: OffsetDateTime,
}

/// What the provider remembers between fetches.
#[derive(Default)]
struct State {
    /// The session token, when the service gave one.
    token: Option<SecretString>,
    /// When a session token was last asked for.
    token_asked: Option<Instant>,
    current: Option<Current>,
    /// Every SK, security token and session token handed out, for redaction.
    seen: Vec<SecretString>,
    /// Every AK handed out, for masking.
    seen_aks: Vec<String>,
    fetches: usize,
}

/// A source of temporary credentials that refreshes them. `Debug` shows no secret.
pub struct MetadataCredentials {
    endpoint: Url,
    http: reqwest::Client,
    /// One fetch at a time: concurrent requests wait for it instead of each fetching.
    fetching: tokio::sync::Mutex<()>,
    state: Mutex<State>,
}

impl fmt::Debug for MetadataCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataCredentials")
            .field("endpoint", &self.endpoint.as_str())
            .field("expires_at", &self.expires_at())
            .finish_non_exhaustive()
    }
}

/// One answer of the metadata service.
struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl MetadataCredentials {
    /// A provider for the metadata service at `endpoint` (see [`metadata_endpoint`]). Nothing
    /// is fetched until credentials are first needed.
    pub fn new(endpoint: Url) -> Result<MetadataCredentials> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("dcs-reconcile/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .map_err(|e| Error::Internal(format!("cannot set up the HTTP client: {e}")))?;
        Ok(MetadataCredentials {
            endpoint,
            http,
            fetching: tokio::sync::Mutex::new(()),
            state: Mutex::new(State::default()),
        })
    }

    /// The metadata service's address.
    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// When the credentials last fetched expire (`None` before the first fetch).
    pub fn expires_at(&self) -> Option<OffsetDateTime> {
        self.lock().current.as_ref().map(|c| c.expires_at)
    }

    /// The credentials last fetched, without fetching.
    pub fn last(&self) -> Option<Credentials> {
        self.lock().current.as_ref().map(|c| c.credentials.clone())
    }

    /// How many times credentials were fetched.
    pub fn fetches(&self) -> usize {
        self.lock().fetches
    }

    /// Every secret handed out so far (SKs, security tokens, session tokens) and every AK.
    pub fn seen(&self) -> (Vec<SecretString>, Vec<String>) {
        let s = self.lock();
        (s.seen.clone(), s.seen_aks.clone())
    }

    /// Credentials with at least [`REFRESH_BEFORE`] left, fetched when the current ones have
    /// less (or there are none yet).
    pub async fn credentials(&self) -> Result<Credentials> {
        if let Some(c) = self.fresh() {
            return Ok(c);
        }
        let _one = self.fetching.lock().await;
        // Another request may have fetched them while this one waited.
        if let Some(c) = self.fresh() {
            return Ok(c);
        }
        let current = self.fetch().await?;
        let credentials = current.credentials.clone();
        let mut s = self.lock();
        s.seen.push(credentials.sk.clone());
        if let Some(t) = &credentials.security_token {
            s.seen.push(t.clone());
        }
        s.seen_aks.push(credentials.ak.clone());
        s.fetches = s.fetches.saturating_add(1);
        tracing::info!(
            "temporary credentials for AK {} from the metadata service, expire at {}",
            credentials.masked_ak(),
            format_time(current.expires_at)
        );
        s.current = Some(current);
        Ok(credentials)
    }

    fn fresh(&self) -> Option<Credentials> {
        let s = self.lock();
        let c = s.current.as_ref()?;
        let left = c.expires_at - OffsetDateTime::now_utc();
        (left >= REFRESH_BEFORE).then(|| c.credentials.clone())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint.as_str().trim_end_matches('/'))
    }

    async fn send(&self, request: reqwest::RequestBuilder, url: &str) -> Result<Answer> {
        let response = request.send().await.map_err(|e| {
            let why = if e.is_timeout() {
                "timed out".to_owned()
            } else if e.is_connect() {
                "cannot connect".to_owned()
            } else {
                one_line(&e.without_url().to_string())
            };
            Error::Credentials(format!(
                "the metadata service at {url} did not answer ({why}); --credentials-source \
                 metadata works only on an ECS or CCE node whose agency grants credentials \
                 (or set DCS_RECONCILE_METADATA_ENDPOINT)"
            ))
        })?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response.chunk().await.map_err(|e| {
            Error::Credentials(format!(
                "the metadata service at {url} broke off its answer: {}",
                one_line(&e.without_url().to_string())
            ))
        })? {
            if body.len().saturating_add(chunk.len()) > MAX_ANSWER_BYTES {
                return Err(Error::Credentials(format!(
                    "the metadata service at {url} sent more than {MAX_ANSWER_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Answer { status, body })
    }

    /// Asks for a session token. The service may have none (404, 405, 503): then, unless
    /// `required`, the requests go without one.
    async fn update_token(&self, required: bool) -> Result<()> {
        let url = self.url(TOKEN_PATH);
        self.lock().token_asked = Some(Instant::now());
        let request = self.http.put(&url).header(
            "X-Metadata-Token-Ttl-Seconds",
            TOKEN_TTL_SECONDS.to_string(),
        );
        let answer = self.send(request, &url).await?;
        match answer.status {
            200 => {
                let token = String::from_utf8_lossy(&answer.body).trim().to_owned();
                let mut s = self.lock();
                // An empty answer is no token: the request goes without one.
                s.token = (!token.is_empty()).then(|| SecretString::from(token.clone()));
                s.seen.push(SecretString::from(token));
                Ok(())
            }
            404 | 405 | 503 if !required => {
                tracing::debug!(
                    status = answer.status,
                    "the metadata service gives no session token; asking without one"
                );
                self.lock().token = None;
                Ok(())
            }
            status => Err(self.refusal(&url, status, &answer.body)),
        }
    }

    fn refusal(&self, url: &str, status: u16, body: &[u8]) -> Error {
        let text = String::from_utf8_lossy(body);
        // The answer of an error carries no credentials, but scrub what was handed out.
        let (seen, _) = self.seen();
        let mut text = one_line(&text);
        for s in &seen {
            let s = s.expose_secret();
            if !s.is_empty() {
                text = text.replace(s, super::redact::REDACTED);
            }
        }
        let hint = if status == 401 || status == 403 || text.contains(NO_AGENCY) {
            "; give the ECS instance (or CCE node) an agency, which is what the metadata \
             service hands out credentials for"
        } else {
            ""
        };
        Error::Credentials(format!(
            "the metadata service refused PUT/GET {url}: HTTP {status}: {}{hint}",
            clip(text.trim(), 200)
        ))
    }

    async fn get_security_key(&self, url: &str) -> Result<Answer> {
        let mut request = self.http.get(url);
        let token = self.lock().token.clone();
        if let Some(t) = token {
            let mut v =
                reqwest::header::HeaderValue::from_str(t.expose_secret()).map_err(|_| {
                    Error::Credentials(
                        "the metadata service's session token cannot be sent in a header"
                            .to_owned(),
                    )
                })?;
            v.set_sensitive(true);
            request = request.header("X-Metadata-Token", v);
        }
        self.send(request, url).await
    }

    async fn fetch(&self) -> Result<Current> {
        let ask_token = {
            let s = self.lock();
            s.token.is_none()
                && s.token_asked
                    .is_none_or(|t| t.elapsed() > TOKEN_RETRY_AFTER)
        };
        if ask_token {
            self.update_token(false).await?;
        }
        let url = self.url(SECURITY_KEY_PATH);
        let mut answer = self.get_security_key(&url).await?;
        if answer.status == 401 && !String::from_utf8_lossy(&answer.body).contains(NO_AGENCY) {
            self.update_token(true).await?;
            answer = self.get_security_key(&url).await?;
        }
        if answer.status >= 300 {
            return Err(self.refusal(&url, answer.status, &answer.body));
        }
        parse_security_key(&answer.body).map_err(|why| {
            Error::Credentials(format!("the metadata service's answer at {url} {why}"))
        })
    }
}

/// `time` as `2026-12-01T23:00:00Z`.
pub fn format_time(time: OffsetDateTime) -> String {
    time.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| time.to_string())
}

/// The credentials of a `securitykey` answer, with the field names the SDK accepts. The
/// error says what is wrong without quoting the answer (it holds secrets).
fn parse_security_key(body: &[u8]) -> std::result::Result<Current, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| "is not JSON".to_owned())?;
    let map = value
        .get("credential")
        .or_else(|| value.get("credentials"))
        .unwrap_or(&value);
    let field = |names: &[&str]| {
        names
            .iter()
            .find_map(|n| map.get(*n).and_then(serde_json::Value::as_str))
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let ak = field(&["access", "accessKeyId", "access_key_id"])
        .ok_or("has no `access` (access key id)")?;
    let sk = field(&["secret", "secretAccessKey", "secret_access_key"])
        .ok_or("has no `secret` (secret access key)")?;
    let token = field(&["securitytoken", "securityToken", "security_token"]);
    let expires = field(&["expires_at", "expiration"]).ok_or("has no `expires_at`")?;
    let expires_at = OffsetDateTime::parse(expires, &time::format_description::well_known::Rfc3339)
        .map_err(|_| format!("has an `expires_at` that is not an ISO time: {expires:?}"))?;
    Ok(Current {
        credentials: Credentials {
            ak: ak.to_owned(),
            sk: SecretString::from(sk.to_owned()),
            security_token: token.map(|t| SecretString::from(t.to_owned())),
        },
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_to_the_metadata_address_or_loopback() {
        assert!(metadata_endpoint(None, "default").is_ok());
        for ok in [
            "http://127.0.0.1:8080",
            "http://[::1]:1",
            "http://localhost:2",
            "https://meta.example",
        ] {
            assert!(metadata_endpoint(Some(ok), "x").is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "http://meta.example",
            "ftp://127.0.0.1",
            "http://u:p@127.0.0.1",
            "nonsense",
        ] {
            assert!(metadata_endpoint(Some(bad), "x").is_err(), "{bad}");
        }
    }

    #[test]
    fn the_sdk_field_names_are_read_and_secrets_never_quoted() {
        let body = br#"{"credential":{"access":"AKTEMP0000000000000A","secret":"sk-1",
            "securitytoken":"tok-1","expires_at":"2030-01-02T03:04:05.000000Z"}}"#;
        let c = parse_security_key(body).expect("parsed");
        assert_eq!(c.credentials.ak, "AKTEMP0000000000000A");
        assert_eq!(c.credentials.sk.expose_secret(), "sk-1");
        assert_eq!(c.expires_at.year(), 2030);
        let alt = br#"{"credentials":{"accessKeyId":"A","secretAccessKey":"S","expiration":"2030-01-02T03:04:05Z"}}"#;
        assert!(parse_security_key(alt).is_ok());
        let bad = br#"{"credential":{"access":"A","secret":"very-secret","expires_at":"soon"}}"#;
        let e = parse_security_key(bad).err().unwrap_or_default();
        assert!(
            e.contains("expires_at") && !e.contains("very-secret"),
            "{e}"
        );
        assert!(parse_security_key(b"<html>").is_err());
    }

    use crate::api::testing::{seen, serve};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn key(minutes: i64) -> String {
        let at = OffsetDateTime::now_utc() + time::Duration::minutes(minutes);
        format!(
            r#"{{"credential":{{"access":"AKTEMP0000000000000A","secret":"sk-fetched-secret",
            "securitytoken":"tok-fetched-secret","expires_at":"{}"}}}}"#,
            format_time(at)
        )
    }

    fn calls(log: &std::sync::Mutex<Vec<crate::api::testing::Seen>>) -> Vec<String> {
        seen(log)
            .iter()
            .map(|s| format!("{} {}", s.method, s.path))
            .collect()
    }

    #[tokio::test]
    async fn without_a_session_token_the_request_goes_without_one_and_it_is_not_asked_again() {
        let (url, log) = serve(|s| match s.method.as_str() {
            "PUT" => (404, "Not Found".to_owned()),
            _ => (200, key(30)),
        })
        .await;
        let m = MetadataCredentials::new(url).expect("client");
        let c = m.credentials().await.expect("credentials");
        assert_eq!(c.ak, "AKTEMP0000000000000A");
        // 30 minutes left is less than 40: fetched again, without a new PUT.
        m.credentials().await.expect("credentials");
        assert_eq!(
            calls(&log),
            [
                "PUT /meta-data/latest/api/token",
                "GET /openstack/latest/securitykey",
                "GET /openstack/latest/securitykey"
            ]
        );
        assert_eq!(m.fetches(), 2);
    }

    #[tokio::test]
    async fn a_401_asks_for_a_new_session_token_once_and_other_failures_are_errors() {
        let gets = Arc::new(AtomicUsize::new(0));
        let g = Arc::clone(&gets);
        let (url, log) = serve(move |s| match s.method.as_str() {
            "PUT" => (200, "session-token-secret".to_owned()),
            _ if g.fetch_add(1, Ordering::SeqCst) == 0 => (401, "Unauthorized".to_owned()),
            _ => (200, key(120)),
        })
        .await;
        let m = MetadataCredentials::new(url).expect("client");
        m.credentials().await.expect("credentials");
        // Two hours left: no new fetch.
        m.credentials().await.expect("credentials");
        assert_eq!(calls(&log).len(), 4, "{:?}", calls(&log));
        assert_eq!(m.fetches(), 1);

        let (url, _) = serve(|s| match s.method.as_str() {
            "PUT" => (500, "broken".to_owned()),
            _ => (200, key(120)),
        })
        .await;
        let e = MetadataCredentials::new(url.clone())
            .expect("client")
            .credentials()
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("HTTP 500") && e.contains(TOKEN_PATH), "{e}");

        let (url, log) = serve(|s| match s.method.as_str() {
            "PUT" => (200, "t".to_owned()),
            _ => (401, NO_AGENCY.to_owned()),
        })
        .await;
        let e = MetadataCredentials::new(url)
            .expect("client")
            .credentials()
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("HTTP 401") && e.contains("agency"), "{e}");
        assert_eq!(calls(&log).len(), 2, "no second try: {:?}", calls(&log));
    }

    #[tokio::test]
    async fn the_redactor_learns_every_secret_fetched_later() {
        let (url, _) = serve(|s| match s.method.as_str() {
            "PUT" => (200, "session-token-secret".to_owned()),
            _ => (200, key(120)),
        })
        .await;
        let m = Arc::new(MetadataCredentials::new(url).expect("client"));
        let auth = crate::api::Auth::Metadata(Arc::clone(&m));
        let redactor = crate::api::redact::Redactor::new(&auth, &[]);
        let text = "sk-fetched-secret tok-fetched-secret session-token-secret AKTEMP0000000000000A";
        assert_eq!(redactor.scrub(text), text, "nothing known yet");
        let signed = auth.current().await.expect("current");
        assert!(matches!(signed, crate::api::Auth::AkSk(_)));
        let out = redactor.scrub(text);
        for s in [
            "sk-fetched",
            "tok-fetched",
            "session-token",
            "AKTEMP0000000000000A",
        ] {
            assert!(!out.contains(s), "{s} in {out}");
        }
        assert!(out.contains("AKTE…000A"), "{out}");
        let shown = format!("{auth:?} {m:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(auth.who().contains("AKTE…000A"), "{}", auth.who());
    }
}
