//! Batch deletion: `DELETE /v2/{project_id}/instances` with at most [`DELETE_BATCH_MAX`] ids,
//! and what the answer says about each of them.
//!
//! Only the facts of the answer are reported ([`ItemResult`]); what to do about an unknown
//! outcome (list again, wait) is the caller's business. A delete is resent only when the
//! gateway throttled it (429), never after a 5xx or a timeout (see [`super::retry`]).

use tracing::warn;

use super::DELETE_BATCH_MAX;
use super::client::Client;
use super::wire::{BatchDeleteBody, BatchDeleteResponse};
use crate::error::{Error, Result};

/// What a 2xx batch-delete answer says about one requested id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemResult {
    /// `result: success`: the API accepted the deletion (it completes asynchronously).
    Success,
    /// Any other `result`: what the API said for this id.
    Failed(String),
    /// The answer has no result for this id (or no `results` at all): the outcome is
    /// UNKNOWN, not a failure; only a fresh listing can tell.
    Absent,
}

impl Client {
    /// Deletes `ids` (at most [`DELETE_BATCH_MAX`]) in one `DELETE /v2/{project_id}/instances`
    /// and returns what the answer says about each, in the order of `ids`. `recycle: true`
    /// sends the instances to the recycle bin (`"is_recycle": true` in the body); `false`
    /// sends the body without the field. A region that does not know the field answers 400:
    /// see [`crate::error::ApiError::rejects_recycle`].
    pub async fn delete_batch(
        &self,
        ids: &[String],
        recycle: bool,
    ) -> Result<Vec<(String, ItemResult)>> {
        if ids.len() > DELETE_BATCH_MAX {
            return Err(Error::Internal(format!(
                "a batch of {} ids exceeds the API's cap of {DELETE_BATCH_MAX}",
                ids.len()
            )));
        }
        let body = serde_json::to_vec(&BatchDeleteBody {
            instances: ids.to_vec(),
            is_recycle: recycle.then_some(true),
        })
        .map_err(|e| Error::Internal(format!("cannot encode the delete body: {e}")))?;
        let query = vec![("all_failure".to_owned(), "false".to_owned())];
        let path = self.instances_path();
        let (url, answer) = self
            .send_with_retry(
                reqwest::Method::DELETE,
                &path,
                &query,
                Some((body, "application/json;charset=UTF-8")),
            )
            .await?;
        let (url, answer) = self.check("DELETE", url, answer, "dcs:instance:delete")?;
        let parsed: BatchDeleteResponse = serde_json::from_slice(&answer.body)
            .map_err(|e| self.decode_error("DELETE", &url, &answer, &e.to_string()))?;
        let rid = answer.request_id_suffix();
        let out = ids
            .iter()
            .map(|id| {
                let result = parsed
                    .results
                    .iter()
                    .find(|r| r.instance.as_deref() == Some(id.as_str()));
                let item = match result.and_then(|r| r.result.as_deref()) {
                    Some("success") => ItemResult::Success,
                    Some(other) => ItemResult::Failed(format!(
                        "the API answered `{}`{rid}",
                        self.server_text(other)
                    )),
                    None => ItemResult::Absent,
                };
                (id.clone(), item)
            })
            .collect();
        for r in &parsed.results {
            if let Some(id) = &r.instance
                && !ids.contains(id)
            {
                warn!(
                    "the delete answer mentions {}, which was not in the request",
                    self.server_text(id)
                );
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_has_is_recycle_only_when_asked() -> serde_json::Result<()> {
        let body = |recycle: bool| {
            serde_json::to_string(&BatchDeleteBody {
                instances: vec!["a".to_owned(), "b".to_owned()],
                is_recycle: recycle.then_some(true),
            })
        };
        assert_eq!(body(false)?, r#"{"instances":["a","b"]}"#);
        assert_eq!(body(true)?, r#"{"instances":["a","b"],"is_recycle":true}"#);
        Ok(())
    }
}
