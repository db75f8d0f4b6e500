//! How a plain scalar without a tag is typed: serde_yaml 0.9's rules, ported from its
//! `de.rs` in the same order (YAML 1.2's core schema: `~`/`null`, `true`/`false`, integers
//! with `0x`/`0o`/`0b`, floats with `.inf` and `.nan`; leading zeros are text). The fast
//! reading ([`stream`](super::stream)) must type scalars exactly as serde_yaml does, so these
//! are a transcription, not a re-design; `tests_stream.rs` checks them against serde_yaml.

use std::num::ParseIntError;

use serde::de::Visitor;

use super::stream::Stop;

// and same rules: YAML 1.2's core schema, `0x`/`0o`/`0b` integers, leading zeros are text).

pub(super) fn visit_untagged_scalar<'de, V: Visitor<'de>>(
    visitor: V,
    v: &'de str,
) -> Result<V::Value, Stop> {
    if v.is_empty() || parse_null(v) {
        return visitor.visit_unit();
    }
    if let Some(b) = parse_bool(v) {
        return visitor.visit_bool(b);
    }
    if let Some(n) = parse_unsigned_int(v, u64::from_str_radix) {
        return visitor.visit_u64(n);
    }
    if let Some(n) = parse_negative_int(v, i64::from_str_radix) {
        return visitor.visit_i64(n);
    }
    if let Some(n) = parse_unsigned_int(v, u128::from_str_radix) {
        return visitor.visit_u128(n);
    }
    if let Some(n) = parse_negative_int(v, i128::from_str_radix) {
        return visitor.visit_i128(n);
    }
    if !digits_but_not_number(v)
        && let Some(f) = parse_f64(v)
    {
        return visitor.visit_f64(f);
    }
    visitor.visit_borrowed_str(v)
}

pub(super) fn parse_null(v: &str) -> bool {
    matches!(v, "null" | "Null" | "NULL" | "~")
}

pub(super) fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

type Radix<T> = fn(&str, u32) -> std::result::Result<T, ParseIntError>;

pub(super) fn parse_unsigned_int<T>(v: &str, from_str_radix: Radix<T>) -> Option<T> {
    let unpositive = v.strip_prefix('+').unwrap_or(v);
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(n) = from_str_radix(rest, radix) {
                return Some(n);
            }
        }
    }
    if unpositive.starts_with(['+', '-']) || digits_but_not_number(v) {
        return None;
    }
    from_str_radix(unpositive, 10).ok()
}

pub(super) fn parse_signed_int<T>(v: &str, from_str_radix: Radix<T>) -> Option<T> {
    let unpositive = match v.strip_prefix('+') {
        Some(u) if u.starts_with(['+', '-']) => return None,
        Some(u) => u,
        None => v,
    };
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(rest) = unpositive.strip_prefix(prefix) {
            if rest.starts_with(['+', '-']) {
                return None;
            }
            if let Ok(n) = from_str_radix(rest, radix) {
                return Some(n);
            }
        }
        let negative = format!("-{prefix}");
        if let Some(rest) = v.strip_prefix(negative.as_str())
            && let Ok(n) = from_str_radix(&format!("-{rest}"), radix)
        {
            return Some(n);
        }
    }
    if digits_but_not_number(v) {
        return None;
    }
    from_str_radix(v, 10).ok()
}

fn parse_negative_int<T>(v: &str, from_str_radix: Radix<T>) -> Option<T> {
    for (prefix, radix) in [("-0x", 16), ("-0o", 8), ("-0b", 2)] {
        if let Some(rest) = v.strip_prefix(prefix)
            && let Ok(n) = from_str_radix(&format!("-{rest}"), radix)
        {
            return Some(n);
        }
    }
    if digits_but_not_number(v) {
        return None;
    }
    from_str_radix(v, 10).ok()
}

pub(super) fn parse_f64(v: &str) -> Option<f64> {
    let unpositive = match v.strip_prefix('+') {
        Some(u) if u.starts_with(['+', '-']) => return None,
        Some(u) => u,
        None => v,
    };
    if matches!(unpositive, ".inf" | ".Inf" | ".INF") {
        return Some(f64::INFINITY);
    }
    if matches!(v, "-.inf" | "-.Inf" | "-.INF") {
        return Some(f64::NEG_INFINITY);
    }
    if matches!(v, ".nan" | ".NaN" | ".NAN") {
        return Some(f64::NAN.copysign(1.0));
    }
    unpositive.parse::<f64>().ok().filter(|f| f.is_finite())
}

/// Leading zeros followed by digits are text in YAML 1.2 (`0123`).
fn digits_but_not_number(v: &str) -> bool {
    let v = v.strip_prefix(['-', '+']).unwrap_or(v);
    v.len() > 1 && v.starts_with('0') && v[1..].bytes().all(|b| b.is_ascii_digit())
}
