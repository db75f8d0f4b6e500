//! IAM's `GET /v3/projects?name=` and the ECS metadata service's temporary credentials
//! (`PUT /meta-data/latest/api/token`, `GET /openstack/latest/securitykey`).

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::routes::{Answer, Reply, Req};
use super::{DEFAULT_METADATA_LIFETIME, DEFAULT_PROJECT_ID, DEFAULT_REGION, Inner};

/// `GET /v3/projects?name=`: the projects of that exact name.
pub(super) fn projects(inner: &mut Inner, req: &Req) -> Answer {
    let default;
    let all: &[(String, String)] = match &inner.config.iam_projects {
        Some(p) => p,
        None => {
            default = [(
                DEFAULT_REGION.to_owned(),
                inner
                    .config
                    .project_id
                    .clone()
                    .unwrap_or_else(|| DEFAULT_PROJECT_ID.to_owned()),
            )];
            &default
        }
    };
    let projects: Vec<Value> = all
        .iter()
        .filter(|(name, _)| req.param("name").is_none_or(|n| n == name))
        .map(|(name, id)| {
            json!({
                "id": id,
                "name": name,
                "domain_id": "d0000000000000000000000000000001",
                "parent_id": "d0000000000000000000000000000001",
                "is_domain": false,
                "enabled": true,
                "description": "",
                "links": { "self": format!("/v3/projects/{id}") },
            })
        })
        .collect();
    Answer::ok(json!({ "projects": projects, "links": { "self": "/v3/projects" } }))
}

fn metadata_off() -> Answer {
    Answer {
        status: StatusCode::NOT_FOUND,
        reply: Reply::Text("Not Found".to_owned()),
        note: Default::default(),
    }
}

/// `PUT /meta-data/latest/api/token` (header `X-Metadata-Token-Ttl-Seconds`, 1 to 21600):
/// a session token as plain text.
pub(super) fn metadata_token(inner: &mut Inner, req: &Req) -> Answer {
    if inner.config.metadata_credentials.is_none() {
        return metadata_off();
    }
    let ttl = req
        .headers
        .get("x-metadata-token-ttl-seconds")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u32>().ok());
    if !ttl.is_some_and(|t| (1..=21600).contains(&t)) {
        return Answer {
            status: StatusCode::BAD_REQUEST,
            reply: Reply::Text(
                "X-Metadata-Token-Ttl-Seconds must be between 1 and 21600".to_owned(),
            ),
            note: Default::default(),
        };
    }
    let token = format!("emu-metadata-token-{:016x}-{}", inner.seed, inner.counter);
    inner.metadata_tokens.0.push(token.clone());
    Answer {
        status: StatusCode::OK,
        reply: Reply::Text(token),
        note: Default::default(),
    }
}

/// `GET /openstack/latest/securitykey`: `{"credential": {access, secret, securitytoken,
/// expires_at}}`; 401 with an unknown `X-Metadata-Token`, or without one when required.
pub(super) fn security_key(inner: &mut Inner, req: &Req) -> Answer {
    let Some((ak, sk, token)) = inner.config.metadata_credentials.clone() else {
        return metadata_off();
    };
    let given = req
        .headers
        .get("x-metadata-token")
        .and_then(|v| v.to_str().ok());
    let known = given.is_some_and(|g| inner.metadata_tokens.0.iter().any(|t| t == g));
    if (given.is_some() && !known) || (given.is_none() && inner.config.metadata_require_token) {
        return Answer {
            status: StatusCode::UNAUTHORIZED,
            reply: Reply::Text("Unauthorized".to_owned()),
            note: Default::default(),
        };
    }
    let lifetime = inner
        .config
        .metadata_lifetime
        .unwrap_or(DEFAULT_METADATA_LIFETIME);
    let expires = time::OffsetDateTime::now_utc()
        .checked_add(time::Duration::try_from(lifetime).unwrap_or(time::Duration::DAY))
        .unwrap_or_else(time::OffsetDateTime::now_utc);
    inner.metadata_expires = Some(expires);
    inner.metadata_fetches = inner.metadata_fetches.saturating_add(1);
    let expires_at = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000000Z",
        expires.year(),
        u8::from(expires.month()),
        expires.day(),
        expires.hour(),
        expires.minute(),
        expires.second()
    );
    Answer::ok(json!({
        "credential": {
            "access": ak,
            "secret": sk,
            "securitytoken": token,
            "expires_at": expires_at,
        }
    }))
}
