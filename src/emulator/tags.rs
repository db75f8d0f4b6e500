//! Instance tags: `POST /v2/{project_id}/dcs/{instance_id}/tags/action` (create or delete,
//! 204) and `GET /v2/{project_id}/instances/{instance_id}/tags`, validated like the API.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::Inner;
use super::routes::{Answer, Req, no_such_instance};

/// At most this many tags per instance.
pub const MAX_TAGS: usize = 20;
/// Longest key, in characters.
pub const MAX_KEY_CHARS: usize = 128;
/// Longest value, in characters.
pub const MAX_VALUE_CHARS: usize = 255;

/// `GET /v2/{project_id}/instances/{instance_id}/tags`.
pub(super) fn list(inner: &mut Inner, req: &Req) -> Answer {
    let id = req.segment(4);
    match inner.instances.iter().find(|i| i.id == id) {
        Some(inst) => {
            let tags: Vec<Value> = inst
                .tags()
                .into_iter()
                .map(|(k, v)| json!({"key": k, "value": v}))
                .collect();
            Answer::ok(json!({ "tags": tags }))
        }
        None => no_such_instance(),
    }
}

/// `POST /v2/{project_id}/dcs/{instance_id}/tags/action` with
/// `{"action": "create"|"delete", "tags": [{"key", "value"}]}`.
pub(super) fn action(inner: &mut Inner, req: &Req) -> Answer {
    let bad = |msg: String| Answer::dcs_error(StatusCode::BAD_REQUEST, "DCS.4800", &msg);
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return bad("Invalid request body.".to_owned());
    };
    let create = match body.get("action").and_then(Value::as_str) {
        Some("create") => true,
        Some("delete") => false,
        _ => return bad("Invalid action in the request.".to_owned()),
    };
    let Some(items) = body.get("tags").and_then(Value::as_array) else {
        return bad("Invalid tags in the request.".to_owned());
    };
    let mut given: Vec<(String, Option<String>)> = Vec::with_capacity(items.len());
    for item in items {
        let Some(key) = item.get("key").and_then(Value::as_str) else {
            return bad("Invalid tags in the request: a tag has no key.".to_owned());
        };
        let value = match item.get("value") {
            None | Some(Value::Null) => None,
            Some(Value::String(v)) => Some(v.clone()),
            Some(_) => {
                return bad(format!(
                    "Invalid tags in the request: the value of `{key}` is not a string."
                ));
            }
        };
        if let Err(why) = check_key(key) {
            return bad(format!("Invalid tags in the request: key `{key}` {why}."));
        }
        if let Some(v) = &value
            && let Err(why) = check_value(v)
        {
            return bad(format!(
                "Invalid tags in the request: the value of `{key}` {why}."
            ));
        }
        if given.iter().any(|(k, _)| k == key) {
            return bad(format!(
                "Invalid tags in the request: key `{key}` is repeated."
            ));
        }
        given.push((key.to_owned(), value));
    }
    let id = req.segment(4).to_owned();
    let Some(inst) = inner.instances.iter_mut().find(|i| i.id == id) else {
        return no_such_instance();
    };
    let mut tags = inst.tags();
    if create {
        for (key, value) in given {
            let value = value.unwrap_or_default();
            match tags.iter_mut().find(|(k, _)| *k == key) {
                Some(existing) => existing.1 = value,
                None => tags.push((key, value)),
            }
        }
        if tags.len() > MAX_TAGS {
            return bad(format!(
                "Invalid tags in the request: an instance has at most {MAX_TAGS} tags."
            ));
        }
    } else {
        tags.retain(|(k, v)| {
            !given
                .iter()
                .any(|(gk, gv)| gk == k && gv.as_ref().is_none_or(|gv| gv.is_empty() || gv == v))
        });
    }
    inst.set_tags(&tags);
    inner.save();
    Answer::no_content()
}

/// Letters of any language, digits, space and `_ . : = + - @`.
fn allowed(c: char) -> bool {
    c.is_alphanumeric() || " _.:=+-@".contains(c)
}

/// A tag key: 1-128 allowed characters, no leading or trailing space, not `_sys_…`.
pub(super) fn check_key(key: &str) -> Result<(), &'static str> {
    let n = key.chars().count();
    if n == 0 || n > MAX_KEY_CHARS {
        return Err("must have 1 to 128 characters");
    }
    if key.starts_with(' ') || key.ends_with(' ') {
        return Err("may not start or end with a space");
    }
    if key.starts_with("_sys_") {
        return Err("may not start with `_sys_`");
    }
    if !key.chars().all(allowed) {
        return Err("may hold only letters, digits, spaces and _ . : = + - @");
    }
    Ok(())
}

/// A tag value: 0-255 characters of the key's set plus `/`.
pub(super) fn check_value(value: &str) -> Result<(), &'static str> {
    if value.chars().count() > MAX_VALUE_CHARS {
        return Err("may have at most 255 characters");
    }
    if !value.chars().all(|c| allowed(c) || c == '/') {
        return Err("may hold only letters, digits, spaces and _ . : = + - @ /");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_follow_the_api_rules() {
        assert!(check_key("dcs-reconcile:pending-delete").is_ok());
        assert!(check_key("環境").is_ok());
        assert!(check_key(&"k".repeat(128)).is_ok());
        assert!(check_key(&"k".repeat(129)).is_err());
        assert!(check_key("").is_err());
        assert!(check_key("dcs-reconcile/x").is_err());
        assert!(check_key("_sys_enterprise").is_err());
        assert!(check_key(" lead").is_err());
        assert!(check_key("a#b").is_err());
        assert!(check_value("").is_ok());
        assert!(check_value("2026-12-01T08:00:00Z").is_ok());
        assert!(check_value("team/a").is_ok());
        assert!(check_value(&"v".repeat(255)).is_ok());
        assert!(check_value(&"v".repeat(256)).is_err());
        assert!(check_value("a,b").is_err());
    }
}
