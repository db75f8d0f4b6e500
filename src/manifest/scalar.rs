//! Scalars: how YAML values become the strings and values a manifest holds.

use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::model::{Limit, NameGlob, NameRegex, NonNegative};

/// A value parsed from a YAML scalar by [`FromScalar`], failing with the scalar's line. For
/// counts and durations only: YAML's typing is part of their meaning (`7200` has no unit).
/// Text that is compared as text is a [`Text`] instead.
pub(super) struct Parsed<T>(pub(super) T);

/// How a YAML scalar becomes a value; the error says what is wrong.
pub(super) trait FromScalar: Sized {
    const EXPECTING: &'static str;
    fn from_scalar(text: &str, was_string: bool) -> std::result::Result<Self, String>;
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

/// A duration with a unit, for the key `key`, within `min..=max`.
fn duration(
    key: &str,
    text: &str,
    was_string: bool,
    min: Duration,
    max: Option<(Duration, &str)>,
) -> std::result::Result<Duration, String> {
    if !was_string {
        return Err(format!(
            "invalid {key} `{text}`: give a unit, e.g. 2h, 30m or 7d"
        ));
    }
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("invalid {key} `{text}`: {e} (e.g. 2h, 30m or 7d)"))?;
    if d < min {
        return Err(format!(
            "invalid {key} `{text}`: at least {} is needed",
            humantime::format_duration(min)
        ));
    }
    if let Some((max, why)) = max
        && d > max
    {
        return Err(format!("invalid {key} `{text}`: at most {why}"));
    }
    Ok(d)
}

/// `guards.min_age`: any duration.
pub(super) struct MinAge(pub(super) Duration);

impl FromScalar for MinAge {
    const EXPECTING: &'static str = "a duration such as 2h, 30m or 7d";
    fn from_scalar(text: &str, was_string: bool) -> std::result::Result<Self, String> {
        duration("min_age", text, was_string, Duration::ZERO, None).map(MinAge)
    }
}

/// `deletion.grace`: an hour or more.
pub(super) struct Grace(pub(super) Duration);

impl FromScalar for Grace {
    const EXPECTING: &'static str = "a duration such as 24h or 7d";
    fn from_scalar(text: &str, was_string: bool) -> std::result::Result<Self, String> {
        duration("grace", text, was_string, Duration::from_secs(3600), None).map(Grace)
    }
}

/// `guards.idle_for`: more than zero, at most 180 days (the longest window Cloud Eye answers
/// for; it shortens a longer one without saying so).
pub(super) struct IdleFor(pub(super) Duration);

impl FromScalar for IdleFor {
    const EXPECTING: &'static str = "a duration such as 7d";
    fn from_scalar(text: &str, was_string: bool) -> std::result::Result<Self, String> {
        let max = Duration::from_secs(180 * 24 * 3600);
        duration(
            "idle_for",
            text,
            was_string,
            Duration::from_secs(1),
            Some((max, "180d, the longest window Cloud Eye answers for")),
        )
        .map(IdleFor)
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

/// A value that is compared or matched as text, read from the scalar's source text exactly as
/// written: `1.10`, `0x1F`, `True` and `1e3` stay those characters, never YAML's reading of
/// them (`1.1`, `31`, `true`, `1000`). `~`, `null` and nothing at all are "no value given"
/// wherever text is expected; the quoted `'null'` is the text `null`.
///
/// Every check runs while the scalar is read, so the error carries its line and column.
pub(super) struct Text<F: Field>(pub(super) F::Value);

/// What one position of the manifest holds, and how its text is checked and converted.
pub(super) trait Field {
    /// What the text becomes.
    type Value;
    /// How messages name the value: "`name`", "a tag key".
    const SUBJECT: &'static str;
    /// For "invalid type" errors: "a string".
    const EXPECTING: &'static str = "a string";
    /// Whether empty and space-padded text is refused (it is not for regular expressions and
    /// tag values, where spaces and the empty string mean something).
    const TRIMMED: bool = true;
    /// Turns checked text into the value.
    fn convert(text: &str) -> Result<Self::Value, String>;
}

impl<'de, F: Field> Deserialize<'de> for Text<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_option(Nullable::<F>(std::marker::PhantomData))
    }
}

/// Refuses the null scalar, then reads the source text (`deserialize_str` never re-types).
struct Nullable<F>(std::marker::PhantomData<F>);

impl<'de, F: Field> Visitor<'de> for Nullable<F> {
    type Value = Text<F>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(F::EXPECTING)
    }
    fn visit_none<E: de::Error>(self) -> Result<Text<F>, E> {
        Err(E::custom(no_value(F::SUBJECT)))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Text<F>, E> {
        Err(E::custom(no_value(F::SUBJECT)))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Text<F>, D::Error> {
        d.deserialize_str(Source::<F>(std::marker::PhantomData))
    }
}

/// The message for `~`, `null` or nothing where text is expected. The YAML library gives it the
/// location of the enclosing mapping, so it names the key itself.
fn no_value(subject: &str) -> String {
    format!(
        "no value given for {subject} (`~`, `null` and nothing at all mean no value; quote the \
         text, e.g. 'null', if that is what you mean)"
    )
}

struct Source<F>(std::marker::PhantomData<F>);

impl<F: Field> Visitor<'_> for Source<F> {
    type Value = Text<F>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(F::EXPECTING)
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Text<F>, E> {
        check_text(F::SUBJECT, v, F::TRIMMED)
            .and_then(|()| F::convert(v))
            .map(Text)
            .map_err(E::custom)
    }
}

/// Refuses text a person cannot see or check: empty or space-padded (when `trimmed`), or
/// holding an invisible or control character (see [`is_invisible`]).
pub(super) fn check_text(subject: &str, v: &str, trimmed: bool) -> Result<(), String> {
    if trimmed && v.trim().is_empty() {
        return Err(format!("{subject} is empty"));
    }
    if trimmed && v.trim() != v {
        return Err(format!(
            "{subject} has leading or trailing spaces: {}",
            escaped(v)
        ));
    }
    if let Some(c) = v.chars().find(|&c| is_invisible(c)) {
        return Err(format!(
            "{subject} {} holds U+{:04X}, an invisible or control character; type the value \
             again without it",
            escaped(v),
            u32::from(c)
        ));
    }
    Ok(())
}

pub(crate) use crate::util::is_invisible;

/// At most this many characters of a value are shown in a message.
const SHOWN: usize = 120;

/// `s` in double quotes with every invisible character visible (`"caf\u{200b}e"`), on one
/// line, cut after [`SHOWN`] characters.
pub(crate) fn escaped(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(4 * SHOWN) + 2);
    out.push('"');
    for (i, c) in s.chars().enumerate() {
        if i == SHOWN {
            out.push_str("\"…");
            return out;
        }
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_invisible(c) => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Declares a [`Field`] holding a plain string.
macro_rules! text_field {
    ($(#[$doc:meta])* $name:ident, $subject:literal $(, trimmed = $trimmed:literal)?) => {
        $(#[$doc])*
        pub(super) struct $name;
        impl Field for $name {
            type Value = String;
            const SUBJECT: &'static str = $subject;
            $(const TRIMMED: bool = $trimmed;)?
            fn convert(text: &str) -> Result<String, String> {
                Ok(text.to_owned())
            }
        }
    };
}

text_field!(
    /// `project_id`.
    ProjectId,
    "`project_id`"
);
text_field!(
    /// `region`.
    Region,
    "`region`"
);
text_field!(
    /// `endpoint`.
    Endpoint,
    "`endpoint`"
);
text_field!(
    /// An instance entry's `name`.
    EntryName,
    "`name`"
);
text_field!(
    /// An instance entry's `id`.
    EntryId,
    "`id`"
);
text_field!(
    /// `scope.name_prefix`.
    NamePrefix,
    "`name_prefix`"
);
text_field!(
    /// A protect rule's `id`.
    ProtectId,
    "`id`"
);
text_field!(
    /// `scope.enterprise_project_id`.
    EnterpriseProject,
    "`enterprise_project_id`"
);
text_field!(
    /// A tag key.
    TagKey,
    "a tag key"
);
text_field!(
    /// A tag value: may be empty (DCS allows it) or hold spaces.
    TagValue,
    "a tag value",
    trimmed = false
);

/// `scope.name_regex`: a regular expression that does not select everything.
pub(super) struct ScopeRegex;

impl Field for ScopeRegex {
    type Value = NameRegex;
    const SUBJECT: &'static str = "`name_regex`";
    const EXPECTING: &'static str = "a regular expression";
    const TRIMMED: bool = false;
    fn convert(text: &str) -> Result<NameRegex, String> {
        let regex = NameRegex::new(text)?;
        if regex.is_match("") {
            return Err(format!(
                "the regular expression {} matches the empty string, so it would select every \
                 instance (the whole project); give one that matches only the names to manage, \
                 e.g. '^ci-'",
                escaped(text)
            ));
        }
        Ok(regex)
    }
}

/// A protect rule's `name`: a glob.
pub(super) struct ProtectGlob;

impl Field for ProtectGlob {
    type Value = NameGlob;
    const SUBJECT: &'static str = "`name`";
    const EXPECTING: &'static str = "a glob such as 'prod-*'";
    fn convert(text: &str) -> Result<NameGlob, String> {
        NameGlob::new(text)
    }
}

/// `ces_endpoint`: the Cloud Eye endpoint, checked like `endpoint` (https, or http to a
/// loopback host; no user name, path, query or fragment).
pub(super) struct CesEndpoint;

impl Field for CesEndpoint {
    type Value = String;
    const SUBJECT: &'static str = "`ces_endpoint`";
    const EXPECTING: &'static str = "a URL such as https://ces.cn-north-4.myhuaweicloud.com";
    fn convert(text: &str) -> Result<String, String> {
        crate::config::check_endpoint(text, "`ces_endpoint`")
            .map(|_| text.to_owned())
            .map_err(|e| e.to_string())
    }
}

/// A number, zero or more: `idle_max_ops`. Text (`"5"`), `.nan` and `.inf` are refused.
pub(super) struct Number(pub(super) NonNegative);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Number;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, zero or more, such as 5 or 0.5")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Number, E> {
                #[allow(clippy::cast_precision_loss)] // a threshold: 2^53 and up need no precision
                self.visit_f64(v as f64)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Number, E> {
                if v < 0 {
                    return Err(E::custom(format!("`{v}` is negative; give zero or more")));
                }
                self.visit_u64(v.unsigned_abs())
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Number, E> {
                NonNegative::new(v)
                    .map(Number)
                    .ok_or_else(|| E::custom(format!("`{v}` is not a number of zero or more")))
            }
        }
        d.deserialize_any(V)
    }
}
