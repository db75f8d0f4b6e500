//! The guards that refuse a whole plan (exit 3): the empty manifest, `max_delete`, and the
//! near-miss guard for missing entries that read like a deletion.

use std::collections::HashMap;

use super::{Overrides, Plan};
use crate::model::{Guards, Instance};
use crate::util::reading;

impl Plan {
    /// Missing entries that look like an instance this plan deletes: equal once case, Unicode
    /// form, invisible characters and white space are set aside. Such a plan is refused
    /// whatever the overrides: the entry was most likely meant to keep that instance.
    pub fn near_misses(&self) -> Vec<String> {
        if self.missing.is_empty() || (self.delete.is_empty() && self.mark.is_empty()) {
            return Vec::new();
        }
        let mut by_reading: HashMap<String, Vec<&Instance>> = HashMap::new();
        // A mark leads to a deletion later: it counts the same.
        for d in self.delete.iter().chain(&self.mark) {
            by_reading
                .entry(reading(&d.instance.name))
                .or_default()
                .push(&d.instance);
            by_reading
                .entry(reading(&d.instance.id))
                .or_default()
                .push(&d.instance);
        }
        let mut out = Vec::new();
        for e in &self.missing {
            let mut seen: Vec<&str> = Vec::new();
            for written in e.name.iter().chain(&e.id) {
                for i in by_reading.get(&reading(written)).into_iter().flatten() {
                    if seen.contains(&i.id.as_str()) {
                        continue;
                    }
                    seen.push(&i.id);
                    out.push(format!(
                        "near miss: {} matches no live instance, but {:?} ({}) would be \
                         deleted; did you mean {:?}? They differ only in case, Unicode form, \
                         invisible characters or white space; fix the entry",
                        e.label().escape_debug(),
                        i.name,
                        i.id,
                        i.name
                    ));
                }
            }
        }
        out
    }

    /// The guards that refuse this plan, as messages; empty when none does.
    ///
    /// - An empty `instances:` list that would delete something is refused unless allowed:
    ///   an empty list is far more often a broken file or template than a wish to delete
    ///   everything (Argo CD's `allowEmpty: false` exists for the same reason).
    /// - More deletions than `max_delete` (a count, or a percentage of the managed instances)
    ///   are refused unless `--max-delete` raises the cap for this run.
    pub fn refusals(&self, guards: &Guards, overrides: Overrides) -> Vec<String> {
        let mut out = self.near_misses();
        let managed = self.managed();
        if self.declared == 0
            && !self.delete.is_empty()
            && !guards.allow_empty
            && !overrides.allow_empty
        {
            out.push(format!(
                "empty manifest: `instances:` declares nothing, so all {} deletable of the \
                 {managed} managed instances would go; if that is really meant, set \
                 `guards: {{allow_empty: true}}` or pass --allow-empty",
                self.delete.len()
            ));
        }
        let cap = match (overrides.max_delete, guards.max_delete) {
            (Some(n), _) => Some((n, format!("--max-delete {n}"))),
            (None, Some(limit)) => Some((
                limit.allowed(managed),
                format!("max_delete {limit} of {managed} managed instances"),
            )),
            (None, None) => None,
        };
        if let Some((allowed, what)) = &cap
            && self.delete.len() > *allowed
        {
            out.push(format!(
                "max_delete: {} deletions exceed the cap of {allowed} ({what}); review the \
                 plan and pass --max-delete {} to allow this run",
                self.delete.len(),
                self.delete.len()
            ));
        }
        // A run may not mark more than it could delete.
        if let Some((allowed, what)) = &cap
            && self.mark.len() > *allowed
        {
            out.push(format!(
                "max_delete: {} instances to mark for deletion exceed the cap of {allowed} \
                 ({what}); review the plan and pass --max-delete {} to allow this run",
                self.mark.len(),
                self.mark.len()
            ));
        }
        if self.declared == 0
            && self.delete.is_empty()
            && !self.mark.is_empty()
            && !guards.allow_empty
            && !overrides.allow_empty
        {
            out.push(format!(
                "empty manifest: `instances:` declares nothing, so all {} deletable of the \
                 {managed} managed instances would be marked for deletion; if that is really \
                 meant, set `guards: {{allow_empty: true}}` or pass --allow-empty",
                self.mark.len()
            ));
        }
        out
    }
}
