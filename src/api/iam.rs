//! The one IAM call the tool makes: finding the project id of a region, as the official SDKs
//! do when no project id is given (signed `GET {iam}/v3/projects?name=<region>`).

use serde_json::Value;
use url::Url;

use super::auth::Auth;
use super::client::{Client, ClientOptions};
use crate::error::{Error, Result};

/// The IAM permission the lookup needs.
pub const LIST_PROJECTS_ACTION: &str = "iam:projects:list";

/// Asks IAM at `iam` for the project named `region` and returns its id. Zero or several
/// matching projects is an error that says so. `iam` must already have passed
/// [`crate::config::check_endpoint`].
pub async fn project_id_of_region(
    iam: &Url,
    region: &str,
    auth: &Auth,
    options: &ClientOptions,
) -> Result<String> {
    let client = Client::unscoped(iam.clone(), auth.clone(), options)?;
    let query = vec![("name".to_owned(), region.to_owned())];
    let (url, answer) = client
        .send_with_retry(reqwest::Method::GET, "/v3/projects", &query, None)
        .await?;
    let (url, answer) = client.check("GET", url, answer, LIST_PROJECTS_ACTION)?;
    let trace = answer.request_id_suffix();
    let decode_error = |detail: String| client.decode_error("GET", &url, &answer, &detail);
    let doc: Value =
        serde_json::from_slice(&answer.body).map_err(|e| decode_error(e.to_string()))?;
    let projects = doc
        .get("projects")
        .and_then(Value::as_array)
        .ok_or_else(|| decode_error("no `projects` list".to_owned()))?;
    let ids: Vec<&str> = projects
        .iter()
        .filter_map(|p| p.get("id").and_then(Value::as_str))
        .collect();
    match ids.as_slice() {
        [id] => Ok((*id).to_owned()),
        [] => Err(Error::Credentials(format!(
            "GET {url}: IAM knows no project named `{region}` for {}{trace}; check the region, \
             or give the project id (`project_id:`, --project-id or HUAWEICLOUD_SDK_PROJECT_ID)",
            auth.who()
        ))),
        several => Err(Error::Credentials(format!(
            "GET {url}: IAM found {} projects named `{region}` ({}){trace}; choose one with \
             `project_id:`, --project-id or HUAWEICLOUD_SDK_PROJECT_ID",
            several.len(),
            several
                .iter()
                .map(|id| client.server_text(id))
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}
