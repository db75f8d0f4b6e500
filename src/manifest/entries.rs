//! The `instances:` list.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::scalar::{EntryId, EntryName, Region, Text};
use super::seen::{KeyOf, Seen, fold_id};
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
        let mut ids = Seen::new(KeyOf::Id);
        let mut names = Seen::new(KeyOf::Name);
        loop {
            let seed = EntrySeed {
                earlier: &entries,
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
    /// The entries read before this one (its index is their count).
    earlier: &'s [Entry],
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
        while let Some(key) = map.next_key::<EntryKey>()? {
            let slot = match key {
                EntryKey::Id => &mut id,
                EntryKey::Name => &mut name,
                EntryKey::Region => &mut region,
                EntryKey::Other(other) => {
                    return Err(de::Error::custom(format!(
                        "unknown key `{other}` in an instance entry; expected `name`, `id` or \
                         `region`"
                    )));
                }
            };
            if slot.is_some() {
                return Err(de::Error::custom(format!(
                    "`{}` is given twice",
                    key.text()
                )));
            }
            let value = match key {
                EntryKey::Id => map.next_value::<Text<EntryId>>()?.0,
                EntryKey::Name => map.next_value::<Text<EntryName>>()?.0,
                _ => map.next_value::<Text<Region>>()?.0,
            };
            *slot = Some(value);
        }
        let earlier = self.earlier;
        let index = earlier.len();
        if let Some(id) = &id {
            // Ids are matched without regard to case, so `ABC` repeats `abc`.
            if let Some((first, why)) =
                self.ids
                    .insert(&fold_id(id), region.as_deref(), index, earlier)
            {
                return Err(de::Error::custom(format!(
                    "duplicate entry: id `{id}` is already declared by instances[{first}]{why} \
                     (ids are compared without regard to case)"
                )));
            }
        } else if let Some(name) = &name {
            if let Some((first, why)) = self.names.insert(name, region.as_deref(), index, earlier) {
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

/// A key of an instance entry, read without copying the three known ones.
enum EntryKey {
    Id,
    Name,
    Region,
    /// Any other key, as written (refused).
    Other(String),
}

impl EntryKey {
    /// The key as written.
    fn text(&self) -> &str {
        match self {
            EntryKey::Id => "id",
            EntryKey::Name => "name",
            EntryKey::Region => "region",
            EntryKey::Other(other) => other,
        }
    }

    fn from_text(v: &str) -> EntryKey {
        match v {
            "id" => EntryKey::Id,
            "name" => EntryKey::Name,
            "region" => EntryKey::Region,
            other => EntryKey::Other(other.to_owned()),
        }
    }
}

impl<'de> Deserialize<'de> for EntryKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        // Read exactly as a `String` key is read (same method, same expectation in errors),
        // only without the copy.
        struct V;
        impl Visitor<'_> for V {
            type Value = EntryKey;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<EntryKey, E> {
                Ok(EntryKey::from_text(v))
            }
            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> std::result::Result<EntryKey, E> {
                std::str::from_utf8(v)
                    .map(EntryKey::from_text)
                    .map_err(|_| E::invalid_value(de::Unexpected::Bytes(v), &self))
            }
        }
        d.deserialize_string(V)
    }
}
