//! The state file: the instances as a list answer (`{"instance_num": N, "instances": [...]}`),
//! plus the emulator's own `recycle_bin` and `activity`.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::data::EmuInstance;

/// Cloud Eye activity of one instance: what its metrics show.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Activity {
    /// Datapoints before this RFC 3339 time show `ops` and `connections`, later ones 0.
    /// `None`: active over the whole window.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_until: Option<String>,
    /// `instantaneous_ops` (commands per second) while active.
    pub ops: f64,
    /// `connected_clients` while active; `total_connections_received`: this many new
    /// connections in all, received in the last active period.
    pub connections: f64,
    /// When true, Cloud Eye has no datapoints at all for the instance.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_data: bool,
}

/// An instance in the recycle bin.
#[derive(Debug, Clone, PartialEq)]
pub struct RecycledInstance {
    /// The instance as it was when deleted.
    pub instance: EmuInstance,
    /// When it went to the recycle bin (RFC 3339).
    pub recycled_at: String,
}

/// Everything a state file holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StateFile {
    /// The instances that exist.
    pub instances: Vec<EmuInstance>,
    /// The recycle bin.
    pub recycle_bin: Vec<RecycledInstance>,
    /// Cloud Eye activity by instance id or name.
    pub activity: BTreeMap<String, Activity>,
}

/// Reads a state file's instances: `{"instances": [...]}` (a list answer) or a bare array.
pub fn load_state_file(path: &Path) -> Result<Vec<EmuInstance>, String> {
    load_state(path).map(|s| s.instances)
}

/// Reads a whole state file (instances, recycle bin, activity).
pub fn load_state(path: &Path) -> Result<StateFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let (items, bin, activity) = match value {
        Value::Array(items) => (items, Vec::new(), Value::Null),
        Value::Object(mut obj) => {
            let items = match obj.remove("instances") {
                Some(Value::Array(items)) => items,
                _ => return Err(format!("{}: expected an `instances` array", path.display())),
            };
            let bin = match obj.remove("recycle_bin") {
                Some(Value::Array(items)) => items,
                None | Some(Value::Null) => Vec::new(),
                Some(_) => {
                    return Err(format!("{}: `recycle_bin` is not an array", path.display()));
                }
            };
            (items, bin, obj.remove("activity").unwrap_or(Value::Null))
        }
        _ => {
            return Err(format!(
                "{}: expected a JSON object or array",
                path.display()
            ));
        }
    };
    let instances = instances_of(path, "instances", items)?;
    let recycle_bin = bin
        .into_iter()
        .enumerate()
        .map(|(i, mut v)| {
            let recycled_at = v
                .as_object_mut()
                .and_then(|o| o.remove("recycled_at"))
                .and_then(|t| t.as_str().map(str::to_owned))
                .unwrap_or_default();
            EmuInstance::from_api_json(v)
                .map(|instance| RecycledInstance {
                    instance,
                    recycled_at,
                })
                .ok_or_else(|| bad_instance(path, "recycle_bin", i))
        })
        .collect::<Result<_, _>>()?;
    let activity = match activity {
        Value::Null => BTreeMap::new(),
        v => serde_json::from_value(v).map_err(|e| format!("{}: activity: {e}", path.display()))?,
    };
    Ok(StateFile {
        instances,
        recycle_bin,
        activity,
    })
}

fn bad_instance(path: &Path, list: &str, i: usize) -> String {
    format!(
        "{}: {list}[{i}] needs string `instance_id`, `name` and `status`",
        path.display()
    )
}

fn instances_of(path: &Path, list: &str, items: Vec<Value>) -> Result<Vec<EmuInstance>, String> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| EmuInstance::from_api_json(v).ok_or_else(|| bad_instance(path, list, i)))
        .collect()
}

/// Writes the state file: a list answer (`{"instance_num": N, "instances": [...]}`), plus
/// `recycle_bin` and `activity` when they are not empty.
pub(super) fn save_state(
    path: &Path,
    instances: &[EmuInstance],
    recycle_bin: &[RecycledInstance],
    activity: &BTreeMap<String, Activity>,
) -> Result<(), String> {
    let mut doc = json!({
        "instance_num": instances.len(),
        "instances": instances.iter().map(EmuInstance::to_api_json).collect::<Vec<_>>(),
    });
    if let Value::Object(obj) = &mut doc {
        if !recycle_bin.is_empty() {
            let bin: Vec<Value> = recycle_bin
                .iter()
                .map(|r| {
                    let mut v = r.instance.to_api_json();
                    if let Value::Object(o) = &mut v {
                        o.insert("recycled_at".to_owned(), json!(r.recycled_at));
                    }
                    v
                })
                .collect();
            obj.insert("recycle_bin".to_owned(), Value::Array(bin));
        }
        if !activity.is_empty() {
            obj.insert(
                "activity".to_owned(),
                serde_json::to_value(activity).map_err(|e| e.to_string())?,
            );
        }
    }
    let text = serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?;
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text + "\n").map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_files_round_trip_unknown_fields() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("state.json");
        std::fs::write(
            &path,
            r#"{"instances":[{"instance_id":"a","name":"n","status":"RUNNING","charging_mode":1,"vpc_name":"v","tags":[{"key":"k","value":"v"}]}]}"#,
        )
        .map_err(|e| e.to_string())?;
        let loaded = load_state_file(&path)?;
        assert_eq!(loaded[0].charging_mode, 1);
        save_state(&path, &loaded, &[], &BTreeMap::new())?;
        let again = load_state_file(&path)?;
        assert_eq!(loaded, again);
        assert_eq!(again[0].extra.get("vpc_name"), Some(&json!("v")));
        Ok(())
    }

    #[test]
    fn recycle_bin_and_activity_round_trip() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("state.json");
        std::fs::write(
            &path,
            r#"{"instances":[],
                "recycle_bin":[{"instance_id":"b","name":"m","status":"RUNNING","recycled_at":"2026-12-01T08:00:00Z"}],
                "activity":{"m":{"active_until":"2026-12-01T08:00:00Z","ops":12,"connections":40}}}"#,
        )
        .map_err(|e| e.to_string())?;
        let state = load_state(&path)?;
        assert_eq!(state.recycle_bin[0].instance.id, "b");
        assert_eq!(state.recycle_bin[0].recycled_at, "2026-12-01T08:00:00Z");
        assert_eq!(state.activity["m"].ops, 12.0);
        save_state(&path, &state.instances, &state.recycle_bin, &state.activity)?;
        assert_eq!(load_state(&path)?, state);
        Ok(())
    }

    #[test]
    fn bad_state_files_are_refused() -> Result<(), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().join("state.json");
        std::fs::write(&path, r#"[{"name":"n"}]"#).map_err(|e| e.to_string())?;
        let err = load_state_file(&path).err().unwrap_or_default();
        assert!(err.contains("instances[0] needs"), "{err}");
        std::fs::write(&path, r#"{"instances":[],"activity":{"x":{"opz":1}}}"#)
            .map_err(|e| e.to_string())?;
        let err = load_state(&path).err().unwrap_or_default();
        assert!(err.contains("activity"), "{err}");
        Ok(())
    }
}
