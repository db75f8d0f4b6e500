//! Settings resolved from the arguments, the manifest and the environment: where to send
//! requests and with which credentials. No network, no YAML.

use std::collections::HashMap;

use secrecy::SecretString;
use url::{Host, Url};

use crate::api::Credentials;
use crate::error::{Error, Result};
use crate::manifest::Manifest;

/// `HUAWEICLOUD_SDK_AK`: access key id, as the official SDKs name it.
pub const ENV_AK: &str = "HUAWEICLOUD_SDK_AK";
/// `HUAWEICLOUD_SDK_SK`: secret access key.
pub const ENV_SK: &str = "HUAWEICLOUD_SDK_SK";
/// `HUAWEICLOUD_SDK_SECURITY_TOKEN`: security token of temporary credentials.
pub const ENV_SECURITY_TOKEN: &str = "HUAWEICLOUD_SDK_SECURITY_TOKEN";

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
            "{origin}: endpoint `{raw}` must not have a query or fragment"
        )));
    }
    Ok(url)
}

/// Resolves endpoint and project id: command line first, then the manifest.
pub fn resolve_target(
    cli_endpoint: Option<&str>,
    cli_project: Option<&str>,
    manifest: &Manifest,
) -> Result<Target> {
    let file = manifest.path.display();
    let endpoint = if let Some(e) = cli_endpoint {
        check_endpoint(e, "--endpoint")?
    } else if let Some(e) = &manifest.endpoint {
        check_endpoint(e, &format!("{file}: endpoint"))?
    } else if let Some(region) = &manifest.region {
        check_endpoint(&region_endpoint(region), &format!("{file}: region"))?
    } else {
        return Err(Error::Usage(format!(
            "{file}: no endpoint: set `region:` (or `endpoint:`) in the manifest, or pass --endpoint"
        )));
    };
    let project_id = cli_project
        .map(str::to_owned)
        .or_else(|| manifest.project_id.clone())
        .filter(|p| !p.trim().is_empty())
        .ok_or_else(|| {
            Error::Usage(format!(
                "{file}: no project id: set `project_id:` in the manifest or pass --project-id"
            ))
        })?;
    if !project_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(Error::Usage(format!(
            "invalid project id `{project_id}`: expected letters, digits, `-` or `_`"
        )));
    }
    Ok(Target {
        endpoint,
        project_id,
    })
}

/// AK/SK credentials from the environment, as the official SDKs name them.
pub fn credentials(env: &Env) -> Result<Credentials> {
    match (env.get(ENV_AK), env.get(ENV_SK)) {
        (Some(ak), Some(sk)) => Ok(Credentials {
            ak: ak.to_owned(),
            sk: SecretString::from(sk.to_owned()),
            security_token: env
                .get(ENV_SECURITY_TOKEN)
                .map(|t| SecretString::from(t.to_owned())),
        }),
        (Some(_), None) => Err(Error::Credentials(format!(
            "{ENV_AK} is set but {ENV_SK} is not: set both"
        ))),
        (None, Some(_)) => Err(Error::Credentials(format!(
            "{ENV_SK} is set but {ENV_AK} is not: set both"
        ))),
        (None, None) => Err(Error::Credentials(format!(
            "no credentials: set {ENV_AK} and {ENV_SK} (and {ENV_SECURITY_TOKEN} for temporary \
             credentials)"
        ))),
    }
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
        ] {
            assert!(check_endpoint(bad, "t").is_err(), "{bad}");
        }
        assert!(
            err(check_endpoint("http://dcs.example.com", "--endpoint"))
                .contains("refusing plain http://")
        );
    }

    #[test]
    fn missing_endpoint_or_project_is_an_error() {
        assert!(
            err(resolve_target(None, None, &manifest(None, None, Some("p"))))
                .contains("no endpoint")
        );
        assert!(
            err(resolve_target(None, None, &manifest(Some("r"), None, None)))
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
    fn credentials_need_both_keys() -> Result<()> {
        let c = credentials(&Env::from_pairs([
            (ENV_AK, "AKEXAMPLE1234567890A"),
            (ENV_SK, "s"),
        ]))?;
        assert_eq!(c.ak, "AKEXAMPLE1234567890A");
        assert!(c.security_token.is_none());
        let c = credentials(&Env::from_pairs([
            (ENV_AK, "a"),
            (ENV_SK, "s"),
            (ENV_SECURITY_TOKEN, "t"),
        ]))?;
        assert!(c.security_token.is_some());
        assert!(
            err(credentials(&Env::from_pairs([(ENV_AK, "a")])))
                .contains("HUAWEICLOUD_SDK_SK is not")
        );
        assert!(err(credentials(&Env::from_pairs([]))).contains("no credentials"));
        assert!(
            err(credentials(&Env::from_pairs([
                (ENV_AK, "a"),
                (ENV_SK, " ")
            ])))
            .contains("is not")
        );
        Ok(())
    }

    #[test]
    fn env_debug_shows_no_values() {
        let e = Env::from_pairs([(ENV_SK, "super-secret")]);
        assert!(!format!("{e:?}").contains("super-secret"));
    }
}
