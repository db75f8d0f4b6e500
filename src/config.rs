//! Settings resolved from the arguments, the manifest and the environment: where to send
//! requests and with which credentials, and where each setting came from. No network, no YAML.
//!
//! Credentials come from the first of these sources that has any (see
//! `docs/authentication.md`): the official SDKs' environment variables, the Terraform
//! provider's, the SDK credentials file, and an IAM token (`HW_AUTH_TOKEN`). A source that is
//! only partly set is an error, never skipped.

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use secrecy::SecretString;
use url::{Host, Url};

use crate::api::{Auth, Credentials};
use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// `HUAWEICLOUD_SDK_AK`: access key id, as the official SDKs name it.
pub const ENV_AK: &str = "HUAWEICLOUD_SDK_AK";
/// `HUAWEICLOUD_SDK_SK`: secret access key.
pub const ENV_SK: &str = "HUAWEICLOUD_SDK_SK";
/// `HUAWEICLOUD_SDK_SECURITY_TOKEN`: security token of temporary credentials.
pub const ENV_SECURITY_TOKEN: &str = "HUAWEICLOUD_SDK_SECURITY_TOKEN";
/// `HUAWEICLOUD_SDK_PROJECT_ID`: project id, with the SDK's AK/SK.
pub const ENV_PROJECT_ID: &str = "HUAWEICLOUD_SDK_PROJECT_ID";
/// `HUAWEICLOUD_SDK_IAM_ENDPOINT`: IAM endpoint for the project-id lookup.
pub const ENV_IAM_ENDPOINT: &str = "HUAWEICLOUD_SDK_IAM_ENDPOINT";
/// `HUAWEICLOUD_SDK_CREDENTIALS_FILE`: the SDK credentials file, instead of
/// `~/.huaweicloud/credentials`.
pub const ENV_CREDENTIALS_FILE: &str = "HUAWEICLOUD_SDK_CREDENTIALS_FILE";
/// `HW_ACCESS_KEY`: access key id, as the Terraform provider names it.
pub const ENV_HW_AK: &str = "HW_ACCESS_KEY";
/// `HW_SECRET_KEY`: secret access key (Terraform provider).
pub const ENV_HW_SK: &str = "HW_SECRET_KEY";
/// `HW_SECURITY_TOKEN`: security token of temporary credentials (Terraform provider).
pub const ENV_HW_SECURITY_TOKEN: &str = "HW_SECURITY_TOKEN";
/// `HW_PROJECT_ID`: project id (Terraform provider).
pub const ENV_HW_PROJECT_ID: &str = "HW_PROJECT_ID";
/// `HW_REGION_NAME`: region when the manifest has none (Terraform provider).
pub const ENV_HW_REGION: &str = "HW_REGION_NAME";
/// `HW_AUTH_TOKEN`: a project-scoped IAM token, sent as `X-Auth-Token` (Terraform provider).
pub const ENV_HW_AUTH_TOKEN: &str = "HW_AUTH_TOKEN";

/// The section of the credentials file that holds AK/SK credentials.
pub const FILE_SECTION: &str = "basic";

/// A credentials file larger than this is refused.
const MAX_CREDENTIALS_FILE_BYTES: u64 = 1024 * 1024;

/// A snapshot of the environment variables the tool reads.
#[derive(Clone, Default)]
pub struct Env {
    vars: HashMap<String, String>,
}

impl std::fmt::Debug for Env {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: values may be secrets.
        let mut names: Vec<&String> = self.vars.keys().collect();
        names.sort();
        f.debug_struct("Env").field("names", &names).finish()
    }
}

impl Env {
    /// The process environment (only variables whose value is valid UTF-8).
    pub fn from_process() -> Env {
        Env {
            vars: std::env::vars().collect(),
        }
    }

    /// An environment holding exactly `vars`.
    pub fn from_pairs<'a>(vars: impl IntoIterator<Item = (&'a str, &'a str)>) -> Env {
        Env {
            vars: vars
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        }
    }

    /// A variable's value; empty counts as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}

/// Where requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The DCS endpoint, e.g. `https://dcs.cn-north-4.myhuaweicloud.com`.
    pub endpoint: Url,
    /// The project id.
    pub project_id: String,
}

/// The default DCS endpoint of a region.
pub fn region_endpoint(region: &str) -> String {
    // The Terraform provider's rule: these European regions live under another domain.
    if region.starts_with("eu-west-1") {
        format!("https://dcs.{region}.myhuaweicloud.eu")
    } else {
        format!("https://dcs.{region}.myhuaweicloud.com")
    }
}

/// Parses an endpoint and refuses plain `http://` anywhere but on a loopback host.
pub fn check_endpoint(raw: &str, origin: &str) -> Result<Url> {
    let url = Url::parse(raw.trim())
        .map_err(|e| Error::Usage(format!("{origin}: invalid endpoint `{raw}`: {e}")))?;
    if !url.username().is_empty() || url.password().is_some() {
        // Not repeated: the part before `@` may be a secret.
        return Err(Error::Usage(format!(
            "{origin}: the endpoint must not hold a user name or password; credentials come \
             from the environment (see docs/authentication.md)"
        )));
    }
    let loopback = match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(Error::Usage(format!(
                "{origin}: refusing plain http:// to {}: credentials and deletions would cross \
                 the network unencrypted; use https:// (plain http is accepted only for \
                 loopback hosts such as the built-in emulator)",
                url.host_str().unwrap_or("?")
            )));
        }
        other => {
            return Err(Error::Usage(format!(
                "{origin}: endpoint `{raw}` has scheme `{other}`; expected https://"
            )));
        }
    }
    if url.host().is_none() {
        return Err(Error::Usage(format!(
            "{origin}: endpoint `{raw}` has no host"
        )));
    }
    if !matches!(url.path(), "" | "/") {
        return Err(Error::Usage(format!(
            "{origin}: endpoint `{raw}` has a path (`{}`); give only scheme, host and port: \
             requests go to <endpoint>/v2/<project_id>/instances",
            url.path()
        )));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(Error::Usage(format!(
            "{origin}: the endpoint must not have a query or fragment"
        )));
    }
    Ok(url)
}

/// The project id, or how to find it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProjectId {
    /// Given: on the command line, in the manifest or by the credential source.
    Known(Sourced<String>),
    /// Not given: ask IAM at `iam` for the project named `region`.
    Lookup {
        /// The region, which is also the project's name.
        region: String,
        /// The IAM endpoint (checked: https, or http to a loopback host).
        iam: Sourced<Url>,
    },
}

/// Everything known before any network call: credentials, endpoint, region and project id,
/// each with where it came from.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// Credentials and their source.
    pub chain: Chain,
    /// The DCS endpoint.
    pub endpoint: Sourced<Url>,
    /// The region, when known.
    pub region: Option<Sourced<String>>,
    /// The project id or how to look it up.
    pub project_id: ProjectId,
}

/// Checks that a project id holds only letters, digits, `-` and `_`.
pub fn check_project_id(project_id: &str) -> Result<()> {
    if project_id.is_empty()
        || !project_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::Usage(format!(
            "invalid project id `{project_id}`: expected letters, digits, `-` or `_`"
        )));
    }
    Ok(())
}

/// Resolves credentials, endpoint, region and project id without any network call.
///
/// Endpoint: `--endpoint`, the manifest's `endpoint:`, the region's default. Region: the
/// manifest's `region:`, `HW_REGION_NAME`. Project id: `--project-id`, the manifest's
/// `project_id:`, the credential source's, else an IAM lookup of the region.
pub fn resolve(
    cli_endpoint: Option<&str>,
    cli_project: Option<&str>,
    manifest: &Manifest,
    env: &Env,
) -> Result<Resolution> {
    let file = manifest.path.display();
    let region = match (&manifest.region, env.get(ENV_HW_REGION)) {
        (Some(r), _) => Some(Sourced::new(r.clone(), format!("{file}: region"))),
        (None, Some(r)) => Some(Sourced::new(r.trim().to_owned(), ENV_HW_REGION)),
        (None, None) => None,
    };
    if let Some(r) = &region {
        // The region becomes part of host names: `evil.example/x` must not.
        let valid = !r.value.is_empty()
            && r.value
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid {
            return Err(Error::Usage(format!(
                "{}: invalid region `{}`: expected lower-case letters, digits and `-`, e.g. \
                 cn-north-4",
                r.origin, r.value
            )));
        }
    }
    let endpoint = if let Some(e) = cli_endpoint {
        Sourced::new(check_endpoint(e, "--endpoint")?, "--endpoint")
    } else if let Some(e) = &manifest.endpoint {
        let origin = format!("{file}: endpoint");
        Sourced::new(check_endpoint(e, &origin)?, origin)
    } else if let Some(r) = &region {
        let origin = format!("default of region {} ({})", r.value, r.origin);
        Sourced::new(
            check_endpoint(&region_endpoint(&r.value), &r.origin)?,
            origin,
        )
    } else {
        return Err(Error::Usage(format!(
            "{file}: no endpoint: set `region:` (or `endpoint:`) in the manifest, set \
             {ENV_HW_REGION}, or pass --endpoint"
        )));
    };
    let chain = credential_chain(env)?;
    let given = cli_project
        .filter(|p| !p.trim().is_empty())
        .map(|p| Sourced::new(p.to_owned(), "--project-id"))
        .or_else(|| {
            manifest
                .project_id
                .as_ref()
                .map(|p| Sourced::new(p.clone(), format!("{file}: project_id")))
        })
        .or_else(|| chain.project_id.clone());
    let project_id = match (given, &region) {
        (Some(p), _) => {
            check_project_id(&p.value)?;
            ProjectId::Known(p)
        }
        (None, Some(r)) => {
            let iam = match &chain.iam_endpoint {
                Some(e) => Sourced::new(check_endpoint(&e.value, &e.origin)?, e.origin.clone()),
                None => Sourced::new(
                    check_endpoint(&crate::api::iam::region_iam_endpoint(&r.value), &r.origin)?,
                    format!("default of region {}", r.value),
                ),
            };
            ProjectId::Lookup {
                region: r.value.clone(),
                iam,
            }
        }
        (None, None) => {
            return Err(Error::Usage(format!(
                "{file}: no project id: set `project_id:` in the manifest, pass --project-id or \
                 set {ENV_PROJECT_ID} (or {ENV_HW_PROJECT_ID}, or `project_id` in the \
                 credentials file); or give a region (`region:` or {ENV_HW_REGION}) so that \
                 it can be looked up in IAM"
            )));
        }
    };
    Ok(Resolution {
        chain,
        endpoint,
        region,
        project_id,
    })
}

/// A setting and where it came from (`--project-id`, `dcs.yaml: region`, `HW_PROJECT_ID`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sourced<T> {
    /// The value.
    pub value: T,
    /// Where it came from, for `-v` and `whoami`.
    pub origin: String,
}

impl<T> Sourced<T> {
    /// `value` from `origin`.
    pub fn new(value: T, origin: impl Into<String>) -> Sourced<T> {
        Sourced {
            value,
            origin: origin.into(),
        }
    }
}

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
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::SdkEnv => write!(f, "environment ({ENV_AK}, {ENV_SK})"),
            Source::TerraformEnv => write!(f, "environment ({ENV_HW_AK}, {ENV_HW_SK})"),
            Source::File(p) => write!(f, "credentials file {} [{FILE_SECTION}]", p.display()),
            Source::AuthToken => write!(f, "environment ({ENV_HW_AUTH_TOKEN})"),
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
            sk: SecretString::from(sk.to_owned()),
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

/// One section of an INI file: lower-case keys to values.
type Section = HashMap<String, String>;

/// Parses an INI file as Python's `configparser` reads the SDK credentials file: `[section]`
/// headers, `key = value` or `key: value` lines (keys case-insensitive), `#`/`;` comment lines,
/// and a `[DEFAULT]` section whose keys every section inherits. The error is the number of a
/// line that is none of these; the line itself is never repeated (it may hold a secret).
fn parse_ini(text: &str) -> std::result::Result<HashMap<String, Section>, usize> {
    let mut sections: HashMap<String, Section> = HashMap::new();
    let mut current: Option<String> = None;
    for (i, line) in text.trim_start_matches('\u{feff}').lines().enumerate() {
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let name = name.trim().to_owned();
            sections.entry(name.clone()).or_default();
            current = Some(name);
            continue;
        }
        let Some(at) = t.find(['=', ':']) else {
            return Err(i + 1);
        };
        let Some(section) = &current else {
            return Err(i + 1);
        };
        let key = t[..at].trim().to_ascii_lowercase();
        if key.is_empty() {
            return Err(i + 1);
        }
        sections
            .entry(section.clone())
            .or_default()
            .insert(key, t[at + 1..].trim().to_owned());
    }
    if let Some(defaults) = sections.get("DEFAULT").cloned() {
        for (name, section) in sections.iter_mut() {
            if name != "DEFAULT" {
                for (k, v) in &defaults {
                    section.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    }
    Ok(sections)
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
    if meta.len() > MAX_CREDENTIALS_FILE_BYTES {
        return Err(Error::Credentials(format!(
            "credentials file {shown} is {} bytes; that is not a credentials file",
            meta.len()
        )));
    }
    let bytes = std::fs::read(&path).map_err(unreadable)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::Credentials(format!("credentials file {shown} is not valid UTF-8")))?;
    let sections = parse_ini(&text).map_err(|line| {
        Error::Credentials(format!(
            "{shown}:{line}: not an INI line (expected `[section]`, `key = value` or a comment)"
        ))
    })?;
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

/// The credentials, from the first source that has any: the SDK's environment variables, the
/// Terraform provider's, the SDK credentials file, `HW_AUTH_TOKEN`. A partial source is an
/// error naming the variables it looked for; so is finding none.
pub fn credential_chain(env: &Env) -> Result<Chain> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn manifest(region: Option<&str>, endpoint: Option<&str>, project: Option<&str>) -> Manifest {
        Manifest {
            path: PathBuf::from("dcs.yaml"),
            project_id: project.map(str::to_owned),
            region: region.map(str::to_owned),
            endpoint: endpoint.map(str::to_owned),
            ces_endpoint: None,
            instances: Vec::new(),
            rules: crate::model::Rules::default(),
            sha256: String::new(),
            text: String::new(),
        }
    }

    fn err(r: Result<impl std::fmt::Debug>) -> String {
        match r {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    const KEYS: [(&str, &str); 2] = [(ENV_AK, "AKEXAMPLE1234567890A"), (ENV_SK, "s")];

    fn resolve_target(
        cli_endpoint: Option<&str>,
        cli_project: Option<&str>,
        m: &Manifest,
    ) -> Result<Target> {
        let r = resolve(cli_endpoint, cli_project, m, &Env::from_pairs(KEYS))?;
        match r.project_id {
            ProjectId::Known(p) => Ok(Target {
                endpoint: r.endpoint.value,
                project_id: p.value,
            }),
            other => panic!("expected a known project id, got {other:?}"),
        }
    }

    #[test]
    fn an_endpoint_with_a_path_is_refused() {
        let e = err(check_endpoint(
            "https://dcs.example.com/prefix",
            "--endpoint",
        ));
        assert!(e.contains("has a path (`/prefix`)"), "{e}");
        assert!(check_endpoint("https://dcs.example.com/", "--endpoint").is_ok());
        assert!(check_endpoint("https://dcs.example.com", "--endpoint").is_ok());
    }

    #[test]
    fn region_gives_the_default_endpoint() -> Result<()> {
        let t = resolve_target(None, None, &manifest(Some("cn-north-4"), None, Some("p1")))?;
        assert_eq!(
            t.endpoint.as_str(),
            "https://dcs.cn-north-4.myhuaweicloud.com/"
        );
        assert_eq!(t.project_id, "p1");
        assert_eq!(
            region_endpoint("eu-west-101"),
            "https://dcs.eu-west-101.myhuaweicloud.eu"
        );
        assert_eq!(
            region_endpoint("eu-west-0"),
            "https://dcs.eu-west-0.myhuaweicloud.com"
        );
        Ok(())
    }

    #[test]
    fn command_line_overrides_the_manifest() -> Result<()> {
        let m = manifest(Some("cn-north-4"), Some("https://a.example"), Some("p1"));
        let t = resolve_target(Some("https://b.example:8443"), Some("p2"), &m)?;
        assert_eq!(t.endpoint.as_str(), "https://b.example:8443/");
        assert_eq!(t.project_id, "p2");
        let t = resolve_target(None, None, &m)?;
        assert_eq!(t.endpoint.as_str(), "https://a.example/");
        Ok(())
    }

    #[test]
    fn plain_http_only_on_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://127.5.6.7",
            "http://[::1]:9000",
            "http://localhost:1",
            "https://dcs.example.com",
        ] {
            assert!(check_endpoint(ok, "t").is_ok(), "{ok}");
        }
        for bad in [
            "http://10.0.0.1",
            "http://dcs.example.com",
            "ftp://127.0.0.1",
            "http://127.0.0.1.example.com",
            "http://[::ffff:10.0.0.1]",
        ] {
            assert!(check_endpoint(bad, "t").is_err(), "{bad}");
        }
        assert!(
            err(check_endpoint("http://dcs.example.com", "--endpoint"))
                .contains("refusing plain http://")
        );
    }

    #[test]
    fn endpoints_with_user_info_are_refused_without_repeating_it() {
        for bad in [
            "https://user:pa55word@dcs.example.com",
            "ftp://user:pa55word@dcs.example.com",
            "https://pa55word@dcs.example.com",
        ] {
            let e = err(check_endpoint(bad, "--endpoint"));
            assert!(e.contains("must not hold a user name or password"), "{e}");
            assert!(!e.contains("pa55word"), "{e}");
        }
        let e = err(check_endpoint("https://h.example/?token=pa55word", "t"));
        assert!(!e.contains("pa55word"), "{e}");
    }

    #[test]
    fn missing_endpoint_or_project_is_an_error() {
        assert!(
            err(resolve_target(None, None, &manifest(None, None, Some("p"))))
                .contains("no endpoint")
        );
        assert!(
            err(resolve(
                Some("https://x.example"),
                None,
                &manifest(None, None, None),
                &Env::from_pairs(KEYS)
            ))
            .contains("no project id")
        );
        assert!(
            err(resolve_target(
                None,
                Some("a/b"),
                &manifest(Some("r"), None, None)
            ))
            .contains("invalid project id")
        );
    }

    #[test]
    fn without_a_project_id_the_region_is_looked_up_in_iam() -> Result<()> {
        let env = Env::from_pairs(KEYS);
        let r = resolve(None, None, &manifest(Some("cn-north-4"), None, None), &env)?;
        assert_eq!(
            r.project_id,
            ProjectId::Lookup {
                region: "cn-north-4".to_owned(),
                iam: Sourced::new(
                    Url::parse("https://iam.cn-north-4.myhuaweicloud.com")
                        .unwrap_or_else(|e| panic!("{e}")),
                    "default of region cn-north-4"
                ),
            }
        );
        let env = Env::from_pairs([
            KEYS[0],
            KEYS[1],
            (ENV_IAM_ENDPOINT, "http://iam.example.com"),
        ]);
        let e = err(resolve(
            None,
            None,
            &manifest(Some("cn-north-4"), None, None),
            &env,
        ));
        assert!(
            e.starts_with(
                "HUAWEICLOUD_SDK_IAM_ENDPOINT: refusing plain http:// to iam.example.com"
            ),
            "{e}"
        );
        // HW_REGION_NAME gives the region when the manifest has none.
        let env = Env::from_pairs([KEYS[0], KEYS[1], (ENV_HW_REGION, "ap-southeast-1")]);
        let r = resolve(None, None, &manifest(None, None, None), &env)?;
        assert_eq!(
            r.endpoint.value.as_str(),
            "https://dcs.ap-southeast-1.myhuaweicloud.com/"
        );
        assert_eq!(r.region.map(|r| r.origin), Some(ENV_HW_REGION.to_owned()));
        // A region cannot smuggle another host into the endpoint.
        let env = Env::from_pairs([KEYS[0], KEYS[1], (ENV_HW_REGION, "evil.example/x")]);
        let e = err(resolve(None, None, &manifest(None, None, Some("p")), &env));
        assert!(
            e.starts_with("HW_REGION_NAME: invalid region `evil.example/x`"),
            "{e}"
        );
        let e = err(resolve_target(
            None,
            None,
            &manifest(Some("A B"), None, Some("p")),
        ));
        assert!(e.starts_with("dcs.yaml: region: invalid region"), "{e}");
        Ok(())
    }

    #[test]
    fn project_ids_come_from_the_winning_source_after_cli_and_manifest() -> Result<()> {
        let env = Env::from_pairs([KEYS[0], KEYS[1], (ENV_PROJECT_ID, "fromenv")]);
        let m = manifest(Some("cn-north-4"), None, None);
        let r = resolve(None, None, &m, &env)?;
        assert_eq!(
            r.project_id,
            ProjectId::Known(Sourced::new("fromenv".to_owned(), ENV_PROJECT_ID))
        );
        let r = resolve(None, None, &manifest(Some("r"), None, Some("p1")), &env)?;
        assert!(matches!(r.project_id, ProjectId::Known(p) if p.value == "p1"));
        Ok(())
    }

    fn chain(vars: &[(&str, &str)]) -> Result<Chain> {
        credential_chain(&Env::from_pairs(vars.iter().copied()))
    }

    #[test]
    fn credentials_need_both_keys() -> Result<()> {
        let c = chain(&KEYS)?;
        assert_eq!(c.source, Source::SdkEnv);
        assert!(matches!(&c.auth, Auth::AkSk(k) if k.ak == "AKEXAMPLE1234567890A"));
        assert!(c.security_token_origin.is_none());
        let c = chain(&[(ENV_AK, "a"), (ENV_SK, "s"), (ENV_SECURITY_TOKEN, "t")])?;
        assert_eq!(c.security_token_origin.as_deref(), Some(ENV_SECURITY_TOKEN));
        assert!(err(chain(&[(ENV_AK, "a")])).contains("HUAWEICLOUD_SDK_SK is not"));
        assert!(err(chain(&[])).contains("no credentials"));
        assert!(err(chain(&[(ENV_AK, "a"), (ENV_SK, " ")])).contains("is not"));
        Ok(())
    }

    #[test]
    fn sources_are_tried_in_order_and_partial_ones_are_errors() -> Result<()> {
        let c = chain(&[(ENV_HW_AK, "a"), (ENV_HW_SK, "s"), (ENV_HW_AUTH_TOKEN, "t")])?;
        assert_eq!(c.source, Source::TerraformEnv);
        let c = chain(&[KEYS[0], KEYS[1], (ENV_HW_AK, "a"), (ENV_HW_SK, "s")])?;
        assert_eq!(c.source, Source::SdkEnv);
        let c = chain(&[(ENV_HW_AUTH_TOKEN, "t"), (ENV_HW_PROJECT_ID, "p")])?;
        assert_eq!(c.source, Source::AuthToken);
        assert!(matches!(c.auth, Auth::Token(_)));
        assert_eq!(c.project_id.map(|p| p.value), Some("p".to_owned()));
        // A partial source stops the chain rather than falling through to the next one.
        let e = err(chain(&[(ENV_HW_SK, "s"), (ENV_HW_AUTH_TOKEN, "t")]));
        assert_eq!(e, "HW_SECRET_KEY is set but HW_ACCESS_KEY is not: set both");
        let e = err(chain(&[
            (ENV_SECURITY_TOKEN, "t"),
            (ENV_HW_AK, "a"),
            (ENV_HW_SK, "s"),
        ]));
        assert!(
            e.starts_with("HUAWEICLOUD_SDK_SECURITY_TOKEN is set but"),
            "{e}"
        );
        let e = err(chain(&[]));
        for name in [
            ENV_AK,
            ENV_SK,
            ENV_HW_AK,
            ENV_HW_SK,
            ENV_HW_AUTH_TOKEN,
            ENV_CREDENTIALS_FILE,
        ] {
            assert!(e.contains(name), "{name}: {e}");
        }
        assert_eq!(e.lines().count(), 1);
        Ok(())
    }

    #[test]
    fn the_credentials_file_is_read_like_the_sdk_reads_it() -> Result<()> {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let home = dir.path().to_str().unwrap_or_else(|| panic!("path"));
        let folder = dir.path().join(".huaweicloud");
        std::fs::create_dir(&folder).unwrap_or_else(|e| panic!("{e}"));
        let file = folder.join("credentials");
        let write = |text: &str| std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
        write(
            "\u{feff}# comment\n[DEFAULT]\nproject_id = fromdefault\n\n[basic]\nAK = AKFILE000000000000001\n\
             sk: s=k:with=delims\nsecurity_token = tok\niam_endpoint = https://iam.example\n",
        );
        let c = chain(&[("HOME", home)])?;
        assert_eq!(c.source, Source::File(file.clone()));
        match &c.auth {
            Auth::AkSk(k) => {
                assert_eq!(k.ak, "AKFILE000000000000001");
                assert_eq!(
                    secrecy::ExposeSecret::expose_secret(&k.sk),
                    "s=k:with=delims"
                );
            }
            Auth::Token(_) => panic!("expected AK/SK"),
        }
        assert!(c.security_token_origin.is_some());
        assert_eq!(
            c.project_id.map(|p| p.value),
            Some("fromdefault".to_owned())
        );
        assert_eq!(
            c.iam_endpoint.map(|p| p.value),
            Some("https://iam.example".to_owned())
        );
        // The environment comes first.
        assert_eq!(
            chain(&[("HOME", home), KEYS[0], KEYS[1]])?.source,
            Source::SdkEnv
        );
        // Partial: an AK without an SK; a bad line is reported by number, never shown.
        write("[basic]\nak = a\n");
        let e = err(chain(&[("HOME", home)]));
        assert!(
            e.contains("`ak` in [basic] of") && e.contains("`sk` in [basic]"),
            "{e}"
        );
        write("[basic]\nak = a\nsecretline-without-delimiter\n");
        let e = err(chain(&[("HOME", home)]));
        assert!(
            e.ends_with(
                "credentials:3: not an INI line (expected `[section]`, `key = value` or a comment)"
            ),
            "{e}"
        );
        assert!(!e.contains("secretline"), "{e}");
        // A default file without [basic] credentials is no source; a named one is an error.
        write("[other]\nak = a\nsk = s\n");
        assert!(err(chain(&[("HOME", home)])).starts_with("no credentials"));
        let named = file.to_str().unwrap_or_else(|| panic!("path"));
        let e = err(chain(&[(ENV_CREDENTIALS_FILE, named)]));
        assert!(e.contains("has no `ak` and `sk` in [basic]"), "{e}");
        let e = err(chain(&[(ENV_CREDENTIALS_FILE, "/nonexistent/credentials")]));
        assert!(e.starts_with("HUAWEICLOUD_SDK_CREDENTIALS_FILE names /nonexistent/credentials, which cannot be read"), "{e}");
        Ok(())
    }

    #[test]
    fn env_debug_shows_no_values() {
        let e = Env::from_pairs([(ENV_SK, "super-secret")]);
        assert!(!format!("{e:?}").contains("super-secret"));
    }
}
