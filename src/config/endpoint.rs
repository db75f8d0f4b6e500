//! Endpoints: the one rule that makes a service's endpoint from a region (DCS, IAM and Cloud
//! Eye alike), and the checks every endpoint, region and project id passes before it is used.

use url::{Host, Url};

use crate::error::{Error, Result};

/// The default endpoint of `service` (`dcs`, `iam`, `ces`) in `region`. The Terraform
/// provider's rule: the European `eu-west-1xx` regions live under `myhuaweicloud.eu`.
pub fn region_endpoint(service: &str, region: &str) -> String {
    if region.starts_with("eu-west-1") {
        format!("https://{service}.{region}.myhuaweicloud.eu")
    } else {
        format!("https://{service}.{region}.myhuaweicloud.com")
    }
}

/// Checks a region name before it becomes part of a host name (`evil.example/x` must not):
/// lower-case letters, digits and `-`. `origin` names where it came from.
pub fn check_region(region: &str, origin: &str) -> Result<()> {
    let valid = !region.is_empty()
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(Error::Usage(format!(
            "{origin}: invalid region `{region}`: expected lower-case letters, digits and `-`, \
             e.g. cn-north-4"
        )))
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
