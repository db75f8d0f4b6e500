//! `regions:`: one manifest for several regions, and the entries that belong to one of them.
//!
//! The checks that need the whole file (`regions:` beside a top-level `region:`, an entry's
//! `region:` that is not listed) run after parsing, on values; only when one fails is the text
//! read again ([`locate`]), so that the error names the line of the key at fault. A manifest
//! without `regions:` and without entry regions pays nothing for this.

use std::fmt;

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
