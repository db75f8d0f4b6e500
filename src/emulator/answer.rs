//! How an emulator instance is written in the API's own JSON: the fields it acts on, then the
//! ~35 others a real list answer carries ([`typical_fields`], varied per instance by
//! [`Variety`]), written without building a `Value` for generated instances, whose JSON is made
//! once ([`Tail`]).

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::data::EmuInstance;

/// The JSON of a generated instance as a list answer holds it, made once with the values it
/// was made from, so that a page of 1,000 generated instances costs the emulator a copy
/// instead of 40,000 serialised fields. It is used only while those values (id, name, status,
/// billing mode, creation time) are unchanged, and it is not part of the instance's state:
/// instances compare equal whether they keep it or not.
#[derive(Clone, Default)]
pub struct Tail(Option<std::sync::Arc<TailJson>>);

struct TailJson {
    id: String,
    name: String,
    status: String,
    charging_mode: i64,
    created_at: String,
    typical_fields: bool,
    /// `{"instance_id":…,"created_at":…,"engine":…,"features":{…}}`.
    json: Vec<u8>,
}

impl PartialEq for Tail {
    fn eq(&self, _: &Tail) -> bool {
        true
    }
}

impl std::fmt::Debug for Tail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Tail(kept)"
        } else {
            "Tail(none)"
        })
    }
}

impl EmuInstance {
    /// The instance as an element of a list answer.
    pub fn to_api_json(&self) -> Value {
        let mut obj = if self.typical_fields {
            typical_fields(&self.id, self.charging_mode, &self.created_at)
        } else {
            Map::new()
        };
        for (k, v) in &self.extra {
            obj.insert(k.clone(), v.clone());
        }
        obj.insert("instance_id".to_owned(), json!(self.id));
        obj.insert("name".to_owned(), json!(self.name));
        obj.insert("status".to_owned(), json!(self.status));
        // An extra `charging_mode` (null, 1.5, true: what a doubtful listing holds) wins.
        if !self.extra.contains_key("charging_mode") {
            obj.insert("charging_mode".to_owned(), json!(self.charging_mode));
        }
        obj.insert("created_at".to_owned(), json!(self.created_at));
        Value::Object(obj)
    }

    /// The typical fields as one JSON object, `{"engine":…,"features":{…}}`.
    fn tail_json(&self) -> Vec<u8> {
        let v = Variety::of(&self.id);
        let typical = Typical {
            engine: "Redis",
            engine_version: "5.0",
            spec_code: "redis.ha.xu1.tiny.r2.128",
            cpu_type: "x86_64",
            capacity: 0,
            capacity_minor: ".125",
            max_memory: 128,
            used_memory: v.used_memory,
            ip: v.ip(),
            port: 6379,
            domain_name: format!("redis-{}.dcs.huaweicloud.com", self.id),
            readonly_domain_name: format!("redis-{}-readonly.dcs.huaweicloud.com", self.id),
            vpc_id: "1e93f86e-13af-46c8-97d6-d40fa62b76c2",
            vpc_name: "vpc-default",
            subnet_id: v.subnet_id,
            security_group_id: v.security_group_id,
            order_id: (self.charging_mode == 1).then_some("CS2405060708ABCDE"),
            publicip_id: None,
            publicip_address: None,
            enable_publicip: false,
            enable_ssl: false,
            service_upgrade: false,
            no_password_access: "true",
            access_user: None,
            description: None,
            service_task_id: "",
            maintain_begin: "18:00:00",
            maintain_end: "19:00:00",
            updated_at: &self.created_at,
            user_id: "7a6e1b0f7b4d4c35b2c9b0f0b0a0c0d0",
            user_name: "dcs-user",
            enterprise_project_id: "0",
            sub_status: "normal",
            product_type: "generic",
            az_codes: v.az_codes,
            tags: [],
            features: Features {
                support_acl: true,
                support_transparent_client_ip: true,
                support_ssl: false,
                support_audit_log: false,
            },
        };
        serde_json::to_vec(&typical).unwrap_or_default()
    }

    /// The instance, keeping its typical fields' JSON (for generated instances).
    #[must_use]
    pub fn keep_tail(mut self) -> EmuInstance {
        self.tail = Tail::default();
        let mut json = Vec::new();
        self.write_api_json(&mut json);
        self.tail = Tail(Some(std::sync::Arc::new(TailJson {
            id: self.id.clone(),
            name: self.name.clone(),
            status: self.status.clone(),
            charging_mode: self.charging_mode,
            created_at: self.created_at.clone(),
            typical_fields: self.typical_fields,
            json,
        })));
        self
    }

    /// Appends the instance as an element of a list answer to `out`: the same JSON as
    /// [`EmuInstance::to_api_json`], written without building a `Value` when the instance
    /// has no extra fields (generated instances never do).
    pub fn write_api_json(&self, out: &mut Vec<u8>) {
        if self.extra.is_empty() {
            let kept = self.tail.0.as_ref().filter(|t| {
                t.id == self.id
                    && t.name == self.name
                    && t.status == self.status
                    && t.charging_mode == self.charging_mode
                    && t.created_at == self.created_at
                    && t.typical_fields == self.typical_fields
            });
            if let Some(t) = kept {
                out.extend_from_slice(&t.json);
                return;
            }
            let base = ApiJson {
                instance_id: &self.id,
                name: &self.name,
                status: &self.status,
                charging_mode: self.charging_mode,
                created_at: &self.created_at,
            };
            let len = out.len();
            if serde_json::to_writer(&mut *out, &base).is_ok() {
                if !self.typical_fields {
                    return;
                }
                // `{"instance_id":…,"created_at":"…"}` and `{"engine":…}` as one object.
                let tail = self.tail_json();
                if let (Some(b'}'), Some(fields)) = (out.last(), tail.get(1..)) {
                    out.pop();
                    out.push(b',');
                    out.extend_from_slice(fields);
                    return;
                }
            }
            out.truncate(len);
        }
        // A `Value` always serialises.
        let _ = serde_json::to_writer(out, &self.to_api_json());
    }
}

/// [`EmuInstance::write_api_json`]'s document.
#[derive(Serialize)]
struct ApiJson<'a> {
    instance_id: &'a str,
    name: &'a str,
    status: &'a str,
    charging_mode: i64,
    created_at: &'a str,
}

/// The same fields as [`typical_fields`], as a struct that serialises without a map.
#[derive(Serialize)]
struct Typical<'a> {
    engine: &'static str,
    engine_version: &'static str,
    spec_code: &'static str,
    cpu_type: &'static str,
    capacity: u32,
    capacity_minor: &'static str,
    max_memory: u32,
    used_memory: u32,
    ip: String,
    port: u16,
    domain_name: String,
    readonly_domain_name: String,
    vpc_id: &'static str,
    vpc_name: &'static str,
    subnet_id: &'static str,
    security_group_id: &'static str,
    order_id: Option<&'static str>,
    publicip_id: Option<&'static str>,
    publicip_address: Option<&'static str>,
    enable_publicip: bool,
    enable_ssl: bool,
    service_upgrade: bool,
    no_password_access: &'static str,
    access_user: Option<&'static str>,
    description: Option<&'static str>,
    service_task_id: &'static str,
    maintain_begin: &'static str,
    maintain_end: &'static str,
    updated_at: &'a str,
    user_id: &'static str,
    user_name: &'static str,
    enterprise_project_id: &'static str,
    sub_status: &'static str,
    product_type: &'static str,
    az_codes: [&'static str; 2],
    tags: [(); 0],
    features: Features,
}

#[derive(Serialize)]
struct Features {
    support_acl: bool,
    support_transparent_client_ip: bool,
    support_ssl: bool,
    support_audit_log: bool,
}

/// The fields a real list answer carries besides the ones the emulator acts on: every field of
/// the official SDK's `InstanceListInfo` (huaweicloudsdkdcs 3.1.219), plus `product_type`,
/// which the API documentation's example has and the SDK model lacks.
fn typical_fields(id: &str, charging_mode: i64, created_at: &str) -> Map<String, Value> {
    let v = Variety::of(id);
    let Value::Object(obj) = json!({
        "engine": "Redis",
        "engine_version": "5.0",
        "spec_code": "redis.ha.xu1.tiny.r2.128",
        "cpu_type": "x86_64",
        "capacity": 0,
        "capacity_minor": ".125",
        "max_memory": 128,
        "used_memory": v.used_memory,
        "ip": v.ip(),
        "port": 6379,
        "domain_name": format!("redis-{id}.dcs.huaweicloud.com"),
        "readonly_domain_name": format!("redis-{id}-readonly.dcs.huaweicloud.com"),
        "vpc_id": "1e93f86e-13af-46c8-97d6-d40fa62b76c2",
        "vpc_name": "vpc-default",
        "subnet_id": v.subnet_id,
        "security_group_id": v.security_group_id,
        "order_id": if charging_mode == 1 { json!("CS2405060708ABCDE") } else { Value::Null },
        "publicip_id": null,
        "publicip_address": null,
        "enable_publicip": false,
        "enable_ssl": false,
        "service_upgrade": false,
        "no_password_access": "true",
        "access_user": null,
        "description": null,
        "service_task_id": "",
        "maintain_begin": "18:00:00",
        "maintain_end": "19:00:00",
        "updated_at": created_at,
        "user_id": "7a6e1b0f7b4d4c35b2c9b0f0b0a0c0d0",
        "user_name": "dcs-user",
        "enterprise_project_id": "0",
        "sub_status": "normal",
        "product_type": "generic",
        "az_codes": v.az_codes,
        "tags": [],
        "features": {
            "support_acl": true,
            "support_transparent_client_ip": true,
            "support_ssl": false,
            "support_audit_log": false
        }
    }) else {
        return Map::new();
    };
    obj
}

/// The values of a typical instance's fields that differ from one instance to the next in a
/// real project (address, subnet, security group, zones, memory in use), derived from its id,
/// so the same instance always looks the same and nothing more is stored per instance.
struct Variety {
    /// Spread over the id's bytes (FNV-1a).
    hash: u32,
    used_memory: u32,
    subnet_id: &'static str,
    security_group_id: &'static str,
    az_codes: [&'static str; 2],
}

/// Subnets of the project's VPC, with the security group of each.
const SUBNETS: [(&str, &str); 4] = [
    (
        "2b4b0ee1-9c72-4b3c-a6a5-2ee0eb36ad61",
        "0e7d4c0a-6a9f-4f5e-8f7b-1c2d3e4f5a6b",
    ),
    (
        "8d1f5c3e-7a2b-4c9d-b0e1-f2a3b4c5d6e7",
        "0e7d4c0a-6a9f-4f5e-8f7b-1c2d3e4f5a6b",
    ),
    (
        "c4e5f6a7-b8c9-4d0e-9f1a-2b3c4d5e6f70",
        "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d",
    ),
    (
        "f0e1d2c3-b4a5-4968-8776-5e4d3c2b1a09",
        "5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d",
    ),
];

/// The availability zones a master/standby instance spreads over.
const ZONES: [[&str; 2]; 3] = [
    ["cn-north-4a", "cn-north-4b"],
    ["cn-north-4b", "cn-north-4c"],
    ["cn-north-4c", "cn-north-4a"],
];

impl Variety {
    fn of(id: &str) -> Variety {
        let hash = id.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        let (subnet_id, security_group_id) = SUBNETS[(hash % 4) as usize];
        Variety {
            hash,
            used_memory: 1 + (hash >> 8) % 100,
            subnet_id,
            security_group_id,
            az_codes: ZONES[((hash >> 4) % 3) as usize],
        }
    }

    /// A private address in the subnet, never its network or broadcast address.
    fn ip(&self) -> String {
        let subnet = self.hash % 4;
        let host = (self.hash >> 16) & 0xffff;
        format!(
            "192.168.{}.{}",
            subnet * 16 + (host >> 8) % 16,
            1 + (host & 0xff) % 254
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::data::generate_instances;

    /// The attribute map of the official SDK's `InstanceListInfo` (huaweicloudsdkdcs).
    const SDK_FIELDS: [&str; 41] = [
        "publicip_id",
        "vpc_name",
        "charging_mode",
        "vpc_id",
        "subnet_id",
        "security_group_id",
        "created_at",
        "updated_at",
        "enable_ssl",
        "max_memory",
        "used_memory",
        "publicip_address",
        "capacity",
        "capacity_minor",
        "order_id",
        "maintain_begin",
        "maintain_end",
        "engine",
        "engine_version",
        "service_upgrade",
        "no_password_access",
        "service_task_id",
        "ip",
        "access_user",
        "instance_id",
        "enable_publicip",
        "port",
        "user_id",
        "user_name",
        "domain_name",
        "readonly_domain_name",
        "name",
        "spec_code",
        "status",
        "tags",
        "enterprise_project_id",
        "description",
        "cpu_type",
        "az_codes",
        "features",
        "sub_status",
    ];

    #[test]
    fn generated_answers_carry_every_field_of_the_sdk_model_with_varied_values()
    -> Result<(), String> {
        let mut ips = std::collections::HashSet::new();
        let mut subnets = std::collections::HashSet::new();
        for inst in generate_instances(200) {
            let mut out = Vec::new();
            inst.write_api_json(&mut out);
            let v: Value = serde_json::from_slice(&out).map_err(|e| e.to_string())?;
            let obj = v.as_object().ok_or("not an object")?;
            for field in SDK_FIELDS {
                assert!(obj.contains_key(field), "{field} is missing");
            }
            assert_eq!(obj.len(), SDK_FIELDS.len() + 1, "plus product_type");
            let ip = obj["ip"].as_str().ok_or("ip")?;
            let last: u32 = ip
                .rsplit('.')
                .next()
                .and_then(|t| t.parse().ok())
                .ok_or("ip")?;
            assert!((1..=254).contains(&last), "{ip}");
            assert_eq!(obj["updated_at"], obj["created_at"]);
            assert_eq!(obj["az_codes"].as_array().map(Vec::len), Some(2));
            assert!(obj["used_memory"].as_u64() <= obj["max_memory"].as_u64());
            ips.insert(ip.to_owned());
            subnets.insert(obj["subnet_id"].to_string());
        }
        assert!(ips.len() > 150, "addresses repeat too often: {}", ips.len());
        assert_eq!(subnets.len(), 4);
        Ok(())
    }

    #[test]
    fn written_json_is_the_same_as_the_value() -> Result<(), String> {
        let mut loaded = EmuInstance::new("x", "y").with_status("ERROR");
        loaded.typical_fields = false;
        loaded.extra.insert("vpc_name".to_owned(), json!("v"));
        let mut bare = EmuInstance::new("b", "c");
        bare.typical_fields = false;
        // A generated instance keeps its typical fields' JSON; when what they were made from
        // changes, they are made again.
        let mut changed = generate_instances(3).remove(2);
        changed.charging_mode = 1;
        changed.created_at = "2026-01-02T03:04:05.000Z".to_owned();
        changed.status = "DELETING".to_owned();
        let mut renamed = generate_instances(2).remove(0);
        renamed.id = "other-id".to_owned();
        let mut named = generate_instances(2).remove(0);
        named.name = "another-name".to_owned();
        let mut deleting = generate_instances(2).remove(1);
        deleting.status = "DELETING".to_owned();
        let mut plain = generate_instances(2).remove(1);
        plain.typical_fields = false;
        for inst in [
            bare,
            changed,
            renamed,
            named,
            deleting,
            plain,
            generate_instances(2).remove(1),
            EmuInstance::new("a-b", "n").prepaid(),
            loaded,
        ] {
            let mut out = Vec::new();
            inst.write_api_json(&mut out);
            let written: Value = serde_json::from_slice(&out).map_err(|e| e.to_string())?;
            assert_eq!(written, inst.to_api_json());
        }
        Ok(())
    }
}
