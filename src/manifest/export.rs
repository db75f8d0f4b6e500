//! `export`: a manifest written from the live instances, which [`super::parse`] reads back.

use crate::model::{Instance, Scope};

/// What `export` writes: where the instances live and which ones to declare.
#[derive(Debug, Clone)]
pub struct Export<'a> {
    /// Comment lines for the top of the file (without `# `).
    pub header: Vec<String>,
    /// `project_id:`.
    pub project_id: &'a str,
    /// `region:`, when the target came from a region.
    pub region: Option<&'a str>,
    /// `endpoint:`, when the target did not come from a region.
    pub endpoint: Option<&'a str>,
    /// `scope:` to carry over.
    pub scope: &'a Scope,
    /// The instances to declare, each with a comment line.
    pub instances: Vec<(&'a Instance, String)>,
}

/// A YAML scalar for `s`, quoted when YAML needs it (`0123`, `yes`, `a: b`, …).
fn yaml_scalar(s: &str) -> String {
    match serde_yaml::to_string(s) {
        Ok(text) => text.trim_end_matches('\n').to_owned(),
        // Cannot happen for a string; fall back to a double-quoted JSON string, valid YAML.
        Err(_) => serde_json::Value::String(s.to_owned()).to_string(),
    }
}

/// Writes a manifest declaring `export.instances` by name and id; [`parse`] reads it back.
pub fn export_text(export: &Export<'_>) -> String {
    let mut out = String::new();
    for line in &export.header {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str(&format!("project_id: {}\n", yaml_scalar(export.project_id)));
    if let Some(region) = export.region {
        out.push_str(&format!("region: {}\n", yaml_scalar(region)));
    }
    if let Some(endpoint) = export.endpoint {
        out.push_str(&format!("endpoint: {}\n", yaml_scalar(endpoint)));
    }
    let scope = export.scope;
    if !scope.is_everything() {
        out.push_str("scope:\n");
        if let Some(p) = &scope.name_prefix {
            out.push_str(&format!("  name_prefix: {}\n", yaml_scalar(p)));
        }
        if let Some(r) = &scope.name_regex {
            out.push_str(&format!("  name_regex: {}\n", yaml_scalar(r.source())));
        }
        if let Some(e) = &scope.enterprise_project_id {
            out.push_str(&format!("  enterprise_project_id: {}\n", yaml_scalar(e)));
        }
        if !scope.tags.is_empty() {
            out.push_str("  tags:\n");
            for (k, v) in &scope.tags {
                out.push_str(&format!("    {}: {}\n", yaml_scalar(k), yaml_scalar(v)));
            }
        }
    }
    if export.instances.is_empty() {
        out.push_str("instances: []\n");
        return out;
    }
    out.push_str("instances:\n");
    for (i, comment) in &export.instances {
        out.push_str(&format!("  # {}\n", comment.replace(['\n', '\r'], " ")));
        out.push_str(&format!("  - name: {}\n", yaml_scalar(&i.name)));
        out.push_str(&format!("    id: {}\n", yaml_scalar(&i.id)));
    }
    out
}
