//! Domain types shared by the manifest, the API client, the planner and the renderers.
//!
//! No YAML, no HTTP, no I/O here: these are plain values.

/// A live DCS instance, reduced to the fields the plan and its output need.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Instance {
    /// `instance_id`.
    pub id: String,
    /// `name`.
    pub name: String,
    /// `status`, e.g. `RUNNING`, `CREATEFAILED`, `CREATING`; unknown values are kept as they are.
    pub status: String,
    /// `created_at` as the API gives it, e.g. `2017-03-31T12:24:46.297Z`.
    pub created_at: Option<String>,
    /// `charging_mode`: 0 pay-per-use, 1 prepaid (yearly/monthly).
    pub charging_mode: Option<i64>,
    /// `engine` and `engine_version`, e.g. `Redis 5.0`.
    pub engine: Option<String>,
    /// `spec_code`, e.g. `redis.ha.xu1.tiny.r2.128`.
    pub spec_code: Option<String>,
    /// `enterprise_project_id`.
    pub enterprise_project_id: Option<String>,
    /// `tags` as key/value pairs.
    pub tags: Vec<(String, String)>,
}

impl Instance {
    /// True when the instance is billed yearly/monthly and so cannot be deleted through this API.
    pub fn is_prepaid(&self) -> bool {
        self.charging_mode == Some(1)
    }

    /// `name (id)`, the way messages name an instance.
    pub fn label(&self) -> String {
        format!("{} ({})", self.name, self.id)
    }
}

/// One entry of the manifest's `instances:` list: an instance that should exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Position in the list, 0-based, for messages (`instances[3]`).
    pub index: usize,
    /// Matches the instance with this id.
    pub id: Option<String>,
    /// Matches every instance of exactly this name (when `id` is not given), or must equal the
    /// name of the instance with `id` (when it is).
    pub name: Option<String>,
}

impl Entry {
    /// `instances[3] (name: a, id: b)`.
    pub fn label(&self) -> String {
        let mut parts = Vec::new();
        if let Some(name) = &self.name {
            parts.push(format!("name: {name}"));
        }
        if let Some(id) = &self.id {
            parts.push(format!("id: {id}"));
        }
        format!("instances[{}] ({})", self.index, parts.join(", "))
    }
}
