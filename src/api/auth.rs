//! Who the requests are sent as: AK/SK [`Credentials`] or an IAM token ([`Auth`]), the headers
//! that prove it, and [`mask`] for showing an AK in messages.
//!
//! Nothing here formats a secret: `Debug` shows the AK masked and never the SK or a token, and
//! every header value built here is marked sensitive.

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use super::metadata::MetadataCredentials;
use super::sign::{self, SignInput};
use crate::error::{Error, Result};

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
    /// Signatures with the metadata service's temporary credentials, fetched again before
    /// they expire ([`Auth::current`]).
    Metadata(Arc<MetadataCredentials>),
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
            Auth::Metadata(m) => f.debug_tuple("Metadata").field(m).finish(),
        }
    }
}

impl Auth {
    /// Who the requests are sent as, for messages: `AK AKEX…890A` or `the auth token`.
    pub fn who(&self) -> String {
        match self {
            Auth::AkSk(c) => format!("AK {}", c.masked_ak()),
            Auth::Token(_) => "the auth token".to_owned(),
            Auth::Metadata(m) => match m.last() {
                Some(c) => format!(
                    "AK {} (temporary, from the metadata service)",
                    c.masked_ak()
                ),
                None => "the metadata service's temporary credentials".to_owned(),
            },
        }
    }

    /// The credentials to sign the next request with: these, or for [`Auth::Metadata`] the
    /// temporary ones, fetched when less than 40 minutes remain.
    pub async fn current(&self) -> Result<Auth> {
        match self {
            Auth::Metadata(m) => Ok(Auth::AkSk(m.credentials().await?)),
            other => Ok(other.clone()),
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
        let fetched;
        let auth = match self {
            Auth::Metadata(m) => {
                fetched = Auth::AkSk(m.last().ok_or_else(|| {
                    Error::Internal("no temporary credentials were fetched yet".to_owned())
                })?);
                &fetched
            }
            other => other,
        };
        match auth {
            Auth::Metadata(_) => Err(Error::Internal(
                "temporary credentials were not resolved".to_owned(),
            )),
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
}
