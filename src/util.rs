//! Small neutral helpers that several layers use: digests and time. No I/O, no knowledge of
//! YAML, HTTP or plans, so that the signer, the planner, the manifest reader and the printers
//! can all depend on this module without depending on one another.

use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// True for the characters that cannot be seen or that break lines: Unicode general
/// categories Cc (controls: NUL, ESC, newline, …), Cf (format: U+200B zero-width space,
/// U+FEFF, U+202E right-to-left override, …), Zl and Zp (U+2028, U+2029). The one definition
/// the manifest's refusals, the planner's near-miss guard and the printers' escaping share.
pub fn is_invisible(c: char) -> bool {
    // Printable ASCII, the common case, without a table lookup.
    if (' '..='~').contains(&c) {
        return false;
    }
    use icu_properties::CodePointMapData;
    use icu_properties::props::GeneralCategory;
    matches!(
        CodePointMapData::<GeneralCategory>::new().get(c),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

/// `s` in Unicode normal form C: how names are compared (`café` typed as `e` + U+0301 is
/// the same name as the composed `é`).
pub fn nfc(s: &str) -> std::borrow::Cow<'_, str> {
    // ASCII is always in normal form C.
    if s.is_ascii() {
        return std::borrow::Cow::Borrowed(s);
    }
    icu_normalizer::ComposingNormalizerBorrowed::new_nfc().normalize(s)
}

/// What a person would read in `s`: compatibility-normalised (NFKC), lower case, without
/// invisible characters and white space. Two different names with the same reading are a
/// near miss (`Orders-Cache` and `orders-cache\u{200b}`).
pub fn reading(s: &str) -> String {
    icu_normalizer::ComposingNormalizerBorrowed::new_nfkc()
        .normalize(s)
        .chars()
        .filter(|c| !c.is_whitespace() && !is_invisible(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Lower-case hex SHA-256 of `data`.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(sha256(data))
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(data).into()
}

/// Lower-case hex HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256_hex(key: &[u8], data: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    // An HMAC accepts keys of any length; the error case cannot happen.
    match <Hmac<sha2::Sha256> as Mac>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// `2026-11-29T02:08:52Z`: RFC 3339 in UTC, to the second.
pub fn rfc3339(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Parses an RFC 3339 time as the API writes it (`2017-03-31T12:24:46.297Z`); a missing zone
/// is taken as UTC.
pub fn parse_time(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    OffsetDateTime::parse(s, &Rfc3339)
        .ok()
        .or_else(|| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339).ok())
}

/// `2h`, `3days 4h`, `45s`, `300ms`: a duration for people, to its two largest units (the
/// one formatter of the crate; humantime writes it).
pub fn human_duration(d: Duration) -> String {
    const UNITS: [u64; 4] = [86_400, 3600, 60, 1];
    let secs = d.as_secs();
    if secs == 0 {
        return humantime::format_duration(Duration::from_millis(u64::from(d.subsec_millis())))
            .to_string();
    }
    // Keep the largest unit present and the one below it; drop the rest.
    let mut kept = 0;
    let mut units = 0;
    let mut rest = secs;
    for unit in UNITS {
        let n = rest / unit;
        if n > 0 || units > 0 {
            kept += n * unit;
            units += 1;
        }
        rest %= unit;
        if units == 2 {
            break;
        }
    }
    humantime::format_duration(Duration::from_secs(kept)).to_string()
}

/// How long ago `then` was at `now`; `None` when `then` is in the future (a clock skew or a
/// wrong time: never shown as "0s ago").
pub fn age(then: OffsetDateTime, now: OffsetDateTime) -> Option<Duration> {
    Duration::try_from(now - then).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_ignore_case_width_invisibles_and_spaces_but_nfc_only_composes() {
        assert_eq!(nfc("cafe\u{301}"), "café");
        assert_ne!(nfc("Café"), "café");
        assert_eq!(
            reading("Caf\u{200b}e\u{301} Cache"),
            reading("café-cache").replace('-', "")
        );
        assert_eq!(reading("ＡＢＣ"), "abc");
        assert!(is_invisible('\u{200b}') && is_invisible('\u{1b}') && !is_invisible('é'));
    }

    #[test]
    fn sha256_of_empty_input_is_the_known_digest() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn hmac_matches_rfc_4231_case_2() {
        assert_eq!(
            hmac_sha256_hex(b"Jefe", b"what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn durations_keep_their_two_largest_units() {
        let d = |s| human_duration(Duration::from_secs(s));
        assert_eq!(d(45), "45s");
        assert_eq!(d(30 * 60), "30m");
        assert_eq!(d(2 * 3600), "2h");
        assert_eq!(d(2 * 3600 + 5 * 60 + 9), "2h 5m");
        assert_eq!(d(3 * 86_400 + 4 * 3600 + 59), "3days 4h");
        assert_eq!(d(86_400 + 30), "1day");
        assert_eq!(human_duration(Duration::from_millis(300)), "300ms");
    }

    #[test]
    fn times_read_back_and_future_ages_are_unknown() {
        let t = parse_time("2017-03-31T12:24:46.297Z").expect("parses");
        assert_eq!(rfc3339(t), "2017-03-31T12:24:46Z");
        assert_eq!(
            parse_time("2017-03-31T12:24:46"),
            parse_time("2017-03-31T12:24:46Z")
        );
        let later = parse_time("2017-03-31T13:24:46.297Z").expect("parses");
        assert_eq!(age(t, later), Some(Duration::from_secs(3600)));
        assert_eq!(age(later, t), None);
    }
}
