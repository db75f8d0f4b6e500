//! The environment variables the tool reads, as a snapshot that tests can build.

use std::collections::HashMap;

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
/// `DCS_RECONCILE_CREDENTIALS_SOURCE`: `auto` (the chain) or `metadata` (only the ECS metadata
/// service); `--credentials-source` overrides it.
pub const ENV_CREDENTIALS_SOURCE: &str = "DCS_RECONCILE_CREDENTIALS_SOURCE";
/// `DCS_RECONCILE_METADATA_ENDPOINT`: the metadata service's address instead of
/// `http://169.254.169.254`.
pub const ENV_METADATA_ENDPOINT: &str = "DCS_RECONCILE_METADATA_ENDPOINT";

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

    /// This environment with `name` set to `value`.
    pub fn with(&self, name: &str, value: &str) -> Env {
        let mut vars = self.vars.clone();
        vars.insert(name.to_owned(), value.to_owned());
        Env { vars }
    }

    /// A variable's value; empty counts as unset.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}
