//! JSON bodies of the DCS API, as the official SDK models define them, parsed tolerantly.
//!
//! Huawei asks clients to ignore unknown fields, and real answers mix types (numbers where the
//! model says string, `null` where a value is expected, `no_password_access` as string or bool).
//! Only `instance_id` (not empty), `name` and `status` are required; every other field the tool
//! reads is accepted as a string, number, bool or null, and anything else in its place is
//! ignored. `charging_mode` is the exception that is read strictly: only the JSON integers 0 and
//! 1 count, anything else is unknown (`None`), never coerced, because the planner decides on it.

use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

use crate::model::{Instance, Shared};

/// Answer of `GET /v2/{project_id}/instances`, parsed straight into the compact
/// [`Instance`]: each element of `instances` is read into a [`WireInstance`] and converted
/// before the next one is read, and every field the tool does not use is skipped by the parser
/// without being stored. No `serde_json::Value` and no second copy of a page is ever built.
#[derive(Debug, Deserialize)]
pub struct ListResponse {
    /// Total number of instances matching the query (all pages).
    #[serde(default, deserialize_with = "lenient_u64")]
    pub instance_num: Option<u64>,
    /// This page's instances.
    #[serde(default, deserialize_with = "compact_instances")]
    pub instances: Vec<Instance>,
}

/// Parses a list answer. A body that is valid UTF-8 throughout (every real one) is checked
/// once and read as text, so the parser does not check each string again; any other body is
/// read as bytes, exactly as before, so the result and every error are the same either way.
pub fn parse_list(body: &[u8]) -> serde_json::Result<ListResponse> {
    match std::str::from_utf8(body) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(body),
    }
}

/// One element of `instances` in a list answer (`InstanceListInfo`): only the fields the plan
/// and its output use.
#[derive(Debug, Deserialize)]
pub struct WireInstance {
    /// `instance_id`; an empty one makes the page unreadable.
    #[serde(deserialize_with = "non_empty_id")]
    pub instance_id: String,
    /// `name`.
    pub name: String,
    /// `status`.
    pub status: String,
    /// `created_at`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub created_at: Option<String>,
    /// `charging_mode`: 0 or 1 when the answer says exactly that, else `None`.
    #[serde(default, deserialize_with = "strict_billing")]
    pub charging_mode: Option<i64>,
    /// `spec_code`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub spec_code: Option<String>,
    /// `enterprise_project_id` (a number in some answers).
    #[serde(default, deserialize_with = "lenient_string")]
    pub enterprise_project_id: Option<String>,
    /// `tags`.
    #[serde(default, deserialize_with = "lenient_tags")]
    pub tags: Vec<(String, String)>,
    /// `engine`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub engine: Option<String>,
    /// `engine_version`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub engine_version: Option<String>,
    /// `product_type` (not in the SDK's model; the API pages show it).
    #[serde(default, deserialize_with = "lenient_string")]
    pub product_type: Option<String>,
}

impl WireInstance {
    /// The compact [`Instance`], its repeated texts shared through `shared`.
    fn into_instance(self, shared: &mut Interner) -> Instance {
        Instance {
            id: self.instance_id,
            name: self.name,
            status: self.status,
            created_at: self.created_at.filter(|c| !c.trim().is_empty()),
            charging_mode: self.charging_mode,
            spec_code: shared.get(self.spec_code),
            enterprise_project_id: shared.get(self.enterprise_project_id),
            tags: self.tags,
            engine: shared.get(self.engine),
            engine_version: shared.get(self.engine_version),
            product_type: shared.get(self.product_type),
        }
    }
}

/// The distinct values of a page's repeated fields (a few spec codes, engine versions and
/// enterprise projects in a real project), so that its instances share them. It keeps at most
/// [`Interner::MAX`] values: past that, a value is allocated for its instance, as without it,
/// so a page of all-different values costs a bounded search per field, never more memory.
#[derive(Debug, Default)]
pub(crate) struct Interner(Vec<Shared>);

impl Interner {
    /// The most distinct values kept.
    pub(crate) const MAX: usize = 32;

    /// `text` as a shared value: the one already kept when equal, else a new one.
    pub(crate) fn get(&mut self, text: Option<String>) -> Option<Shared> {
        let text = text?;
        if let Some(kept) = self.0.iter().find(|k| ***k == *text) {
            return Some(kept.clone());
        }
        let made = Shared::from(text);
        if self.0.len() < Self::MAX {
            self.0.push(made.clone());
        }
        Some(made)
    }
}

/// `instances`: `null` or absent is an empty page; each element becomes an [`Instance`] as it
/// is read.
fn compact_instances<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Instance>, D::Error> {
    struct Instances;

    impl<'de> Visitor<'de> for Instances {
        type Value = Vec<Instance>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an array of instances or null")
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(Instances)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            // A page holds at most LIST_LIMIT instances; do not trust a size hint beyond that.
            let cap = seq.size_hint().unwrap_or(0).min(super::LIST_LIMIT);
            let mut out = Vec::with_capacity(cap);
            let mut shared = Interner::default();
            while let Some(w) = seq.next_element::<WireInstance>()? {
                out.push(w.into_instance(&mut shared));
            }
            Ok(out)
        }
    }

    d.deserialize_option(Instances)
}

/// Body of `DELETE /v2/{project_id}/instances`.
#[derive(Debug, Serialize, Deserialize)]
pub struct BatchDeleteBody {
    /// The ids to delete, at most 50.
    pub instances: Vec<String>,
    /// `true`: to the recycle bin. Not sent when `None` (the body is then exactly the SDK's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_recycle: Option<bool>,
}

/// Answer of `DELETE /v2/{project_id}/instances`.
#[derive(Debug, Deserialize)]
pub struct BatchDeleteResponse {
    /// One outcome per instance.
    #[serde(default, deserialize_with = "nullable_vec")]
    pub results: Vec<BatchOpsResult>,
}

/// One per-instance outcome of a batch delete.
#[derive(Debug, Deserialize)]
pub struct BatchOpsResult {
    /// `success` or `failed`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub result: Option<String>,
    /// The instance id.
    #[serde(default, deserialize_with = "lenient_string")]
    pub instance: Option<String>,
}

/// The parts of an API error body the tool reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApiErrorBody {
    /// e.g. `DCS.4800`, `APIGW.0301`.
    pub code: Option<String>,
    /// The message.
    pub message: Option<String>,
    /// A `request_id` field of the body, if any (gateway errors carry one).
    pub request_id: Option<String>,
}

/// Finds the error code and message in an error body the way the official SDK does:
/// `error_code`/`error_msg`, else `errorCode`/`errorMsg`, else `code`/`message`, else the first
/// nested object that has one of these pairs. `None` when the body is not JSON or has none.
pub fn parse_error_body(body: &[u8]) -> Option<ApiErrorBody> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    find_error(&value, 0)
}

fn find_error(value: &serde_json::Value, depth: usize) -> Option<ApiErrorBody> {
    let obj = value.as_object()?;
    let text = |k: &str| -> Option<String> {
        match obj.get(k)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    for (c, m) in [
        ("error_code", "error_msg"),
        ("errorCode", "errorMsg"),
        ("code", "message"),
    ] {
        if obj.contains_key(c) || obj.contains_key(m) {
            return Some(ApiErrorBody {
                code: text(c),
                message: text(m),
                request_id: text("request_id"),
            });
        }
    }
    if depth >= 4 {
        return None;
    }
    obj.values().find_map(|v| find_error(v, depth + 1))
}

/// A scalar of any JSON type, as a string; `null`, arrays and objects give `None`.
struct LenientString;

impl<'de> Visitor<'de> for LenientString {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, bool or null")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(v))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Some(v.to_string()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(LenientString)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

fn lenient_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    d.deserialize_any(LenientString)
}

fn non_empty_id<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    let id = String::deserialize(d)?;
    if id.trim().is_empty() {
        return Err(de::Error::custom("an instance has an empty `instance_id`"));
    }
    Ok(id)
}

/// `charging_mode`: `Some` only for the JSON integers 0 and 1; any other value (null, 1.5,
/// true, "1", 2, an object) is consumed and gives `None`.
struct StrictBilling;

impl<'de> Visitor<'de> for StrictBilling {
    type Value = Option<i64>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(matches!(v, 0 | 1).then_some(v))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(match v {
            0 => Some(0),
            1 => Some(1),
            _ => None,
        })
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(StrictBilling)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

fn strict_billing<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    d.deserialize_any(StrictBilling)
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(lenient_string(d)?.and_then(|s| s.trim().parse::<u64>().ok()))
}

fn nullable_vec<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct WireTag {
    #[serde(default, deserialize_with = "lenient_string")]
    key: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    value: Option<String>,
}

fn lenient_tags<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    let tags: Vec<WireTag> = nullable_vec(d)?;
    Ok(tags
        .into_iter()
        .filter_map(|t| Some((t.key?, t.value.unwrap_or_default())))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_list_example_and_ignores_unknown_fields()
    -> Result<(), serde_json::Error> {
        let body = br#"{"instance_num":1,"instances":[{
            "publicip_id":{},"vpc_name":"dcs-beta","charging_mode":0,"enterprise_project_id":0,
            "vpc_id":"1e93f86e-13af-46c8-97d6-d40fa62b76c2","user_name":"hwstaff",
            "created_at":"2017-03-31T12:24:46.297Z","description":null,
            "security_group_id":"securityGroupId","enable_ssl":false,"max_memory":460,
            "publicip_address":null,"capacity":0,"capacity_minor":".125",
            "name":"dcs-8b1c-000","no_password_access":true,"status":"RUNNING",
            "tags":[{"key":1,"value":"x"},{"key":"k","value":null}],
            "instance_id":"c7b9e5c1-ebfb-4e86-bc6b-ec8d9aa7e1c2","engine":"Redis",
            "engine_version":"5.0","spec_code":"redis.single.xu1.tiny.128","future":[1,{"a":2}]}]}"#;
        let page: ListResponse = serde_json::from_slice(body)?;
        assert_eq!(page.instance_num, Some(1));
        let inst = page
            .instances
            .into_iter()
            .next()
            .ok_or_else(|| serde::de::Error::custom("no instance"))?;
        assert_eq!(inst.id, "c7b9e5c1-ebfb-4e86-bc6b-ec8d9aa7e1c2");
        assert_eq!(inst.name, "dcs-8b1c-000");
        assert_eq!(inst.enterprise_project_id.as_deref(), Some("0"));
        assert_eq!(inst.charging_mode, Some(0));
        assert_eq!(
            inst.tags,
            [
                ("1".to_owned(), "x".to_owned()),
                ("k".to_owned(), String::new())
            ]
        );
        Ok(())
    }

    #[test]
    fn a_page_read_as_text_is_read_exactly_as_from_bytes() {
        let head = br#"{"instance_num":1,"instances":[{"instance_id":"a","status":"RUNNING","#;
        let bodies: Vec<Vec<u8>> = [
            &br#""name":"n\u00e9\"q","description":"x"}]}"#[..],
            // Not UTF-8 in a field the parser skips: bytes accept it, so must this.
            &b"\"name\":\"n\",\"description\":\"\xff\xfe\"}]}"[..],
            // Not UTF-8 in a field that is kept: the same error.
            &b"\"name\":\"n\xc3\"}]}"[..],
            &br#""name":"\ud800"}]}"#[..],
            &br#""name":"n"}]"#[..],
            &br#""name":"n"}]} x"#[..],
            "\"name\":\"caf\u{e9}\u{200b}\"}]}".as_bytes(),
        ]
        .iter()
        .map(|tail| [&head[..], tail].concat())
        .collect();
        let mut accepted = 0;
        for body in &bodies {
            let text = parse_list(body)
                .map(|p| format!("{p:?}"))
                .map_err(|e| e.to_string());
            let bytes = serde_json::from_slice::<ListResponse>(body)
                .map(|p| format!("{p:?}"))
                .map_err(|e| e.to_string());
            assert_eq!(text, bytes, "{}", String::from_utf8_lossy(body));
            accepted += usize::from(text.is_ok());
        }
        assert_eq!(accepted, 3, "the first, second and last bodies are pages");
    }

    #[test]
    fn instances_of_a_page_share_their_repeated_texts() -> Result<(), serde_json::Error> {
        let instances: Vec<serde_json::Value> = (0..3)
            .map(|n| {
                serde_json::json!({"instance_id": format!("i-{n}"), "name": "n",
                    "status": "RUNNING", "spec_code": "redis.ha.xu1.large.r2.2",
                    "enterprise_project_id": 0, "engine": "Redis", "engine_version": "5.0",
                    "product_type": if n == 1 { "enterprise" } else { "generic" }})
            })
            .collect();
        let page = parse_list(
            serde_json::json!({ "instances": instances })
                .to_string()
                .as_bytes(),
        )?;
        let [a, b, c] = &page.instances[..] else {
            panic!("three instances: {:?}", page.instances);
        };
        let same = |x: &Option<Shared>, y: &Option<Shared>| match (x, y) {
            (Some(x), Some(y)) => std::sync::Arc::ptr_eq(x, y),
            _ => false,
        };
        for (x, y) in [
            (&a.spec_code, &c.spec_code),
            (&a.enterprise_project_id, &b.enterprise_project_id),
            (&a.engine, &b.engine),
            (&b.engine_version, &c.engine_version),
            (&a.product_type, &c.product_type),
        ] {
            assert!(same(x, y), "{x:?} {y:?}");
        }
        assert_eq!(a.enterprise_project_id.as_deref(), Some("0"));
        assert_eq!(b.product_type.as_deref(), Some("enterprise"));
        assert_eq!(c.product_type.as_deref(), Some("generic"));
        Ok(())
    }

    #[test]
    fn past_its_bound_the_interner_still_gives_every_value_and_keeps_no_more() {
        let mut shared = Interner::default();
        let n = Interner::MAX + 10;
        for round in 0..2 {
            for i in 0..n {
                let got = shared.get(Some(format!("spec-{i}")));
                assert_eq!(
                    got.as_deref(),
                    Some(format!("spec-{i}").as_str()),
                    "{round}"
                );
            }
        }
        assert_eq!(shared.0.len(), Interner::MAX);
        assert_eq!(shared.get(None), None);
    }

    #[test]
    fn nulls_and_string_numbers_are_accepted() -> Result<(), serde_json::Error> {
        let body = br#"{"instance_num":"2","instances":[
            {"instance_id":"a","name":"n","status":"RUNNING","charging_mode":"1","created_at":null,
             "tags":null,"no_password_access":"false"},
            {"instance_id":"b","name":"m","status":"ERROR","charging_mode":null,"engine":null}]}"#;
        let page: ListResponse = serde_json::from_slice(body)?;
        assert_eq!(page.instance_num, Some(2));
        let all = page.instances;
        // A string is not the integer the planner decides on: unknown, not prepaid.
        assert_eq!(all[0].charging_mode, None);
        assert_eq!(all[1].charging_mode, None);
        assert_eq!(all[1].created_at, None);
        Ok(())
    }

    #[test]
    fn null_or_absent_instances_is_an_empty_page() -> Result<(), serde_json::Error> {
        let page: ListResponse = serde_json::from_slice(br#"{"instance_num":0,"instances":null}"#)?;
        assert!(page.instances.is_empty());
        let page: ListResponse = serde_json::from_slice(b"{}")?;
        assert!(page.instances.is_empty() && page.instance_num.is_none());
        Ok(())
    }

    #[test]
    fn required_fields_are_required() {
        let body = br#"{"instances":[{"instance_id":"a","name":"n"}]}"#;
        let err = serde_json::from_slice::<ListResponse>(body)
            .err()
            .map(|e| e.to_string());
        assert!(err.unwrap_or_default().contains("missing field `status`"));
    }

    #[test]
    fn charging_mode_is_only_ever_the_integers_0_and_1() -> Result<(), serde_json::Error> {
        let mode = |v: &str| -> Result<Option<i64>, serde_json::Error> {
            let body = format!(
                r#"{{"instances":[{{"instance_id":"a","name":"n","status":"RUNNING","charging_mode":{v}}}]}}"#
            );
            let page: ListResponse = serde_json::from_str(&body)?;
            Ok(page.instances.first().and_then(|i| i.charging_mode))
        };
        assert_eq!(mode("0")?, Some(0));
        assert_eq!(mode("1")?, Some(1));
        for v in [
            "null",
            "1.5",
            "1.0",
            "true",
            "false",
            r#""1""#,
            r#""0""#,
            "2",
            "-1",
            "[1]",
            r#"{"a":1}"#,
        ] {
            assert_eq!(mode(v)?, None, "charging_mode {v}");
        }
        Ok(())
    }

    #[test]
    fn an_empty_or_missing_instance_id_makes_the_page_unreadable() {
        for inst in [
            r#"{"instance_id":"","name":"n","status":"RUNNING"}"#,
            r#"{"instance_id":"  ","name":"n","status":"RUNNING"}"#,
            r#"{"name":"n","status":"RUNNING"}"#,
            r#"{"instance_id":null,"name":"n","status":"RUNNING"}"#,
        ] {
            let body = format!(r#"{{"instances":[{inst}]}}"#);
            let err = serde_json::from_str::<ListResponse>(&body).err();
            assert!(err.is_some(), "{inst} was accepted");
        }
    }

    #[test]
    fn delete_results_parse() -> Result<(), serde_json::Error> {
        let body = br#"{"results":[{"result":"success","instance":"a"},{"result":"failed","instance":"b"}]}"#;
        let r: BatchDeleteResponse = serde_json::from_slice(body)?;
        assert_eq!(r.results.len(), 2);
        assert_eq!(r.results[1].result.as_deref(), Some("failed"));
        assert_eq!(r.results[1].instance.as_deref(), Some("b"));
        Ok(())
    }

    #[test]
    fn error_bodies_are_found_like_the_sdk_finds_them() {
        let dcs = parse_error_body(br#"{"error_code":"DCS.4800","error_msg":"Invalid offset in the request.","error_ext_msg":null}"#);
        assert_eq!(
            dcs.as_ref().and_then(|e| e.code.as_deref()),
            Some("DCS.4800")
        );
        let gw = parse_error_body(br#"{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information","request_id":"r1"}"#);
        assert_eq!(gw.and_then(|e| e.request_id), Some("r1".to_owned()));
        let v1 = parse_error_body(br#"{"error":{"code":"111404022","message":"not found"}}"#);
        assert_eq!(v1.and_then(|e| e.message), Some("not found".to_owned()));
        assert_eq!(parse_error_body(b"<html>502 Bad Gateway</html>"), None);
    }
}
