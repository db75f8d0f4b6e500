//! The credential chain: the official SDKs' environment variables, the Terraform provider's,
//! the SDK credentials file, and an IAM token (`HW_AUTH_TOKEN`), tried in that order. A source
//! that is only partly set is an error, never skipped. Opt-in only
//! (`DCS_RECONCILE_CREDENTIALS_SOURCE=metadata`, `--credentials-source metadata`): the ECS
//! metadata service's temporary credentials, and then no other source. See
//! docs/authentication.md.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use secrecy::SecretString;

use super::env::*;
use super::ini::{Section, parse_ini};
use super::target::Sourced;
use crate::api::metadata::{MetadataCredentials, metadata_endpoint};
use crate::api::{Auth, Credentials};
use crate::error::{Error, Result};

/// The section of the credentials file that holds AK/SK credentials.
pub const FILE_SECTION: &str = "basic";

/// A credentials file larger than this is refused.
const MAX_CREDENTIALS_FILE_BYTES: u64 = 1024 * 1024;

/// The credential source that supplied the credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `HUAWEICLOUD_SDK_AK`/`HUAWEICLOUD_SDK_SK`.
    SdkEnv,
    /// `HW_ACCESS_KEY`/`HW_SECRET_KEY`.
    TerraformEnv,
    /// `[basic]` of the SDK credentials file.
    File(PathBuf),
    /// `HW_AUTH_TOKEN`.
    AuthToken,
    /// The ECS metadata service at `endpoint`; `expires_at` once credentials were fetched.
    Metadata {
        /// The metadata service's address.
        endpoint: String,
        /// When the credentials last fetched expire (RFC 3339).
        expires_at: Option<String>,
    },
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::SdkEnv => write!(f, "environment ({ENV_AK}, {ENV_SK})"),
            Source::TerraformEnv => write!(f, "environment ({ENV_HW_AK}, {ENV_HW_SK})"),
            Source::File(p) => write!(f, "credentials file {} [{FILE_SECTION}]", p.display()),
            Source::AuthToken => write!(f, "environment ({ENV_HW_AUTH_TOKEN})"),
            Source::Metadata {
                expires_at: Some(at),
                ..
            } => write!(f, "metadata (temporary credentials, expire at {at})"),
            Source::Metadata { endpoint, .. } => {
                write!(f, "metadata service {endpoint} (temporary credentials)")
            }
        }
    }
}

/// What the credential chain found. `Debug` never shows a secret.
#[derive(Debug, Clone)]
pub struct Chain {
    /// How requests authenticate.
    pub auth: Auth,
    /// Which source supplied it.
    pub source: Source,
    /// Where the security token came from, when there is one.
    pub security_token_origin: Option<String>,
    /// The project id the source holds, if any.
    pub project_id: Option<Sourced<String>>,
    /// The IAM endpoint the source (or `HUAWEICLOUD_SDK_IAM_ENDPOINT`) names, if any.
    pub iam_endpoint: Option<Sourced<String>>,
}

/// The variable names of one environment source.
struct EnvNames {
    ak: &'static str,
    sk: &'static str,
    token: &'static str,
    project: &'static str,
    source: Source,
}

/// The IAM endpoint named in the environment.
fn env_iam_endpoint(env: &Env) -> Option<Sourced<String>> {
    env.get(ENV_IAM_ENDPOINT)
        .map(|v| Sourced::new(v.trim().to_owned(), ENV_IAM_ENDPOINT))
}

/// AK/SK `ak`, `sk` plus an optional security token, or the one-line error of a partial source.
/// `None`: the source holds none of them.
fn complete_pair(
    ak: Option<&str>,
    sk: Option<&str>,
    token: Option<&str>,
    names: [&str; 3],
) -> Result<Option<Credentials>> {
    let [ak_name, sk_name, token_name] = names;
    match (ak, sk) {
        (Some(ak), Some(sk)) => Ok(Some(Credentials {
            ak: ak.trim().to_owned(),
            // A trailing newline (a file written with `echo`) is not part of the key.
            sk: SecretString::from(sk.trim().to_owned()),
            security_token: token.map(|t| SecretString::from(t.trim().to_owned())),
        })),
        (Some(_), None) => Err(Error::Credentials(format!(
            "{ak_name} is set but {sk_name} is not: set both"
        ))),
        (None, Some(_)) => Err(Error::Credentials(format!(
            "{sk_name} is set but {ak_name} is not: set both"
        ))),
        (None, None) if token.is_some() => Err(Error::Credentials(format!(
            "{token_name} is set but {ak_name} and {sk_name} are not: a security token is used \
             with the temporary AK/SK it was issued with; set all three"
        ))),
        (None, None) => Ok(None),
    }
}

fn env_source(env: &Env, names: EnvNames) -> Result<Option<Chain>> {
    let creds = complete_pair(
        env.get(names.ak),
        env.get(names.sk),
        env.get(names.token),
        [names.ak, names.sk, names.token],
    )?;
    Ok(creds.map(|c| Chain {
        security_token_origin: c.security_token.as_ref().map(|_| names.token.to_owned()),
        auth: Auth::AkSk(c),
        source: names.source,
        project_id: env
            .get(names.project)
            .map(|p| Sourced::new(p.trim().to_owned(), names.project)),
        iam_endpoint: env_iam_endpoint(env),
    }))
}

/// The credentials file: `HUAWEICLOUD_SDK_CREDENTIALS_FILE`, else `~/.huaweicloud/credentials`
/// (home from `HOME`, or `USERPROFILE` on Windows). `true` when named explicitly.
pub fn credentials_file(env: &Env) -> Option<(PathBuf, bool)> {
    if let Some(p) = env.get(ENV_CREDENTIALS_FILE) {
        return Some((PathBuf::from(p), true));
    }
    let home = env.get("HOME").or_else(|| env.get("USERPROFILE"))?;
    Some((
        PathBuf::from(home).join(".huaweicloud").join("credentials"),
        false,
    ))
}

/// One warning line (`-q` silences it) when the credentials file is readable by group or
/// others, as ssh warns about a private key.
fn warn_if_readable_by_others(meta: &std::fs::Metadata, shown: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode();
        if meta.is_file() && mode & 0o077 != 0 {
            tracing::warn!(
                "credentials file {shown} is readable by others (mode {:o}); make it private: \
                 chmod 600 {shown}",
                mode & 0o777
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (meta, shown);
}

fn file_source(env: &Env) -> Result<Option<Chain>> {
    let Some((path, explicit)) = credentials_file(env) else {
        return Ok(None);
    };
    let shown = path.display().to_string();
    let unreadable = |e: std::io::Error| {
        let named = if explicit {
            format!("{ENV_CREDENTIALS_FILE} names {shown}")
        } else {
            format!("credentials file {shown}")
        };
        Error::Credentials(format!("{named}, which cannot be read: {e}"))
    };
    let meta = match std::fs::metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => return Ok(None),
        Err(e) => return Err(unreadable(e)),
    };
    warn_if_readable_by_others(&meta, &shown);
    // Read at most one byte more than the limit, whatever the file is (a device or a FIFO
    // reports no size).
    let mut bytes = Vec::new();
    {
        use std::io::Read;
        std::fs::File::open(&path)
            .and_then(|f| {
                f.take(MAX_CREDENTIALS_FILE_BYTES + 1)
                    .read_to_end(&mut bytes)
            })
            .map_err(unreadable)?;
    }
    if bytes.len() as u64 > MAX_CREDENTIALS_FILE_BYTES {
        return Err(Error::Credentials(format!(
            "credentials file {shown} is larger than {MAX_CREDENTIALS_FILE_BYTES} bytes; that is \
             not a credentials file"
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::Credentials(format!("credentials file {shown} is not valid UTF-8")))?;
    let sections = parse_ini(&text)
        .map_err(|bad| Error::Credentials(format!("{shown}:{}: {}", bad.line, bad.why)))?;
    let empty = Section::new();
    let basic = sections.get(FILE_SECTION).unwrap_or(&empty);
    let get = |k: &str| basic.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let names = [
        format!("`ak` in [{FILE_SECTION}] of {shown}"),
        format!("`sk` in [{FILE_SECTION}] of {shown}"),
        format!("`security_token` in [{FILE_SECTION}] of {shown}"),
    ];
    let creds = complete_pair(
        get("ak"),
        get("sk"),
        get("security_token"),
        [&names[0], &names[1], &names[2]],
    )?;
    let Some(creds) = creds else {
        if explicit {
            return Err(Error::Credentials(format!(
                "{ENV_CREDENTIALS_FILE} names {shown}, which has no `ak` and `sk` in \
                 [{FILE_SECTION}]"
            )));
        }
        return Ok(None);
    };
    let origin = |k: &str| format!("`{k}` in [{FILE_SECTION}] of {shown}");
    Ok(Some(Chain {
        security_token_origin: creds
            .security_token
            .as_ref()
            .map(|_| origin("security_token")),
        auth: Auth::AkSk(creds),
        source: Source::File(path.clone()),
        project_id: get("project_id").map(|p| Sourced::new(p.to_owned(), origin("project_id"))),
        iam_endpoint: get("iam_endpoint")
            .map(|e| Sourced::new(e.to_owned(), origin("iam_endpoint")))
            .or_else(|| env_iam_endpoint(env)),
    }))
}

/// The metadata service's temporary credentials (fetched at the first request).
fn metadata_source(env: &Env) -> Result<Chain> {
    let endpoint = metadata_endpoint(env.get(ENV_METADATA_ENDPOINT), ENV_METADATA_ENDPOINT)?;
    let provider = MetadataCredentials::new(endpoint.clone())?;
    Ok(Chain {
        auth: Auth::Metadata(Arc::new(provider)),
        source: Source::Metadata {
            endpoint: endpoint.as_str().trim_end_matches('/').to_owned(),
            expires_at: None,
        },
        security_token_origin: Some("the metadata service".to_owned()),
        project_id: None,
        iam_endpoint: env_iam_endpoint(env),
    })
}

/// The credentials, from the first source that has any: the SDK's environment variables, the
/// Terraform provider's, the SDK credentials file, `HW_AUTH_TOKEN`. A partial source is an
/// error naming the variables it looked for; so is finding none. With
/// `DCS_RECONCILE_CREDENTIALS_SOURCE=metadata`, only the metadata service.
pub fn credential_chain(env: &Env) -> Result<Chain> {
    match env.get(ENV_CREDENTIALS_SOURCE).map(str::trim) {
        None | Some("auto") => {}
        Some("metadata") => return metadata_source(env),
        Some(other) => {
            return Err(Error::Usage(format!(
                "{ENV_CREDENTIALS_SOURCE}={other}: expected `auto` or `metadata`"
            )));
        }
    }
    let sdk = EnvNames {
        ak: ENV_AK,
        sk: ENV_SK,
        token: ENV_SECURITY_TOKEN,
        project: ENV_PROJECT_ID,
        source: Source::SdkEnv,
    };
    if let Some(chain) = env_source(env, sdk)? {
        return Ok(chain);
    }
    let terraform = EnvNames {
        ak: ENV_HW_AK,
        sk: ENV_HW_SK,
        token: ENV_HW_SECURITY_TOKEN,
        project: ENV_HW_PROJECT_ID,
        source: Source::TerraformEnv,
    };
    if let Some(chain) = env_source(env, terraform)? {
        return Ok(chain);
    }
    if let Some(chain) = file_source(env)? {
        return Ok(chain);
    }
    if let Some(token) = env.get(ENV_HW_AUTH_TOKEN) {
        return Ok(Chain {
            auth: Auth::Token(SecretString::from(token.trim().to_owned())),
            source: Source::AuthToken,
            security_token_origin: None,
            project_id: env
                .get(ENV_HW_PROJECT_ID)
                .map(|p| Sourced::new(p.trim().to_owned(), ENV_HW_PROJECT_ID)),
            iam_endpoint: env_iam_endpoint(env),
        });
    }
    let file = match credentials_file(env) {
        Some((p, _)) => p.display().to_string(),
        None => "~/.huaweicloud/credentials".to_owned(),
    };
    Err(Error::Credentials(format!(
        "no credentials: set {ENV_AK} and {ENV_SK} (and {ENV_SECURITY_TOKEN} for temporary \
         credentials), or {ENV_HW_AK} and {ENV_HW_SK}, or `ak` and `sk` in [{FILE_SECTION}] of \
         {file} ({ENV_CREDENTIALS_FILE}), or {ENV_HW_AUTH_TOKEN}; see docs/authentication.md"
    )))
}
