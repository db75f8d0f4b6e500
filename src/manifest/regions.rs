//! `regions:`: one manifest for several regions, and the entries that belong to one of them.
//!
//! The checks that need the whole file (`regions:` beside a top-level `region:`, an entry's
//! `region:` that is not listed) run after parsing, on values; only when one fails is the text
//! read again ([`locate`]), so that the error names the line of the key at fault. A manifest
//! without `regions:` and without entry regions pays nothing for this.

use std::borrow::Cow;
use std::collections::HashMap;
use std::collections::hash_map::{Entry as Slot, RandomState};
use std::fmt;
use std::hash::{BuildHasher, BuildHasherDefault, Hasher};

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::scalar::{CesEndpoint, Endpoint, ProjectId, Region, Text};
use super::{Entry, Manifest};
use crate::error::Error;

/// One item of `regions:`: a region, and optionally its project and endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionTarget {
    /// `region`, e.g. `cn-north-4`.
    pub region: String,
    /// `project_id`; else looked up in IAM by region.
    pub project_id: Option<String>,
    /// `endpoint`, overriding the region's (checked as the top-level `endpoint` is).
    pub endpoint: Option<String>,
    /// `ces_endpoint`, the Cloud Eye endpoint overriding the region's.
    pub ces_endpoint: Option<String>,
}

/// The top-level keys that `regions:` replaces.
pub(super) const REPLACED: [&str; 4] = ["region", "project_id", "endpoint", "ces_endpoint"];

impl Manifest {
    /// The targets of this manifest: itself when it has no `regions:` (a clone; a caller that
    /// owns the manifest should use [`Manifest::into_targets`], which copies nothing then);
    /// otherwise one manifest per listed region, in the listed order, with `region`,
    /// `project_id`, `endpoint` and `ces_endpoint` from the item, `regions` empty, and the
    /// entries without `region:` or of that region (keeping their `index`).
    pub fn targets(&self) -> Vec<Manifest> {
        if self.regions.is_empty() {
            return vec![self.clone()];
        }
        self.regions.iter().map(|r| self.for_region(r)).collect()
    }

    /// [`Manifest::targets`], consuming the manifest: without `regions:` it is returned as
    /// it is, with nothing copied.
    pub fn into_targets(self) -> Vec<Manifest> {
        if self.regions.is_empty() {
            return vec![self];
        }
        self.regions.iter().map(|r| self.for_region(r)).collect()
    }

    fn for_region(&self, target: &RegionTarget) -> Manifest {
        let instances: Vec<Entry> = self
            .instances
            .iter()
            .filter(|e| e.region.as_ref().is_none_or(|r| *r == target.region))
            .cloned()
            .collect();
        Manifest {
            path: self.path.clone(),
            project_id: target.project_id.clone(),
            region: Some(target.region.clone()),
            endpoint: target.endpoint.clone(),
            ces_endpoint: target.ces_endpoint.clone(),
            regions: Vec::new(),
            instances,
            rules: self.rules.clone(),
            sha256: self.sha256.clone(),
            text: self.text.clone(),
        }
    }
}

/// The `regions:` list, checked while it is read: not empty, no region twice, each item with
/// `region:` and only known keys.
pub(super) struct RegionList(pub(super) Vec<RegionTarget>);

impl<'de> Deserialize<'de> for RegionList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RegionList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of regions, each a mapping with `region:`")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RegionList, A::Error> {
                let mut out: Vec<RegionTarget> = Vec::new();
                while let Some(item) = seq.next_element_seed(ItemSeed { before: &out })? {
                    out.push(item);
                }
                if out.is_empty() {
                    return Err(de::Error::custom(
                        "`regions:` is empty; list at least one region (`- region: \
                         cn-north-4`), or remove `regions:` and use `region:` at the top",
                    ));
                }
                Ok(RegionList(out))
            }
        }
        d.deserialize_seq(V)
    }
}

/// One item of `regions:`, knowing the items before it.
struct ItemSeed<'a> {
    before: &'a [RegionTarget],
}

impl<'de> DeserializeSeed<'de> for ItemSeed<'_> {
    type Value = RegionTarget;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RegionTarget, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ItemSeed<'_> {
    type Value = RegionTarget;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a region: a mapping with `region:` (and `project_id:`, `endpoint:`, …)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RegionTarget, A::Error> {
        let mut region: Option<String> = None;
        let mut project_id: Option<String> = None;
        let mut endpoint: Option<String> = None;
        let mut ces_endpoint: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            let (slot, value) = match key.as_str() {
                "region" => (&mut region, map.next_value::<Text<Region>>().map(|v| v.0)),
                "project_id" => (
                    &mut project_id,
                    map.next_value::<Text<ProjectId>>().map(|v| v.0),
                ),
                "endpoint" => (
                    &mut endpoint,
                    map.next_value::<Text<Endpoint>>().and_then(|v| {
                        // Checked here, with the line, as `validate` checks the top-level one.
                        crate::config::check_endpoint(&v.0, "`endpoint`")
                            .map(|_| v.0)
                            .map_err(|e| de::Error::custom(e.to_string()))
                    }),
                ),
                "ces_endpoint" => (
                    &mut ces_endpoint,
                    map.next_value::<Text<CesEndpoint>>().map(|v| v.0),
                ),
                other => {
                    return Err(de::Error::custom(format!(
                        "unknown key `{other}` in a `regions:` item; expected `region`, \
                         `project_id`, `endpoint` or `ces_endpoint`"
                    )));
                }
            };
            if slot.is_some() {
                return Err(de::Error::custom(format!("`{key}` is given twice")));
            }
            *slot = Some(value?);
        }
        let Some(region) = region else {
            return Err(de::Error::custom(
                "a `regions:` item needs `region:` (e.g. `- region: cn-north-4`)",
            ));
        };
        // Region names are compared without regard to case: `CN-North-4` is `cn-north-4`.
        if let Some((i, first)) = self
            .before
            .iter()
            .enumerate()
            .find(|(_, r)| r.region.eq_ignore_ascii_case(&region))
        {
            return Err(de::Error::custom(format!(
                "region `{region}` is listed twice in `regions:` (regions[{i}] is `{}`; \
                 regions are compared without regard to case): the same instances would be \
                 planned twice",
                first.region
            )));
        }
        Ok(RegionTarget {
            region,
            project_id,
            endpoint,
            ces_endpoint,
        })
    }
}

/// Which key of an entry a [`Seen`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum KeyOf {
    /// The id, without regard to case ([`fold_id`]).
    Id,
    /// The name, as written.
    Name,
}

impl KeyOf {
    /// The key of `entry`, if it has one.
    fn key(self, entry: &Entry) -> Option<Cow<'_, str>> {
        match self {
            KeyOf::Id => entry.id.as_deref().map(fold_id),
            KeyOf::Name => entry.name.as_deref().map(Cow::Borrowed),
        }
    }
}

/// An id as it is compared: in lower case, so `ABC` repeats `abc` (`str::to_lowercase`; an id
/// already in lower-case ASCII, the usual case, is not copied).
pub(super) fn fold_id(id: &str) -> Cow<'_, str> {
    if id.bytes().any(|b| !b.is_ascii() || b.is_ascii_uppercase()) {
        Cow::Owned(id.to_lowercase())
    } else {
        Cow::Borrowed(id)
    }
}

/// The ids (or names) read so far, to refuse a repeat. An entry without `region:` belongs to
/// every region, so it repeats any entry of the same key; entries of one region each repeat
/// only entries of the same key and region. The maps for regions stay empty (and allocate
/// nothing) in a manifest whose entries carry no `region:`.
///
/// Entries without `region:` (all of them, usually) are not copied: they are recorded by the
/// hash of their key, and a hit is compared with the key of the entry it points at (the
/// entries read so far are passed in). A key whose hash is already taken by a different key
/// is recorded by its text instead, so a collision costs a copy, never a wrong answer.
pub(super) struct Seen<S = RandomState> {
    of: KeyOf,
    hasher: S,
    /// The first entry without `region:` of each key, by the key's hash.
    everywhere: HashMap<u64, usize, BuildHasherDefault<Prehashed>>,
    /// The first entry without `region:` of each key whose hash another key has.
    everywhere_collided: HashMap<String, usize>,
    /// The first entry of each key that has a `region:`, and its region.
    in_some_region: HashMap<String, (usize, String)>,
    in_region: HashMap<(String, String), usize>,
}

impl Seen {
    /// An empty record of keys of the kind `of`.
    pub(super) fn new(of: KeyOf) -> Seen {
        Seen::with_hasher(of, RandomState::new())
    }
}

impl<S: BuildHasher> Seen<S> {
    /// An empty record hashing keys with `hasher`.
    pub(super) fn with_hasher(of: KeyOf, hasher: S) -> Seen<S> {
        Seen {
            of,
            hasher,
            everywhere: HashMap::default(),
            everywhere_collided: HashMap::new(),
            in_some_region: HashMap::new(),
            in_region: HashMap::new(),
        }
    }

    /// Records `key` (as [`KeyOf`] makes it) for `region` at `index`, `earlier` being the
    /// entries before it; the earlier entry it repeats, if any, with the words that explain
    /// the overlap when a region is involved.
    pub(super) fn insert(
        &mut self,
        key: &str,
        region: Option<&str>,
        index: usize,
        earlier: &[Entry],
    ) -> Option<(usize, String)> {
        let Some(region) = region else {
            // (The map is empty, and not looked in, when no entry has a region.)
            if let Some((first, theirs)) = (!self.in_some_region.is_empty())
                .then(|| self.in_some_region.get(key))
                .flatten()
            {
                return Some((
                    *first,
                    format!(
                        " for region `{theirs}`, and an entry without `region:` belongs to \
                         every region"
                    ),
                ));
            }
            return self
                .insert_everywhere(key, index, earlier)
                .map(|first| (first, String::new()));
        };
        if let Some(first) = self.find_everywhere(key, earlier) {
            return Some((
                first,
                format!(
                    ", which has no `region:` and so belongs to every region, `{region}` included"
                ),
            ));
        }
        self.in_some_region
            .entry(key.to_owned())
            .or_insert_with(|| (index, region.to_owned()));
        self.in_region
            .insert((key.to_owned(), region.to_owned()), index)
            .map(|first| (first, format!(" for region `{region}`")))
    }

    /// True when the entry at `first` of `earlier` has the key `key`.
    fn is_key_of(&self, first: usize, key: &str, earlier: &[Entry]) -> bool {
        earlier
            .get(first)
            .and_then(|e| self.of.key(e))
            .is_some_and(|k| k == key)
    }

    /// The first entry without `region:` whose key is `key`.
    fn find_everywhere(&self, key: &str, earlier: &[Entry]) -> Option<usize> {
        // A key whose hash is not recorded is not recorded by its text either.
        let &first = self.everywhere.get(&self.hasher.hash_one(key))?;
        if self.is_key_of(first, key, earlier) {
            return Some(first);
        }
        self.everywhere_collided.get(key).copied()
    }

    /// Records `key` of an entry without `region:` at `index`, unless an earlier entry has it:
    /// then that entry's index.
    fn insert_everywhere(&mut self, key: &str, index: usize, earlier: &[Entry]) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        let first = match self.everywhere.entry(hash) {
            Slot::Vacant(slot) => {
                slot.insert(index);
                return None;
            }
            Slot::Occupied(slot) => *slot.get(),
        };
        if self.is_key_of(first, key, earlier) {
            return Some(first);
        }
        match self.everywhere_collided.entry(key.to_owned()) {
            Slot::Occupied(slot) => Some(*slot.get()),
            Slot::Vacant(slot) => {
                slot.insert(index);
                None
            }
        }
    }
}

/// A hasher for keys that are already hashes (`u64`s from [`Seen`]'s own hasher).
#[derive(Default)]
pub(super) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used for `u64` keys; a plain fold keeps it a hasher all the same.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A check made after parsing, to locate in the text by reading it again.
#[derive(Clone, Copy)]
pub(super) enum Check<'a> {
    /// `regions:` with a top-level key it replaces ([`REPLACED`]).
    Replaced,
    /// Entry regions against the listed regions (none listed: the manifest has no `regions:`).
    EntryRegions(&'a [RegionTarget]),
}

/// The message for an entry whose `region:` is `region` when `listed` are the regions.
fn entry_region_error(region: &str, listed: &[RegionTarget]) -> Option<String> {
    if listed.is_empty() {
        return Some(
            "an instance entry has `region:`, but the manifest has no `regions:`; for the \
             manifest's one region use `region:` at the top (and no `region:` on entries), \
             or list the regions under `regions:`"
                .to_owned(),
        );
    }
    if listed.iter().any(|r| r.region == region) {
        return None;
    }
    let names: Vec<String> = listed.iter().map(|r| format!("`{}`", r.region)).collect();
    Some(format!(
        "region `{region}` is not listed in `regions:` ({}); an entry without `region:` \
         belongs to every listed region (regions are compared as written)",
        names.join(", ")
    ))
}

/// True when some entry's `region:` is refused by [`Check::EntryRegions`].
pub(super) fn entries_misplaced(entries: &[Entry], listed: &[RegionTarget]) -> bool {
    entries
        .iter()
        .filter_map(|e| e.region.as_deref())
        .any(|r| entry_region_error(r, listed).is_some())
}

/// The message for a top-level `key` beside `regions:`.
fn replaced_error(key: &str) -> String {
    format!(
        "`{key}:` cannot be given with `regions:`, which names the targets: set `{key}:` in \
         each item of `regions:` instead, or remove `regions:`"
    )
}

/// Reads `text` again to find where `check` fails, and returns that error with its line; if
/// the reading finds nothing (it should not), an error naming the file alone.
pub(super) fn locate(text: &str, display: &str, check: Check<'_>) -> Error {
    let found = TopSeed(check).deserialize(serde_yaml::Deserializer::from_str(text));
    let fallback = match check {
        Check::Replaced => "`regions:` cannot be given with a top-level `region:`, \
                            `project_id:`, `endpoint:` or `ces_endpoint:`"
            .to_owned(),
        Check::EntryRegions(_) => {
            "an instance entry has a `region:` that `regions:` does not list".to_owned()
        }
    };
    match found {
        Err(e) => {
            let (location, message) = super::split_yaml_error(&e, display);
            Error::Manifest { location, message }
        }
        Ok(()) => Error::Manifest {
            location: display.to_owned(),
            message: fallback,
        },
    }
}

/// The manifest's top-level mapping, failing at the first key `check` refuses.
struct TopSeed<'a>(Check<'a>);

impl<'de> DeserializeSeed<'de> for TopSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TopSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a manifest")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match (self.0, key.as_str()) {
                (Check::Replaced, k) if REPLACED.contains(&k) => {
                    map.next_value_seed(Refuse(replaced_error(k)))?;
                }
                (Check::EntryRegions(listed), "instances") => {
                    map.next_value_seed(InstancesSeed(listed))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The `instances:` list, failing at the first entry `region:` that is refused.
struct InstancesSeed<'a>(&'a [RegionTarget]);

impl<'de> DeserializeSeed<'de> for InstancesSeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for InstancesSeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of instances")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(EntrySeed(self.0))?.is_some() {}
        Ok(())
    }
}

struct EntrySeed<'a>(&'a [RegionTarget]);

impl<'de> DeserializeSeed<'de> for EntrySeed<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for EntrySeed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an instance entry")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "region" {
                map.next_value_seed(EntryRegion(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// An entry's `region:` value (already read once, so a string), failing where it is written.
struct EntryRegion<'a>(&'a [RegionTarget]);

impl<'de> DeserializeSeed<'de> for EntryRegion<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_str(self)
    }
}

impl Visitor<'_> for EntryRegion<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a region")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        entry_region_error(v, self.0).map_or(Ok(()), |m| Err(E::custom(m)))
    }
}

/// A value that is refused, whatever it is, with this message (so the error carries the
/// value's line).
struct Refuse(String);

impl<'de> DeserializeSeed<'de> for Refuse {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Refuse {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Err(E::custom(self.0))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Err(E::custom(self.0))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Err(E::custom(self.0))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Err(E::custom(self.0))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Err(E::custom(self.0))
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Err(E::custom(self.0))
    }
    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(self.0))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<(), A::Error> {
        Err(de::Error::custom(self.0))
    }
}
