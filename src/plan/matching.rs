//! Matching the manifest's entries with the live instances: ids without regard to case,
//! names in Unicode normal form C.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::model::{Entry, Instance};
use crate::util::nfc;

/// An id as compared: lower case (ids are UUIDs; the API writes them in lower case).
fn id_key(id: &str) -> Cow<'_, str> {
    if id.chars().any(char::is_uppercase) {
        Cow::Owned(id.to_lowercase())
    } else {
        Cow::Borrowed(id)
    }
}

/// For each live instance, the index of the first entry that declares it; and the entries that
/// match nothing.
pub(super) type Matches = (Vec<Option<usize>>, Vec<Entry>);

/// The [`Matches`] of `entries` among `live`. `Err`: the id/name conflicts.
pub(super) fn match_entries(entries: &[Entry], live: &[Instance]) -> Result<Matches, Vec<String>> {
    const NONE: usize = usize::MAX;
    // Ids are compared without regard to case, names in Unicode normal form C: an id typed in
    // upper case, or a name typed decomposed, is the same instance, never a "missing" entry
    // beside a deletion that looks identical.
    let mut by_id: HashMap<Cow<'_, str>, usize> = HashMap::with_capacity(live.len());
    // Instances of the same name form a chain: `first_named[name]`, then `next_named[i]`, in
    // listing order (no list allocated per name).
    let mut first_named: HashMap<Cow<'_, str>, usize> = HashMap::with_capacity(live.len());
    let mut next_named: Vec<usize> = vec![NONE; live.len()];
    for (i, inst) in live.iter().enumerate().rev() {
        by_id.insert(id_key(&inst.id), i);
        if let Some(next) = first_named.insert(nfc(&inst.name), i) {
            next_named[i] = next;
        }
    }
    let named = |name: &str| -> Vec<usize> {
        let mut out = Vec::new();
        let mut at = first_named.get(&nfc(name)).copied().unwrap_or(NONE);
        while at != NONE {
            out.push(at);
            at = next_named[at];
        }
        out
    };

    // For each live instance, the first entry that declares it.
    let mut declared_by: Vec<Option<usize>> = vec![None; live.len()];
    let mut missing = Vec::new();
    let mut conflicts = Vec::new();

    for entry in entries {
        let matched: Vec<usize> = match (&entry.id, &entry.name) {
            (Some(id), name) => match by_id.get(&id_key(id)) {
                Some(&i) => {
                    if let Some(name) = name
                        && nfc(&live[i].name) != nfc(name)
                    {
                        conflicts.push(format!(
                            "{}: the live instance {id} is named `{}`, not `{name}`",
                            entry.label(),
                            live[i].name
                        ));
                    }
                    vec![i]
                }
                None => {
                    if let Some(name) = name {
                        let others = named(name);
                        if !others.is_empty() {
                            let ids: Vec<&str> =
                                others.iter().map(|&i| live[i].id.as_str()).collect();
                            conflicts.push(format!(
                                "{}: no live instance has id {id}, but `{name}` exists with id {}",
                                entry.label(),
                                ids.join(", ")
                            ));
                        }
                    }
                    Vec::new()
                }
            },
            (None, Some(name)) => {
                // The common case: no list built, the chain is walked in place.
                let mut at = first_named.get(&nfc(name)).copied().unwrap_or(NONE);
                if at == NONE {
                    missing.push(entry.clone());
                }
                while at != NONE {
                    declared_by[at].get_or_insert(entry.index);
                    at = next_named[at];
                }
                continue;
            }
            (None, None) => Vec::new(),
        };
        if matched.is_empty() {
            missing.push(entry.clone());
        }
        for i in matched {
            declared_by[i].get_or_insert(entry.index);
        }
    }
    if conflicts.is_empty() {
        Ok((declared_by, missing))
    } else {
        Err(conflicts)
    }
}
