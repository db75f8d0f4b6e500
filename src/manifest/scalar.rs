//! Scalars: how YAML values become the strings and values a manifest holds.

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::model::{Limit, NameGlob, NameRegex};

/// A value parsed from a YAML scalar by [`FromScalar`], failing with the scalar's line.
pub(super) struct Parsed<T>(pub(super) T);

/// How a YAML scalar becomes a value; the error says what is wrong.
pub(super) trait FromScalar: Sized {
    const EXPECTING: &'static str;
    fn from_scalar(text: &str, was_string: bool) -> std::result::Result<Self, String>;
}

impl FromScalar for NameRegex {
    const EXPECTING: &'static str = "a regular expression";
    fn from_scalar(text: &str, _: bool) -> std::result::Result<Self, String> {
        NameRegex::new(text)
    }
}

impl FromScalar for NameGlob {
    const EXPECTING: &'static str = "a glob such as 'prod-*'";
    fn from_scalar(text: &str, _: bool) -> std::result::Result<Self, String> {
        NameGlob::new(text)
    }
}

impl FromScalar for Limit {
    const EXPECTING: &'static str = "a count such as 10 or a percentage such as \"20%\"";
    fn from_scalar(text: &str, _: bool) -> std::result::Result<Self, String> {
        let bad = || format!("invalid max_delete `{text}`: expected {}", Self::EXPECTING);
        if let Some(p) = text.trim().strip_suffix('%') {
            let p: u32 = p.trim().parse().map_err(|_| bad())?;
            if p > 100 {
                return Err(format!(
                    "invalid max_delete `{text}`: a percentage is at most 100%"
                ));
            }
            Ok(Limit::Percent(p))
        } else {
            text.trim().parse().map(Limit::Count).map_err(|_| bad())
        }
    }
}

impl FromScalar for std::time::Duration {
    const EXPECTING: &'static str = "a duration such as 2h, 30m or 7d";
    fn from_scalar(text: &str, was_string: bool) -> std::result::Result<Self, String> {
        if !was_string {
            return Err(format!(
                "invalid min_age `{text}`: give a unit, e.g. 2h, 30m or 7d"
            ));
        }
        humantime::parse_duration(text.trim())
            .map_err(|e| format!("invalid min_age `{text}`: {e} (e.g. 2h, 30m or 7d)"))
    }
}

impl<'de, T: FromScalar> Deserialize<'de> for Parsed<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<T: FromScalar> Visitor<'_> for V<T> {
            type Value = Parsed<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(T::EXPECTING)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Parsed<T>, E> {
                T::from_scalar(v, true).map(Parsed).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Parsed<T>, E> {
                T::from_scalar(&v.to_string(), false)
                    .map(Parsed)
                    .map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Parsed<T>, E> {
                T::from_scalar(&v.to_string(), false)
                    .map(Parsed)
                    .map_err(E::custom)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A non-empty string without surrounding spaces.
pub(super) struct NonEmpty(pub(super) String);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NonEmpty;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a non-empty string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<NonEmpty, E> {
                if v.trim().is_empty() {
                    Err(E::custom("the value is empty"))
                } else if v.trim() != v {
                    Err(E::custom(format!(
                        "the value has leading or trailing spaces: {v:?}"
                    )))
                } else {
                    Ok(NonEmpty(v.to_owned()))
                }
            }
        }
        d.deserialize_str(V)
    }
}

/// A string, number or bool, as text (`"0"`, `0` and `true` all become strings).
pub(super) struct Scalar(pub(super) String);

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number or bool")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> std::result::Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// An identifier given as a string or a number (`"0"` or `0`): not empty, no surrounding spaces.
pub(super) struct Id(pub(super) String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let Scalar(v) = Scalar::deserialize(d)?;
        if v.trim().is_empty() {
            return Err(de::Error::custom("`enterprise_project_id` is empty"));
        }
        if v.trim() != v {
            return Err(de::Error::custom(format!(
                "`enterprise_project_id` has leading or trailing spaces: {v:?}"
            )));
        }
        Ok(Id(v))
    }
}
