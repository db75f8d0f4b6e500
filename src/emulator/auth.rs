//! How requests authenticate: an `X-Auth-Token`, or an `SDK-HMAC-SHA256` signature made with
//! the configured AK/SK or with the metadata service's temporary credentials (whose security
//! token must then be sent and signed).

use axum::http::HeaderMap;

use super::Inner;
use super::routes::Req;
use crate::api::sign::{self, SignInput};

/// A key pair the emulator accepts, with the security token it needs and when it expires.
struct Key<'a> {
    sk: &'a str,
    token: Option<&'a str>,
    expires: Option<time::OffsetDateTime>,
}

impl Inner {
    /// Checks how the request authenticates: a known `X-Auth-Token`, or a valid signature
    /// (with the security token signed, when the key needs one). With no credentials or
    /// token configured, anything goes.
    pub(super) fn authenticate(&self, req: &Req) -> Result<(), String> {
        let headers = &req.headers;
        if let Some(given) = headers.get("x-auth-token") {
            return match &self.config.auth_token {
                Some(want) if given.as_bytes() == want.as_bytes() => Ok(()),
                Some(_) => Err("the token is invalid or has expired".to_owned()),
                None => Err("token authentication is not accepted here".to_owned()),
            };
        }
        if self.config.credentials.is_none() && self.config.metadata_credentials.is_none() {
            return match self.config.auth_token {
                Some(_) => Err("the X-Auth-Token header is missing".to_owned()),
                None => Ok(()),
            };
        }
        let auth = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .ok_or("the Authorization header is missing")?;
        let parsed = sign::parse_authorization(auth)
            .ok_or("the Authorization header is not SDK-HMAC-SHA256")?;
        let key = self
            .key(&parsed.access)
            .ok_or("the access key is not known")?;
        verify_signature(key.sk, req, &parsed)?;
        let given = headers.get("x-security-token");
        if given.is_some()
            && !parsed
                .signed_headers
                .iter()
                .any(|h| h == "x-security-token")
        {
            return Err("X-Security-Token is not signed".to_owned());
        }
        match (key.token, given) {
            (Some(want), Some(given)) if given.as_bytes() == want.as_bytes() => {}
            (Some(_), Some(_)) => {
                return Err("the security token is invalid or has expired".to_owned());
            }
            (Some(_), None) => {
                return Err("temporary credentials need the X-Security-Token header".to_owned());
            }
            (None, Some(_)) => {
                return Err("a security token was sent with permanent credentials".to_owned());
            }
            (None, None) => {}
        }
        match key.expires {
            Some(at) if time::OffsetDateTime::now_utc() >= at => {
                Err("the security token has expired".to_owned())
            }
            _ => Ok(()),
        }
    }

    /// The key pair with access key `ak`: the configured one, or the metadata service's.
    fn key(&self, ak: &str) -> Option<Key<'_>> {
        if let Some((want, sk)) = &self.config.credentials
            && want == ak
        {
            return Some(Key {
                sk,
                token: self.config.security_token.as_deref(),
                expires: None,
            });
        }
        match &self.config.metadata_credentials {
            Some((want, sk, token)) if want == ak => Some(Key {
                sk,
                token: Some(token),
                expires: self.metadata_expires,
            }),
            _ => None,
        }
    }
}

/// Checks the `SDK-HMAC-SHA256` signature of a request against `sk`, as the API gateway
/// does: re-canonicalises whatever `SignedHeaders` lists.
fn verify_signature(sk: &str, req: &Req, parsed: &sign::ParsedAuthorization) -> Result<(), String> {
    let headers: &HeaderMap = &req.headers;
    if !parsed.signed_headers.iter().any(|h| h == "x-sdk-date") {
        return Err("X-Sdk-Date is not signed".to_owned());
    }
    let date = headers
        .get("x-sdk-date")
        .and_then(|v| v.to_str().ok())
        .ok_or("the X-Sdk-Date header is missing")?;
    let when = sign::parse_sdk_date(date).ok_or("the X-Sdk-Date header is malformed")?;
    let skew = (time::OffsetDateTime::now_utc() - when).abs();
    if skew > time::Duration::minutes(15) {
        return Err("the request has expired (X-Sdk-Date is more than 15 minutes off)".to_owned());
    }
    let header_pairs: Vec<(String, String)> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_owned(), v.to_str().ok()?.to_owned())))
        .collect();
    let query: Vec<(String, String)> = req
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (sign::decode(k), sign::decode(v))
        })
        .collect();
    let input = SignInput {
        method: req.method.as_str(),
        path: req.uri.path(),
        query: &query,
        headers: &header_pairs,
        body: &req.body,
    };
    let creq = sign::canonical_request_with(&input, &parsed.signed_headers);
    let expected = sign::signature(sk, &sign::string_to_sign(date, &creq));
    if expected == parsed.signature {
        Ok(())
    } else {
        Err("verify aksk signature fail".to_owned())
    }
}
