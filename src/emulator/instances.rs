//! Listing and deleting instances: `GET`/`DELETE /v2/{project_id}/instances` and
//! `GET`/`DELETE /v2/{project_id}/instances/{instance_id}`, with the recycle bin.

use std::collections::HashSet;

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::data::EmuInstance;
use super::routes::{Answer, Note, Reply, Req, dcs_error, no_such_instance};
use super::state::RecycledInstance;
use super::{Inner, Linger};
use crate::api::{DELETE_BATCH_MAX, LIST_LIMIT};

/// The statuses in which the emulator, like the API, accepts a deletion.
const DELETABLE: [&str; 3] = ["RUNNING", "ERROR", "CREATEFAILED"];

/// `GET /v2/{project_id}/instances`.
pub(super) fn list(inner: &mut Inner, req: &Req) -> Answer {
    match inner.list(req) {
        Ok(body) => Answer {
            status: StatusCode::OK,
            reply: Reply::Raw(body),
            note: Note::default(),
        },
        Err(value) => Answer::json(StatusCode::BAD_REQUEST, value),
    }
}

/// `GET /v2/{project_id}/instances/{instance_id}`: the instance, or 404 `DCS.3022`.
pub(super) fn show(inner: &mut Inner, req: &Req) -> Answer {
    let id = req.segment(4);
    match inner.instances.iter().find(|i| i.id == id) {
        Some(inst) => Answer::ok(inst.to_api_json()),
        None => no_such_instance(),
    }
}

/// `DELETE /v2/{project_id}/instances?all_failure=` with `{"instances": [...], "is_recycle"}`.
pub(super) fn batch_delete(inner: &mut Inner, req: &Req) -> Answer {
    if inner.config.fail_delete_requests > 0 {
        inner.config.fail_delete_requests -= 1;
        return Answer::dcs_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "DCS.5000",
            "Internal server error (injected by the emulator).",
        );
    }
    let all_failure = req.param("all_failure") == Some("true");
    let body = &req.body;
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) if body.is_empty() && all_failure => json!({ "instances": [] }),
        Err(_) => {
            return Answer::dcs_error(StatusCode::BAD_REQUEST, "DCS.4800", "Invalid request body.");
        }
    };
    let ids: Vec<String> = match parsed.get("instances") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .collect(),
        _ => {
            return Answer::dcs_error(
                StatusCode::BAD_REQUEST,
                "DCS.4065",
                "The instances parameter is missing or invalid.",
            );
        }
    };
    let is_recycle = match inner.recycle_flag(&parsed) {
        Ok(flag) => flag,
        Err(answer) => return with_ids(answer, ids),
    };
    if ids.len() > DELETE_BATCH_MAX {
        let answer = Answer::dcs_error(
            StatusCode::BAD_REQUEST,
            "DCS.4100",
            "The number of instance IDs in an instances array cannot exceed 50.",
        );
        return with_ids(answer, ids);
    }
    let mut done = inner.remove(&ids, inner.recycles(is_recycle));
    let results: Vec<Value> = ids
        .iter()
        .map(|id| {
            // A repeated id succeeds once; the repeat finds nothing left to delete.
            let ok = done.deleted.remove(id);
            json!({ "result": if ok { "success" } else { "failed" }, "instance": id })
        })
        .collect();
    if all_failure {
        inner.instances.retain(|i| i.status != "CREATEFAILED");
    }
    inner.save();
    Answer {
        status: StatusCode::OK,
        reply: Reply::Json(json!({ "results": results })),
        note: Note {
            delete_ids: ids,
            is_recycle,
            recycled: done.recycled,
            destroyed: done.destroyed,
        },
    }
}

/// `DELETE /v2/{project_id}/instances/{instance_id}` with an optional `{"is_recycle": bool}`:
/// 204, or 404 `DCS.3022`, or 400 when the instance cannot be deleted now.
pub(super) fn delete_one(inner: &mut Inner, req: &Req) -> Answer {
    let id = req.segment(4).to_owned();
    let parsed: Value = if req.body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&req.body) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                return Answer::dcs_error(
                    StatusCode::BAD_REQUEST,
                    "DCS.4800",
                    "Invalid request body.",
                );
            }
        }
    };
    let is_recycle = match inner.recycle_flag(&parsed) {
        Ok(flag) => flag,
        Err(answer) => return with_ids(answer, vec![id]),
    };
    let Some(inst) = inner.instances.iter().find(|i| i.id == id) else {
        return with_ids(no_such_instance(), vec![id]);
    };
    let refusal = if inst.charging_mode == 1 {
        Some((
            "DCS.4026",
            "This operation is not allowed for a yearly/monthly instance: unsubscribe it instead.",
        ))
    } else if !DELETABLE.contains(&inst.status.as_str()) || inner.config.fail_delete.contains(&id) {
        Some((
            "DCS.4099",
            "DCS instances in the Creating, Starting, Stopping, or Restarting state cannot be deleted.",
        ))
    } else {
        None
    };
    if let Some((code, msg)) = refusal {
        return with_ids(
            Answer::dcs_error(StatusCode::BAD_REQUEST, code, msg),
            vec![id],
        );
    }
    let ids = vec![id];
    let done = inner.remove(&ids, inner.recycles(is_recycle));
    inner.save();
    let mut answer = Answer::no_content();
    answer.note = Note {
        delete_ids: ids,
        is_recycle,
        recycled: done.recycled,
        destroyed: done.destroyed,
    };
    answer
}

fn with_ids(mut answer: Answer, ids: Vec<String>) -> Answer {
    answer.note.delete_ids = ids;
    answer
}

/// What one deletion did.
struct Removed {
    deleted: HashSet<String>,
    recycled: Vec<String>,
    destroyed: Vec<String>,
}

/// True when the instance can go to the recycle bin: Redis 4.0 or later, not the
/// enterprise edition.
fn recyclable(inst: &EmuInstance) -> bool {
    let major = inst
        .engine_version()
        .split('.')
        .next()
        .and_then(|m| m.trim().parse::<u32>().ok())
        .unwrap_or(0);
    inst.engine().eq_ignore_ascii_case("redis")
        && major >= 4
        && !inst.product_type().eq_ignore_ascii_case("enterprise")
}

/// Now, as the API writes times.
pub(super) fn now_text() -> String {
    let t = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

impl Inner {
    /// True when a delete whose body had `is_recycle` = `asked` goes to the recycle bin: not
    /// when [`super::EmulatorConfig::ignore_recycle`] drops the field.
    fn recycles(&self, asked: Option<bool>) -> bool {
        asked == Some(true) && !self.config.ignore_recycle
    }

    /// The body's `is_recycle`, as sent: `Ok(None)` without it; 400 when it is not a boolean
    /// or when this region "does not know" it ([`super::EmulatorConfig::reject_recycle`]).
    fn recycle_flag(&self, body: &Value) -> Result<Option<bool>, Answer> {
        let invalid = || {
            Answer::dcs_error(
                StatusCode::BAD_REQUEST,
                "DCS.4800",
                "Invalid is_recycle in the request.",
            )
        };
        let flag = match body.get("is_recycle") {
            None => return Ok(None),
            Some(Value::Bool(b)) => *b,
            Some(_) => return Err(invalid()),
        };
        if self.config.reject_recycle {
            let mut answer = invalid();
            answer.note.is_recycle = Some(flag);
            return Err(answer);
        }
        Ok(Some(flag))
    }

    /// Deletes the deletable ones among `ids` (to the recycle bin when asked and eligible;
    /// lingering as `DELETING` first when configured).
    fn remove(&mut self, ids: &[String], recycle: bool) -> Removed {
        let requested: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let mut done = Removed {
            deleted: HashSet::new(),
            recycled: Vec::new(),
            destroyed: Vec::new(),
        };
        let fail = &self.config.fail_delete;
        let linger = self.config.delete_linger;
        let lingering = &mut self.lingering;
        let bin = &mut self.recycle_bin;
        let at = now_text();
        // One pass over the instances, whatever the batch size.
        self.instances.retain_mut(|inst| {
            let go = requested.contains(inst.id.as_str())
                && !fail.contains(&inst.id)
                && inst.charging_mode != 1
                && DELETABLE.contains(&inst.status.as_str());
            if !go {
                return true;
            }
            let to_bin = recycle && recyclable(inst);
            done.deleted.insert(inst.id.clone());
            if to_bin {
                done.recycled.push(inst.id.clone());
            } else {
                done.destroyed.push(inst.id.clone());
            }
            if linger > 0 {
                "DELETING".clone_into(&mut inst.status);
                lingering.insert(
                    inst.id.clone(),
                    Linger {
                        left: linger,
                        recycle: to_bin,
                    },
                );
                return true;
            }
            if to_bin {
                bin.push(RecycledInstance {
                    instance: inst.clone(),
                    recycled_at: at.clone(),
                });
            }
            false
        });
        done
    }

    /// A new listing starts: lingering deletions come one listing closer to disappearing
    /// (into the recycle bin when they were recycled).
    fn age_lingering(&mut self) {
        if self.lingering.is_empty() {
            return;
        }
        for l in self.lingering.values_mut() {
            l.left = l.left.saturating_sub(1);
        }
        let gone: std::collections::HashMap<String, bool> = self
            .lingering
            .iter()
            .filter(|(_, l)| l.left == 0)
            .map(|(id, l)| (id.clone(), l.recycle))
            .collect();
        self.lingering.retain(|_, l| l.left > 0);
        let at = now_text();
        let bin = &mut self.recycle_bin;
        self.instances.retain(|i| match gone.get(&i.id) {
            None => true,
            Some(recycle) => {
                if *recycle {
                    let mut instance = i.clone();
                    // It was running when deleted; `DELETING` was only the listing's view.
                    "RUNNING".clone_into(&mut instance.status);
                    bin.push(RecycledInstance {
                        instance,
                        recycled_at: at.clone(),
                    });
                }
                false
            }
        });
        self.save();
    }

    /// The list answer's body, written straight from the instances; `Err` is a 400 body.
    fn list(&mut self, req: &Req) -> Result<Vec<u8>, Value> {
        let param = |k: &str| req.param(k);
        let offset = match param("offset").map(str::parse::<i64>) {
            None => 0,
            Some(Ok(n)) if n >= 0 => n,
            Some(_) => return Err(dcs_error("DCS.4800", "Invalid offset in the request.")),
        };
        if offset == 0 {
            self.age_lingering();
        }
        let limit = match param("limit").map(str::parse::<i64>) {
            None => 10,
            Some(Ok(n)) if (1..=LIST_LIMIT as i64).contains(&n) => n,
            Some(_) => return Err(dcs_error("DCS.4800", "Invalid limit in the request.")),
        };
        let tags = match param("tags").map(parse_tag_filter) {
            None => Vec::new(),
            Some(Some(t)) => t,
            Some(None) => return Err(dcs_error("DCS.4800", "Invalid tags in the request.")),
        };
        let include_failure = param("include_failure") == Some("true");
        let name_equal = param("name_equal") == Some("true");
        let visible: Vec<&EmuInstance> = self
            .instances
            .iter()
            .filter(|i| include_failure || i.status != "CREATEFAILED")
            .filter(|i| param("instance_id").is_none_or(|id| i.id == id))
            .filter(|i| param("status").is_none_or(|s| i.status == s))
            .filter(|i| {
                param("name").is_none_or(|n| {
                    if name_equal {
                        i.name == n
                    } else {
                        i.name.contains(n)
                    }
                })
            })
            .filter(|i| {
                tags.iter()
                    .all(|(k, v)| i.tags().iter().any(|(tk, tv)| tk == k && tv == v))
            })
            .collect();
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(visible.len());
        let end = start
            .saturating_add(usize::try_from(limit).unwrap_or(0))
            .min(visible.len());
        // `{"instance_num":N,"instances":[...]}`, each instance serialised in place: no
        // `Value` per instance, so large pages cost the emulator little.
        let mut out = Vec::with_capacity(64 + (end - start) * 1600);
        out.extend_from_slice(
            format!("{{\"instance_num\":{},\"instances\":[", visible.len()).as_bytes(),
        );
        for (n, inst) in visible[start..end].iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            inst.write_api_json(&mut out);
        }
        out.extend_from_slice(b"]}");
        Ok(out)
    }
}

/// `tags=k=v[,k2=v2]` as (key, value) pairs that must all be present; `None` when a pair has
/// no `=` or an empty key.
fn parse_tag_filter(text: &str) -> Option<Vec<(String, String)>> {
    text.split(',')
        .map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (!k.is_empty()).then(|| (k.to_owned(), v.to_owned()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_redis_4_and_later_outside_enterprise_can_be_recycled() {
        let redis = |v: &str| EmuInstance::new("a", "a").with_field("engine_version", json!(v));
        assert!(recyclable(&EmuInstance::new("a", "a")));
        assert!(recyclable(&redis("4.0")));
        assert!(recyclable(&redis("6.0")));
        assert!(!recyclable(&redis("3.0")));
        assert!(!recyclable(
            &EmuInstance::new("a", "a").with_field("engine", json!("Memcached"))
        ));
        assert!(!recyclable(
            &EmuInstance::new("a", "a").with_field("product_type", json!("enterprise"))
        ));
    }

    #[test]
    fn tag_filters_parse() {
        assert_eq!(
            parse_tag_filter("a=1,b="),
            Some(vec![("a".into(), "1".into()), ("b".into(), String::new())])
        );
        assert_eq!(parse_tag_filter("a"), None);
        assert_eq!(parse_tag_filter("=1"), None);
    }
}
