//! Scrubbing secrets out of text that came from the server.
//!
//! A gateway may echo the request headers back (in `error_msg`, in an HTML error page, in a
//! request id), and an "unknown AK" message names the AK. Every piece of server text goes
//! through [`Redactor::scrub`] before it becomes part of an error or a log line: each
//! occurrence of the SK, the security token, the auth token and any extra secret becomes
//! `(redacted)`, the full AK becomes the masked AK, and the value after `Signature=` becomes
//! `(redacted)`. Percent-encoded copies of the secrets are scrubbed too.

use std::fmt;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};

use super::auth::{Auth, mask};
use super::metadata::MetadataCredentials;
use crate::model::Shared;

/// What a secret is replaced with.
pub const REDACTED: &str = "(redacted)";

/// The secrets of one client and what each is replaced with. `Debug` shows only how many.
#[derive(Clone, Default)]
pub struct Redactor {
    /// (secret, replacement), longest secret first so that a secret containing another is
    /// replaced whole.
    secrets: Vec<(SecretString, String)>,
    /// Temporary credentials fetched during the run: every one handed out is scrubbed too.
    metadata: Option<Arc<MetadataCredentials>>,
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

impl Redactor {
    /// The secrets of `auth` (SK, security token, auth token; the AK is replaced by its masked
    /// form) plus `extra` ones.
    pub fn new(auth: &Auth, extra: &[SecretString]) -> Redactor {
        let mut secrets: Vec<(SecretString, String)> = Vec::new();
        let mut add = |secret: &str, replacement: String| push(&mut secrets, secret, replacement);
        let mut metadata = None;
        match auth {
            Auth::Metadata(m) => metadata = Some(Arc::clone(m)),
            Auth::AkSk(c) => {
                add(c.sk.expose_secret(), REDACTED.to_owned());
                if let Some(t) = &c.security_token {
                    add(t.expose_secret(), REDACTED.to_owned());
                }
                add(&c.ak, mask(&c.ak));
            }
            Auth::Token(t) => add(t.expose_secret(), REDACTED.to_owned()),
        }
        for s in extra {
            add(s.expose_secret(), REDACTED.to_owned());
        }
        secrets.sort_by_key(|(s, _)| std::cmp::Reverse(s.expose_secret().len()));
        Redactor { secrets, metadata }
    }

    /// Scrubs a field of the listing in place (a name, a status, a tag): a hostile server
    /// could echo a secret into an instance's name, which the plan prints. Costs a few
    /// substring searches when the field is clean, which it always is.
    pub fn scrub_field(&self, field: &mut String) {
        if self.may_hold_a_secret(field) {
            let scrubbed = self.scrub(field);
            if scrubbed != *field {
                *field = scrubbed;
            }
        }
    }

    /// [`Redactor::scrub_field`] for a text instances share: replaced by a scrubbed copy when
    /// it holds a secret (the others sharing it keep theirs, which each is scrubbed in turn).
    pub fn scrub_shared(&self, field: &mut Shared) {
        if self.may_hold_a_secret(field) {
            let scrubbed = self.scrub(field);
            if *scrubbed != **field {
                *field = Shared::from(scrubbed);
            }
        }
    }

    /// False when `text` certainly holds no secret and no `Signature=`: the quick test.
    fn may_hold_a_secret(&self, text: &str) -> bool {
        self.secrets
            .iter()
            .any(|(s, _)| text.contains(s.expose_secret()))
            || self.metadata.is_some()
            || text
                .as_bytes()
                .windows(10)
                .any(|w| w.eq_ignore_ascii_case(b"signature="))
    }

    /// `text` with every secret replaced and every `Signature=` value hidden.
    pub fn scrub(&self, text: &str) -> String {
        let mut out = replace_all(&self.secrets, text);
        if let Some(m) = &self.metadata {
            let (seen, aks) = m.seen();
            let mut secrets = Vec::new();
            for s in &seen {
                push(&mut secrets, s.expose_secret(), REDACTED.to_owned());
            }
            for ak in &aks {
                push(&mut secrets, ak, mask(ak));
            }
            secrets.sort_by_key(|(s, _)| std::cmp::Reverse(s.expose_secret().len()));
            out = replace_all(&secrets, &out);
        }
        hide_signatures(&out)
    }
}

/// Adds `secret` and its percent-encoded form, unless it is empty.
fn push(secrets: &mut Vec<(SecretString, String)>, secret: &str, replacement: String) {
    if secret.is_empty() {
        return;
    }
    let encoded = super::sign::encode(secret);
    if encoded != secret {
        secrets.push((SecretString::from(encoded), replacement.clone()));
    }
    secrets.push((SecretString::from(secret.to_owned()), replacement));
}

/// `text` with each secret of `secrets` (longest first) replaced.
fn replace_all(secrets: &[(SecretString, String)], text: &str) -> String {
    let mut out = text.to_owned();
    for (secret, replacement) in secrets {
        let secret = secret.expose_secret();
        if out.contains(secret) {
            out = out.replace(secret, replacement);
        }
    }
    out
}

/// Replaces the value after each `Signature=` (any case) with [`REDACTED`]: the signature
/// proves nothing to a reader, but it is the output of the SK and is never shown.
fn hide_signatures(text: &str) -> String {
    const KEY: &str = "signature=";
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = 0;
    let mut from = 0;
    while let Some(found) = lower[from..].find(KEY) {
        let value_start = from + found + KEY.len();
        let value_len = text[value_start..]
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(text.len() - value_start);
        out.push_str(&text[rest..value_start]);
        if value_len > 0 {
            out.push_str(REDACTED);
        }
        rest = value_start + value_len;
        from = rest;
    }
    out.push_str(&text[rest..]);
    out
}

/// `text` with every control character (newlines included) made a space.
pub(super) fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// At most `max` characters of `text`, with `…` when something was cut.
pub(super) fn clip(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::auth::Credentials;

    fn aksk() -> Auth {
        Auth::from(Credentials {
            ak: "AKEXAMPLE1234567890A".to_owned(),
            sk: SecretString::from("SK-secret/with+chars"),
            security_token: Some(SecretString::from("tok=en/value")),
        })
    }

    #[test]
    fn every_secret_and_its_encoded_form_is_scrubbed() {
        let r = Redactor::new(&aksk(), &[SecretString::from("plan-key-42")]);
        let text = "sk SK-secret/with+chars enc SK-secret%2Fwith%2Bchars tok tok=en/value \
                    tok%3Den%2Fvalue ak AKEXAMPLE1234567890A key plan-key-42";
        let out = r.scrub(text);
        for s in [
            "SK-secret",
            "tok=en",
            "tok%3D",
            "AKEXAMPLE1234567890A",
            "plan-key",
        ] {
            assert!(!out.contains(s), "{s} in {out}");
        }
        assert!(out.contains("ak AKEX…890A"), "{out}");
        assert!(!format!("{r:?}").contains("SK-secret"));
    }

    #[test]
    fn signatures_are_hidden_in_any_case() {
        let r = Redactor::default();
        assert_eq!(
            r.scrub("SDK-HMAC-SHA256 Access=x, SignedHeaders=host, Signature=0a1b2c; next"),
            "SDK-HMAC-SHA256 Access=x, SignedHeaders=host, Signature=(redacted); next"
        );
        assert_eq!(
            r.scrub("signature=ab SIGNATURE=cd signature="),
            "signature=(redacted) SIGNATURE=(redacted) signature="
        );
        assert_eq!(r.scrub("no secrets here: ü"), "no secrets here: ü");
    }

    #[test]
    fn text_is_clipped_on_characters_and_kept_on_one_line() {
        assert_eq!(clip("ééé", 2), "éé…");
        assert_eq!(clip("ab", 2), "ab");
        assert_eq!(one_line("a\nb\rc"), "a b c");
    }

    #[test]
    fn a_token_is_scrubbed_and_an_empty_secret_ignored() {
        let r = Redactor::new(
            &Auth::Token(SecretString::from("MIItoken")),
            &[SecretString::from(String::new())],
        );
        assert_eq!(
            r.scrub("X-Auth-Token: MIItoken!"),
            "X-Auth-Token: (redacted)!"
        );
    }
}
