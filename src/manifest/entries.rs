//! The `instances:` list.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::regions::Seen;
use super::scalar::{EntryId, EntryName, Region, Text};
use crate::model::Entry;

/// The `instances:` list, validated while it is read so that errors carry the line.
pub(super) struct Instances(pub(super) Vec<Entry>);

impl<'de> Deserialize<'de> for Instances {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_seq(InstancesVisitor)
    }
}

pub(super) struct InstancesVisitor;

impl<'de> Visitor<'de> for InstancesVisitor {
    type Value = Instances;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of instances, each with `name`, `id` or both (an empty list is `[]`)")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Instances, A::Error> {
        let mut entries: Vec<Entry> = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        let mut ids = Seen::default();
        let mut names = Seen::default();
        loop {
            let seed = EntrySeed {
                index: entries.len(),
                ids: &mut ids,
                names: &mut names,
            };
            match seq.next_element_seed(seed)? {
                Some(entry) => entries.push(entry),
                None => break,
            }
        }
        Ok(Instances(entries))
    }
}

/// Reads one list item, checking it (and that it repeats no earlier entry) while it is read, so
/// that every error carries the item's line.
pub(super) struct EntrySeed<'s> {
    index: usize,
    ids: &'s mut Seen,
    names: &'s mut Seen,
}

impl<'de> de::DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = Entry;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Entry, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = Entry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an instance: a mapping with `name`, `id` or both")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Entry, A::Error> {
        let mut id: Option<String> = None;
        let mut name: Option<String> = None;
        let mut region: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            let slot = match key.as_str() {
                "id" => &mut id,
                "name" => &mut name,
                "region" => &mut region,
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown key `{other}` in an instance entry; expected `name`, `id` or \
                         `region`"
                    )));
                }
            };
            if slot.is_some() {
                return Err(de::Error::custom(format!("`{key}` is given twice")));
            }
            let value = match key.as_str() {
                "id" => map.next_value::<Text<EntryId>>()?.0,
                "name" => map.next_value::<Text<EntryName>>()?.0,
                _ => map.next_value::<Text<Region>>()?.0,
            };
            *slot = Some(value);
        }
        let index = self.index;
        if let Some(id) = &id {
            // Ids are matched without regard to case, so `ABC` repeats `abc`.
            if let Some((first, why)) = self.ids.insert(id.to_lowercase(), region.as_deref(), index)
            {
                return Err(de::Error::custom(format!(
                    "duplicate entry: id `{id}` is already declared by instances[{first}]{why} \
                     (ids are compared without regard to case)"
                )));
            }
        } else if let Some(name) = &name {
            if let Some((first, why)) = self.names.insert(name.clone(), region.as_deref(), index) {
                return Err(de::Error::custom(format!(
                    "duplicate entry: name `{name}` is already declared by instances[{first}]{why}"
                )));
            }
        } else {
            return Err(de::Error::custom(
                "an instance entry needs `name`, `id` or both",
            ));
        }
        Ok(Entry {
            index,
            id,
            name,
            region,
        })
    }
}
