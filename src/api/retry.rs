//! The retry policy: which failures are worth another attempt, and how long to wait.
//!
//! Pure functions; the client applies them and passes the random number in. Reads (`GET`) are
//! retried on throttling (429), server errors (500, 502, 503, 504), timeouts and connection
//! errors. Any other request (a `DELETE`, a tag change) is retried only on 429, which the
//! gateway sends before the request reaches the service: a 503, any other 5xx or a timeout
//! leaves its outcome unknown, and resending a batch delete blindly is exactly what must never
//! happen; the caller lists again instead.

use std::time::Duration;

/// How hard to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`--max-retries`, `HW_MAX_RETRIES`).
    pub max_retries: u32,
    /// The first backoff; each retry doubles it.
    pub base_delay: Duration,
    /// No single wait is longer than this (a longer `Retry-After` included).
    pub max_delay: Duration,
    /// No retry starts after this much time has passed since the first attempt.
    pub deadline: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(20),
            deadline: Duration::from_secs(120),
        }
    }
}

/// Whether an answer with HTTP `status` to a read (`GET`) or a write (a delete) is worth
/// retrying.
pub fn retryable_status(status: u16, read: bool) -> bool {
    if read {
        matches!(status, 429 | 500 | 502 | 503 | 504)
    } else {
        // Throttled by the gateway, before the service saw it: safe to send again. A 503 may
        // come from the service itself after it acted, so it is not.
        status == 429
    }
}

/// The wait before the next attempt, or `None` to give up: after `retries_done` retries and
/// `elapsed` since the first attempt, with the server's `Retry-After` and `random` in
/// `[0, 1)` for the jitter. Gives up when `max_retries` retries were made or when waiting would
/// pass the `deadline`.
pub fn next_delay(
    policy: &RetryPolicy,
    retries_done: u32,
    elapsed: Duration,
    retry_after: Option<Duration>,
    random: f64,
) -> Option<Duration> {
    if retries_done >= policy.max_retries {
        return None;
    }
    let delay = backoff(policy, retries_done, retry_after, random);
    (elapsed.saturating_add(delay) <= policy.deadline).then_some(delay)
}

/// The wait before retry number `attempt` (0 for the first retry): exponential from
/// `base_delay`, with jitter (`jitter` in `[0, 1)` takes the wait between half and all of the
/// exponential value), never shorter than the server's `Retry-After`, never longer than
/// `max_delay`.
pub fn backoff(
    policy: &RetryPolicy,
    attempt: u32,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    let exp = policy
        .base_delay
        .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
        .min(policy.max_delay);
    let jitter = jitter.clamp(0.0, 1.0);
    let jittered = exp.div_f64(2.0) + exp.div_f64(2.0).mul_f64(jitter);
    retry_after
        .map_or(jittered, |r| r.max(jittered))
        .min(policy.max_delay)
}

/// `Retry-After` as a wait: delta-seconds (`120`) or an HTTP date, relative to `now`.
pub fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let date =
        time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc2822).ok()?;
    Some(Duration::try_from(date - now).unwrap_or(Duration::ZERO))
}

/// A random number in `[0, 1)` for the jitter: not for cryptography, plenty to keep
/// concurrent clients from retrying in step.
pub fn jitter() -> f64 {
    fastrand::f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_retries: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
            deadline: Duration::from_secs(10),
        }
    }

    #[test]
    fn reads_retry_throttling_and_server_errors_deletes_only_unprocessed() {
        for s in [429, 500, 502, 503, 504] {
            assert!(retryable_status(s, true), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 409] {
            assert!(!retryable_status(s, true), "{s}");
        }
        assert!(retryable_status(429, false));
        for s in [500, 502, 503, 504, 400] {
            assert!(
                !retryable_status(s, false),
                "a delete answered {s} may have happened"
            );
        }
    }

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        let p = policy();
        assert_eq!(backoff(&p, 0, None, 0.0), Duration::from_millis(50));
        assert_eq!(backoff(&p, 0, None, 0.999_999).as_millis(), 99);
        assert_eq!(backoff(&p, 1, None, 0.0), Duration::from_millis(100));
        assert_eq!(backoff(&p, 3, None, 0.0), Duration::from_millis(400));
        // Capped: 100 ms * 2^10 would be 102 s.
        assert_eq!(backoff(&p, 10, None, 0.999_999).as_millis(), 1999);
        assert!(backoff(&p, 40, None, 0.5) <= p.max_delay);
    }

    #[test]
    fn retry_after_is_honoured_but_capped() {
        let p = policy();
        assert_eq!(
            backoff(&p, 0, Some(Duration::from_secs(1)), 0.0),
            Duration::from_secs(1)
        );
        assert_eq!(
            backoff(&p, 0, Some(Duration::from_secs(600)), 0.0),
            p.max_delay
        );
        // A shorter Retry-After does not shorten the backoff.
        assert_eq!(
            backoff(&p, 3, Some(Duration::ZERO), 0.0),
            Duration::from_millis(400)
        );
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        let now = time::macros::datetime!(2026-11-29 10:00:00 UTC);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Sun, 29 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Sun, 29 Nov 2026 09:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn retries_stop_at_the_count_and_at_the_deadline() {
        let p = policy();
        let zero = Duration::ZERO;
        assert_eq!(
            next_delay(&p, 0, zero, None, 0.0),
            Some(Duration::from_millis(50))
        );
        assert_eq!(
            next_delay(&p, 4, zero, None, 0.0),
            Some(Duration::from_millis(800))
        );
        assert_eq!(next_delay(&p, 5, zero, None, 0.0), None, "max_retries");
        // 9.9 s elapsed + 50 ms is still inside the 10 s deadline; 9.99 s + 50 ms is not.
        assert!(next_delay(&p, 0, Duration::from_millis(9_900), None, 0.0).is_some());
        assert_eq!(
            next_delay(&p, 0, Duration::from_millis(9_990), None, 0.0),
            None
        );
        assert_eq!(next_delay(&p, 0, Duration::MAX, None, 0.0), None);
        // The random number moves the wait within [half, all) of the exponential value.
        assert_eq!(
            next_delay(&p, 1, zero, None, 0.5),
            Some(Duration::from_millis(150))
        );
    }
}
