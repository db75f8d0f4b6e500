//! `export`: a manifest written from the live instances, which [`super::parse`] reads back.

use super::scalar::{EntryName, Text, escaped, is_invisible};
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

/// A YAML scalar for `s` on one line, quoted when YAML needs it (`0123`, `yes`, `a: b`, …).
fn yaml_scalar(s: &str) -> String {
    match serde_yaml::to_string(s) {
        Ok(text) if !text.trim_end_matches('\n').contains('\n') => {
            text.trim_end_matches('\n').to_owned()
        }
        // A block scalar (`|-` and indented lines) for multi-line text; a double-quoted JSON
        // string is valid YAML on one line.
        _ => serde_json::Value::String(s.to_owned()).to_string(),
    }
}

/// `name: X` alone, read back the way an instance entry's name is read.
#[derive(serde::Deserialize)]
struct Probe {
    name: Text<EntryName>,
}

/// The scalar to write for an instance's name, or `None` when no scalar reads back as exactly
/// these bytes through [`super::parse`]: empty or space-padded names, and names holding
/// newlines or other invisible characters, which the manifest refuses.
fn name_scalar(name: &str) -> Option<String> {
    let scalar = yaml_scalar(name);
    if scalar.contains(['\n', '\r']) {
        return None;
    }
    let back: Probe = serde_yaml::from_str(&format!("name: {scalar}\n")).ok()?;
    (back.name.0 == name).then_some(scalar)
}

/// `s` on one line for a comment: every line break and invisible character escaped.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '\n' => "\\n".to_owned(),
            '\r' => "\\r".to_owned(),
            c if is_invisible(c) => format!("\\u{{{:x}}}", u32::from(c)),
            c => c.to_string(),
        })
        .collect()
}

/// Writes a manifest declaring `export.instances` by name and id; [`super::parse`] reads it
/// back. An instance whose name would not read back byte-identical (see [`name_scalar`]) is
/// declared by `id` alone, with its name escaped in a comment.
pub fn export_text(export: &Export<'_>) -> String {
    export_with(export, false)
}

/// What the `export` command writes: [`export_text`] plus `deletion: {recycle_bin: true}`
/// with a comment, so that a manifest made by `export` deletes into the recycle bin.
pub fn export_manifest(export: &Export<'_>) -> String {
    export_with(export, true)
}

fn export_with(export: &Export<'_>, recycle_bin: bool) -> String {
    let mut out = String::new();
    for line in &export.header {
        out.push_str(&format!("# {}\n", comment(line)));
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
    if recycle_bin {
        out.push_str(
        "# Deletions go to the DCS recycle bin (kept 7 days, restorable in the console) when the\n\
         # instance can (Redis 4.0 or later, not the Enterprise edition); others are destroyed.\n\
         deletion: {recycle_bin: true}\n",
    );
    }
    if export.instances.is_empty() {
        out.push_str("instances: []\n");
        return out;
    }
    out.push_str("instances:\n");
    for (i, note) in &export.instances {
        out.push_str(&format!("  # {}\n", comment(note)));
        match name_scalar(&i.name) {
            Some(name) => {
                out.push_str(&format!("  - name: {name}\n"));
                out.push_str(&format!("    id: {}\n", yaml_scalar(&i.id)));
            }
            None => {
                out.push_str(&format!(
                    "  # name {} would not read back the same, so this entry gives only the id\n",
                    comment(&escaped(&i.name))
                ));
                out.push_str(&format!("  - id: {}\n", yaml_scalar(&i.id)));
            }
        }
    }
    out
}
