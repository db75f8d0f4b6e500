//! The emulator's instances: compact in memory (their JSON is written by `answer`).

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

pub use super::answer::Tail;

/// An instance held by the emulator. The fields the emulator acts on are typed; every other
/// field of a loaded state file is kept in `extra` and written back as it was.
#[derive(Debug, Clone, PartialEq)]
pub struct EmuInstance {
    /// `instance_id`.
    pub id: String,
    /// `name`.
    pub name: String,
    /// `status`.
    pub status: String,
    /// `charging_mode`: 0 pay-per-use, 1 prepaid.
    pub charging_mode: i64,
    /// `created_at`.
    pub created_at: String,
    /// Other fields, as loaded.
    pub extra: Map<String, Value>,
    /// When true, the usual fields of a real answer (engine, capacity, ip, …) are added on
    /// output, so generated instances look like real ones without costing memory.
    pub typical_fields: bool,
    /// The typical fields' JSON, kept by generated instances (see [`Tail`]).
    pub tail: Tail,
}

impl EmuInstance {
    /// A pay-per-use `RUNNING` Redis instance with typical fields.
    pub fn new(id: &str, name: &str) -> EmuInstance {
        EmuInstance {
            id: id.to_owned(),
            name: name.to_owned(),
            status: "RUNNING".to_owned(),
            charging_mode: 0,
            created_at: "2024-05-06T07:08:09.123Z".to_owned(),
            extra: Map::new(),
            typical_fields: true,
            tail: Tail::default(),
        }
    }

    /// The same, with another status.
    #[must_use]
    pub fn with_status(mut self, status: &str) -> EmuInstance {
        status.clone_into(&mut self.status);
        self
    }

    /// The same, billed yearly/monthly (prepaid).
    #[must_use]
    pub fn prepaid(mut self) -> EmuInstance {
        self.charging_mode = 1;
        self
    }

    /// The same, created at `created_at`.
    #[must_use]
    pub fn created(mut self, created_at: &str) -> EmuInstance {
        created_at.clone_into(&mut self.created_at);
        self
    }

    /// The same, with `field` set to `value` in list answers (e.g. `enterprise_project_id`).
    #[must_use]
    pub fn with_field(mut self, field: &str, value: Value) -> EmuInstance {
        self.extra.insert(field.to_owned(), value);
        self
    }

    /// The same, with these tags (`tags: [{key, value}]` in list answers).
    #[must_use]
    pub fn tagged(self, tags: &[(&str, &str)]) -> EmuInstance {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        self.with_field("tags", Value::Array(tags))
    }

    /// A string field of the list answer: from `extra`, else the typical value.
    fn text_field(&self, field: &str, typical: &'static str) -> String {
        match self.extra.get(field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None if self.typical_fields => typical.to_owned(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        }
    }

    /// `engine` (`Redis` for typical instances).
    pub fn engine(&self) -> String {
        self.text_field("engine", "Redis")
    }

    /// `engine_version` (`5.0` for typical instances).
    pub fn engine_version(&self) -> String {
        self.text_field("engine_version", "5.0")
    }

    /// `product_type` (`generic` for typical instances; `enterprise` for the enterprise
    /// edition).
    pub fn product_type(&self) -> String {
        self.text_field("product_type", "generic")
    }

    /// The tags, as (key, value); a missing value reads as empty.
    pub fn tags(&self) -> Vec<(String, String)> {
        let Some(Value::Array(items)) = self.extra.get("tags") else {
            return Vec::new();
        };
        items
            .iter()
            .filter_map(|t| {
                let key = t.get("key")?;
                let key = key.as_str().map_or_else(|| key.to_string(), str::to_owned);
                let value = match t.get("value") {
                    Some(Value::String(v)) => v.clone(),
                    Some(Value::Null) | None => String::new(),
                    Some(other) => other.to_string(),
                };
                Some((key, value))
            })
            .collect()
    }

    /// Replaces the tags.
    pub fn set_tags(&mut self, tags: &[(String, String)]) {
        let tags: Vec<Value> = tags
            .iter()
            .map(|(k, v)| json!({"key": k, "value": v}))
            .collect();
        self.extra.insert("tags".to_owned(), Value::Array(tags));
    }

    /// Reads an instance from its API JSON; `None` without `instance_id`, `name` and `status`.
    pub fn from_api_json(value: Value) -> Option<EmuInstance> {
        let Value::Object(mut obj) = value else {
            return None;
        };
        let text = |v: Option<Value>| match v {
            Some(Value::String(s)) => Some(s),
            Some(Value::Null) | None => None,
            Some(other) => Some(other.to_string()),
        };
        let id = text(obj.remove("instance_id"))?;
        let name = text(obj.remove("name"))?;
        let status = text(obj.remove("status"))?;
        let charging_mode = text(obj.remove("charging_mode"))
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let created_at = text(obj.remove("created_at")).unwrap_or_default();
        Some(EmuInstance {
            id,
            name,
            status,
            charging_mode,
            created_at,
            extra: obj,
            typical_fields: false,
            tail: Tail::default(),
        })
    }
}

/// A UUID-shaped id derived from `seed`, the same on every run.
fn stable_id(seed: &str) -> String {
    let h = hex::encode(Sha256::digest(seed.as_bytes()));
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// The demo's instances: the two of the DCS documentation's list example ("batch-delete Redis
/// instances"), `dcs-8b1c-000` and `dcs-8b1c-001` with their documented ids and fields, plus a
/// few that a real project might have.
pub fn sample_instances() -> Vec<EmuInstance> {
    vec![
        documented(EmuInstance::new(
            "aabe73af-1db8-4401-b39c-c56996023989",
            "dcs-8b1c-000",
        ))
        .created("2017-03-31T12:24:46.297Z"),
        documented(EmuInstance::new(
            "9d78d0f4-a110-4bcd-8ca3-5aec414163c1",
            "dcs-8b1c-001",
        ))
        .created("2017-03-31T12:25:02.511Z"),
        EmuInstance::new("c7b9e5c1-ebfb-4e86-bc6b-ec8d9aa7e1c2", "orders-cache")
            .created("2024-02-01T09:00:00.000Z"),
        EmuInstance::new("4f3a8d2e-92b6-4e1f-9a4c-7d5e6f708192", "sessions")
            .created("2024-02-01T09:05:00.000Z"),
        EmuInstance::new("3e1f0c2a-5b6d-4e7f-8091-a2b3c4d5e6f7", "ci-pr-1841")
            .created("2026-11-27T22:14:51.006Z"),
        EmuInstance::new("6a7b8c9d-0e1f-4a2b-b3c4-d5e6f7a8b9c0", "ci-pr-1852")
            .with_status("CREATEFAILED")
            .created("2026-11-28T03:40:12.880Z"),
        EmuInstance::new("0b1c2d3e-4f5a-4b6c-8d7e-f8091a2b3c4d", "billing-cache")
            .prepaid()
            .created("2023-07-15T10:30:00.000Z"),
    ]
}

/// The fields the documentation's list example gives its instances (a single-node Redis 5.0 of
/// 128 MB in the VPC `dcs-beta`), over the typical ones.
fn documented(inst: EmuInstance) -> EmuInstance {
    inst.with_field("spec_code", json!("redis.single.xu1.tiny.128"))
        .with_field("capacity", json!(0))
        .with_field("capacity_minor", json!(".125"))
        .with_field("max_memory", json!(460))
        .with_field("vpc_id", json!("1e93f86e-13af-46c8-97d6-d40fa62b76c2"))
        .with_field("vpc_name", json!("dcs-beta"))
        .with_field("security_group_id", json!("securityGroupId"))
        .with_field("user_name", json!("hwstaff"))
        .with_field("description", Value::Null)
}

/// `n` generated pay-per-use `RUNNING` instances named `gen-000000`, `gen-000001`, …, with
/// stable ids and creation times one minute apart.
pub fn generate_instances(n: usize) -> Vec<EmuInstance> {
    let base = time::macros::datetime!(2025-01-01 00:00:00 UTC);
    (0..n)
        .map(|i| {
            let at = base + time::Duration::minutes(i64::try_from(i).unwrap_or(i64::MAX / 120));
            let created = format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.000Z",
                at.year(),
                u8::from(at.month()),
                at.day(),
                at.hour(),
                at.minute(),
                at.second()
            );
            EmuInstance::new(&stable_id(&format!("gen-{i}")), &format!("gen-{i:06}"))
                .created(&created)
                .keep_tail()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_instances_are_stable_and_distinct() {
        let a = generate_instances(3);
        assert_eq!(a, generate_instances(3));
        assert_eq!(a[1].name, "gen-000001");
        assert_eq!(a[1].created_at, "2025-01-01T00:01:00.000Z");
        assert_ne!(a[0].id, a[1].id);
        assert_eq!(a[0].id.len(), 36);
    }
}
