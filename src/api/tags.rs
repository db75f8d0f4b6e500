//! Instance tags: `POST /v2/{project_id}/dcs/{instance_id}/tags/action` (dcs-api.md §10).

use serde::Serialize;

use super::client::Client;
use crate::error::{Error, Result};

/// The IAM permission tag changes need.
pub const TAG_ACTION: &str = "dcs:tag:modify";

#[derive(Serialize)]
struct TagBody<'a> {
    action: &'static str,
    tags: Vec<Tag<'a>>,
}

#[derive(Serialize)]
struct Tag<'a> {
    key: &'a str,
    value: &'a str,
}

/// The body of a tag action: `{"action": "create"|"delete", "tags": [{"key", "value"}]}`.
fn tag_body(create: bool, tags: &[(String, String)]) -> Result<Vec<u8>> {
    serde_json::to_vec(&TagBody {
        action: if create { "create" } else { "delete" },
        tags: tags.iter().map(|(key, value)| Tag { key, value }).collect(),
    })
    .map_err(|e| Error::Internal(format!("cannot encode the tag body: {e}")))
}

impl Client {
    /// Adds (`create: true`) or removes `tags` on `instance_id`. The API answers 204; a
    /// throttled request (429) is resent, nothing else is.
    pub async fn tag_action(
        &self,
        instance_id: &str,
        create: bool,
        tags: &[(String, String)],
    ) -> Result<()> {
        let path = format!(
            "/v2/{}/dcs/{}/tags/action",
            self.project(),
            super::sign::encode(instance_id)
        );
        let body = tag_body(create, tags)?;
        let (url, answer) = self
            .send_with_retry(
                reqwest::Method::POST,
                &path,
                &[],
                Some((body, "application/json;charset=UTF-8")),
            )
            .await?;
        self.check("POST", url, answer, TAG_ACTION)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_is_the_sdks() -> Result<()> {
        let tags = [(
            "dcs-reconcile:pending-delete".to_owned(),
            "2026-12-01T00:00:00Z".to_owned(),
        )];
        assert_eq!(
            String::from_utf8_lossy(&tag_body(true, &tags)?),
            r#"{"action":"create","tags":[{"key":"dcs-reconcile:pending-delete","value":"2026-12-01T00:00:00Z"}]}"#
        );
        assert!(
            String::from_utf8_lossy(&tag_body(false, &tags)?).starts_with(r#"{"action":"delete","#)
        );
        Ok(())
    }

    fn client(url: url::Url) -> Result<Client> {
        let auth = super::super::Auth::Token(secrecy::SecretString::from("tok"));
        Client::new(
            url,
            "p1".to_owned(),
            auth,
            &super::super::ClientOptions::default(),
        )
    }

    #[tokio::test]
    async fn a_tag_action_posts_the_body_and_a_403_names_the_permission() -> Result<()> {
        let (url, log) = super::super::testing::serve(|r| {
            if r.path.contains("/bad/") {
                (403, "{}".to_owned())
            } else {
                (204, String::new())
            }
        })
        .await;
        let c = client(url)?;
        let tags = [("k".to_owned(), "v".to_owned())];
        c.tag_action("i-1", false, &tags).await?;
        let seen = super::super::testing::seen(&log);
        assert_eq!(seen[0].method, "POST");
        assert_eq!(seen[0].path, "/v2/p1/dcs/i-1/tags/action");
        assert_eq!(
            seen[0].body,
            r#"{"action":"delete","tags":[{"key":"k","value":"v"}]}"#
        );
        let e = c
            .tag_action("bad", true, &tags)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("HTTP 403") && e.contains("`dcs:tag:modify`"),
            "{e}"
        );
        Ok(())
    }
}
