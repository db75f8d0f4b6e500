//! `scope:`, `protect:` and `guards:`.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};

use super::present;
use super::scalar::{
    EnterpriseProject, Grace, IdleFor, MinAge, NamePrefix, Number, Parsed, ProtectGlob, ProtectId,
    ScopeRegex, TagKey, TagValue, Text,
};
use crate::model::{Deletion, Guards, Limit, ProtectRule, Scope};

/// `scope:`: every selector given must match for an instance to be managed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawScope {
    #[serde(default, deserialize_with = "present")]
    name_prefix: Option<Text<NamePrefix>>,
    #[serde(default, deserialize_with = "present")]
    name_regex: Option<Text<ScopeRegex>>,
    #[serde(default, deserialize_with = "present")]
    enterprise_project_id: Option<Text<EnterpriseProject>>,
    #[serde(default, deserialize_with = "present")]
    tags: Option<TagMap>,
}

impl RawScope {
    pub(super) fn into_scope(self) -> Scope {
        Scope {
            name_prefix: self.name_prefix.map(|p| p.0),
            name_regex: self.name_regex.map(|r| r.0),
            enterprise_project_id: self.enterprise_project_id.map(|e| e.0),
            tags: self.tags.map(|t| t.0).unwrap_or_default(),
        }
    }
}

/// `guards:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawGuards {
    #[serde(default, deserialize_with = "present")]
    max_delete: Option<Parsed<Limit>>,
    #[serde(default, deserialize_with = "present")]
    min_age: Option<Parsed<MinAge>>,
    #[serde(default, deserialize_with = "present")]
    allow_empty: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    idle_for: Option<Parsed<IdleFor>>,
    #[serde(default, deserialize_with = "present")]
    idle_max_ops: Option<Number>,
    #[serde(default, deserialize_with = "present")]
    idle_max_connections: Option<u64>,
}

impl RawGuards {
    /// The guards; an idle threshold without `idle_for` is an error (it would be ignored).
    pub(super) fn into_guards(self) -> Result<Guards, String> {
        if self.idle_for.is_none()
            && (self.idle_max_ops.is_some() || self.idle_max_connections.is_some())
        {
            return Err(
                "`guards.idle_max_ops` and `guards.idle_max_connections` need \
                 `guards.idle_for`, the window they are measured over (e.g. `idle_for: 7d`)"
                    .to_owned(),
            );
        }
        Ok(Guards {
            max_delete: self.max_delete.map(|m| m.0),
            min_age: self.min_age.map(|m| m.0.0),
            allow_empty: self.allow_empty.unwrap_or(false),
            idle_for: self.idle_for.map(|m| m.0.0),
            idle_max_ops: self.idle_max_ops.map(|n| n.0),
            idle_max_connections: self.idle_max_connections,
        })
    }
}

/// `deletion:`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDeletion {
    #[serde(default, deserialize_with = "present")]
    recycle_bin: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    require_recoverable: Option<bool>,
    #[serde(default, deserialize_with = "present")]
    grace: Option<Parsed<Grace>>,
}

impl RawDeletion {
    /// The deletion settings; `require_recoverable` without `recycle_bin` is an error.
    pub(super) fn into_deletion(self) -> Result<Deletion, String> {
        let recycle_bin = self.recycle_bin.unwrap_or(false);
        let require_recoverable = self.require_recoverable.unwrap_or(false);
        if require_recoverable && !recycle_bin {
            return Err(
                "`deletion.require_recoverable: true` needs `deletion.recycle_bin: \
                 true`: without the recycle bin no deletion is recoverable"
                    .to_owned(),
            );
        }
        Ok(Deletion {
            recycle_bin,
            require_recoverable,
            grace: self.grace.map(|g| g.0.0),
        })
    }
}

/// `{key: value, …}` with scalar values, as ordered pairs of their source text.
pub(super) struct TagMap(pub(super) Vec<(String, String)>);

impl<'de> Deserialize<'de> for TagMap {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TagMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of tag keys to values, e.g. {owner: platform}")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<TagMap, A::Error> {
                let mut tags: Vec<(String, String)> = Vec::new();
                while let Some(key) = map.next_key::<Text<TagKey>>()? {
                    let value: Text<TagValue> = map.next_value()?;
                    if tags.iter().any(|(k, _)| *k == key.0) {
                        return Err(de::Error::custom(format!(
                            "tag {} is given twice",
                            super::scalar::escaped(&key.0)
                        )));
                    }
                    tags.push((key.0, value.0));
                }
                if tags.is_empty() {
                    return Err(de::Error::custom("the tag mapping is empty"));
                }
                Ok(TagMap(tags))
            }
        }
        d.deserialize_map(V)
    }
}

/// `protect:`: a list of rules, each with exactly one of `name`, `id`, `tag`.
pub(super) struct ProtectList(pub(super) Vec<ProtectRule>);

impl<'de> Deserialize<'de> for ProtectList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ProtectList;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of protect rules, each `name: GLOB`, `id: ID` or `tag: {k: v}`")
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<ProtectList, A::Error> {
                let mut rules = Vec::new();
                while let Some(rule) = seq.next_element::<ProtectItem>()? {
                    rules.push(rule.0);
                }
                Ok(ProtectList(rules))
            }
        }
        d.deserialize_seq(V)
    }
}

pub(super) struct ProtectItem(pub(super) ProtectRule);

impl<'de> Deserialize<'de> for ProtectItem {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ProtectItem;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a protect rule: `name: GLOB`, `id: ID` or `tag: {k: v}`")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<ProtectItem, A::Error> {
                let mut rule: Option<ProtectRule> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let next = match key.as_str() {
                        "name" => ProtectRule::Name(map.next_value::<Text<ProtectGlob>>()?.0),
                        "id" => ProtectRule::Id(map.next_value::<Text<ProtectId>>()?.0),
                        "tag" => ProtectRule::Tag(map.next_value::<TagMap>()?.0),
                        other => {
                            return Err(de::Error::custom(format!(
                                "unknown key `{other}` in a protect rule; expected `name`, `id` or `tag`"
                            )));
                        }
                    };
                    if rule.is_some() {
                        return Err(de::Error::custom(
                            "a protect rule has exactly one of `name`, `id` or `tag`; write one rule per item",
                        ));
                    }
                    rule = Some(next);
                }
                rule.map(ProtectItem)
                    .ok_or_else(|| de::Error::custom("a protect rule needs `name`, `id` or `tag`"))
            }
        }
        d.deserialize_map(V)
    }
}
