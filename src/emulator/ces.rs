//! Cloud Eye: `POST /V1.0/{project_id}/batch-query-metric-data` and
//! `GET /V1.0/{project_id}/metric-data`, validated like the API, with datapoints made from
//! each instance's [`Activity`].
//!
//! Rules (see docs/emulator.md): `period` is one of 1, 60, 300, 1200, 3600, 14400, 86400 (a
//! string in the batch body), `filter` one of average, variance, min, max, sum, `from` < `to`
//! (epoch ms), 1 to 500 metrics per batch. A window longer than the period allows is shortened
//! (`from` = `to` minus the limit), then again so that metrics × points ≤ 3,000; `from` is
//! rounded down to the period. Period 1 is the raw data: one point a minute.

use axum::http::StatusCode;
use serde_json::{Value, json};

use super::routes::{Answer, Req};
use super::state::Activity;
use super::{EmuInstance, Inner};

/// At most this many metrics in one batch query.
pub const MAX_METRICS: usize = 500;
/// At most this many datapoints in one answer.
pub const MAX_DATAPOINTS: usize = 3000;
/// The periods Cloud Eye accepts, in seconds.
pub const PERIODS: [i64; 7] = [1, 60, 300, 1200, 3600, 14400, 86400];
/// The filters Cloud Eye accepts.
pub const FILTERS: [&str; 5] = ["average", "variance", "min", "max", "sum"];

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A Cloud Eye error body (`{"code", "element", "message", "details": {"details", "code"}}`).
pub(super) fn error_body(status: u16, code: &str, details: &str) -> Value {
    let element = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let message = if status >= 500 {
        "Internal service error."
    } else {
        "The system received a request which cannot be recognized"
    };
    json!({
        "code": status,
        "element": element,
        "message": message,
        "details": { "details": details, "code": code },
    })
}

fn bad_body(details: &str) -> Answer {
    Answer::json(
        StatusCode::BAD_REQUEST,
        error_body(400, "ces.0014", details),
    )
}

fn bad_param(details: &str) -> Answer {
    Answer::json(
        StatusCode::BAD_REQUEST,
        error_body(400, "ces.0013", details),
    )
}

/// The time window of a query, once validated and shortened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    /// First datapoint, epoch ms.
    start: i64,
    /// Distance between datapoints, ms.
    step: i64,
    /// End (exclusive), epoch ms.
    to: i64,
    /// At most this many points per metric.
    max_points: usize,
}

/// The longest window a period allows, in ms.
fn max_span(period: i64) -> i64 {
    match period {
        1 | 60 => 4 * HOUR_MS,
        300 => DAY_MS,
        1200 => 3 * DAY_MS,
        3600 => 10 * DAY_MS,
        14400 => 30 * DAY_MS,
        _ => 180 * DAY_MS,
    }
}

/// Validates `from`, `to` and `period` for `metrics` metrics, and shortens the window.
fn window(from: i64, to: i64, period: i64, metrics: usize) -> Result<Window, &'static str> {
    if !PERIODS.contains(&period) {
        return Err("period must be one of 1, 60, 300, 1200, 3600, 14400, 86400");
    }
    if from < 0 || to < 0 || from >= to {
        return Err("from must be less than to (epoch milliseconds)");
    }
    let step = if period == 1 { 60_000 } else { period * 1000 };
    let max_points = MAX_DATAPOINTS / metrics.max(1);
    let mut from = from.max(to.saturating_sub(max_span(period)));
    let cap_span = step.saturating_mul(i64::try_from(max_points).unwrap_or(i64::MAX));
    from = from.max(to.saturating_sub(cap_span));
    Ok(Window {
        start: from - from.rem_euclid(step),
        step,
        to,
        max_points,
    })
}

impl Window {
    /// The datapoints' timestamps: the last `max_points` of start, start + step, … before `to`.
    fn timestamps(&self) -> Vec<i64> {
        let mut all = Vec::new();
        let mut t = self.start;
        while t < self.to {
            all.push(t);
            t = t.saturating_add(self.step);
        }
        let skip = all.len().saturating_sub(self.max_points);
        all.split_off(skip)
    }
}

/// One metric asked for.
struct Metric {
    namespace: String,
    name: String,
    dimensions: Vec<(String, String)>,
}

impl Inner {
    /// The metric's datapoints as JSON (`{<filter>: value, "timestamp": ms}`); empty when
    /// Cloud Eye has no data for it (another namespace, an unknown instance, `no_data`).
    fn datapoints(&self, metric: &Metric, window: &Window, filter: &str) -> Vec<Value> {
        if metric.namespace != "SYS.DCS" {
            return Vec::new();
        }
        let Some(id) = metric
            .dimensions
            .iter()
            .find(|(k, _)| k == "dcs_instance_id")
            .map(|(_, v)| v.as_str())
        else {
            return Vec::new();
        };
        let instance: Option<&EmuInstance> = self.instances.iter().find(|i| i.id == id);
        let activity: Option<&Activity> = self
            .config
            .activity
            .get(id)
            .or_else(|| instance.and_then(|i| self.config.activity.get(&i.name)));
        if (instance.is_none() && activity.is_none()) || activity.is_some_and(|a| a.no_data) {
            return Vec::new();
        }
        let until = activity.map(|a| {
            a.active_until.as_deref().map_or(Some(i64::MAX), |s| {
                time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
                    .ok()
                    .map(|t| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(0))
            })
        });
        let busy = match metric.name.as_str() {
            "instantaneous_ops" => activity.map_or(0.0, |a| a.ops),
            "connected_clients" | "total_connections_received" => {
                activity.map_or(0.0, |a| a.connections)
            }
            _ => 0.0,
        };
        let value_at = |t: i64| match until {
            Some(Some(until)) if t < until => busy,
            _ => 0.0,
        };
        let value_of = |v: f64| if filter == "variance" { 0.0 } else { v };
        let timestamps = window.timestamps();
        // `total_connections_received` counts new connections: the activity's `connections`
        // are all received in the last active period, so that a window's sum is that number.
        let counted = metric.name == "total_connections_received";
        let last_active = timestamps.iter().rposition(|&t| value_at(t) != 0.0);
        timestamps
            .into_iter()
            .enumerate()
            .map(|(n, t)| {
                let v = if counted && Some(n) != last_active {
                    0.0
                } else {
                    value_at(t)
                };
                let mut point = serde_json::Map::new();
                point.insert(filter.to_owned(), json!(value_of(v)));
                point.insert("timestamp".to_owned(), json!(t));
                Value::Object(point)
            })
            .collect()
    }
}

/// `POST /V1.0/{project_id}/batch-query-metric-data`.
pub(super) fn batch_query(inner: &mut Inner, req: &Req) -> Answer {
    let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
        return bad_body("Some content in message body is not correct");
    };
    let Some(items) = body.get("metrics").and_then(Value::as_array) else {
        return bad_body("metrics is required");
    };
    if items.is_empty() || items.len() > MAX_METRICS {
        return bad_body("metrics must hold 1 to 500 metrics");
    }
    let mut metrics = Vec::with_capacity(items.len());
    for item in items {
        let text = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_owned);
        let (Some(namespace), Some(name)) = (text("namespace"), text("metric_name")) else {
            return bad_body("each metric needs namespace and metric_name");
        };
        let mut dimensions = Vec::new();
        for d in item
            .get("dimensions")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
        {
            match (
                d.get("name").and_then(Value::as_str),
                d.get("value").and_then(Value::as_str),
            ) {
                (Some(k), Some(v)) => dimensions.push((k.to_owned(), v.to_owned())),
                _ => return bad_body("each dimension needs name and value"),
            }
        }
        if dimensions.is_empty() || dimensions.len() > 4 {
            return bad_body("each metric needs 1 to 4 dimensions");
        }
        metrics.push(Metric {
            namespace,
            name,
            dimensions,
        });
    }
    let Some(period) = body
        .get("period")
        .and_then(Value::as_str)
        .and_then(|p| p.parse::<i64>().ok())
    else {
        return bad_body("period must be a string: 1, 60, 300, 1200, 3600, 14400 or 86400");
    };
    let Some(filter) = body
        .get("filter")
        .and_then(Value::as_str)
        .filter(|f| FILTERS.contains(f))
    else {
        return bad_body("filter must be average, variance, min, max or sum");
    };
    let (Some(from), Some(to)) = (
        body.get("from").and_then(Value::as_i64),
        body.get("to").and_then(Value::as_i64),
    ) else {
        return bad_body("from and to must be epoch milliseconds");
    };
    let window = match window(from, to, period, metrics.len()) {
        Ok(w) => w,
        Err(why) => return bad_body(why),
    };
    let out: Vec<Value> = metrics
        .iter()
        .map(|m| {
            let dims: Vec<Value> = m
                .dimensions
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect();
            json!({
                "namespace": m.namespace,
                "metric_name": m.name,
                "dimensions": dims,
                "unit": "Count",
                "datapoints": inner.datapoints(m, &window, filter),
            })
        })
        .collect();
    Answer::ok(json!({ "metrics": out }))
}

/// `GET /V1.0/{project_id}/metric-data?namespace=&metric_name=&dim.0=k,v&from=&to=&period=&filter=`.
pub(super) fn metric_data(inner: &mut Inner, req: &Req) -> Answer {
    let (Some(namespace), Some(name)) = (req.param("namespace"), req.param("metric_name")) else {
        return bad_param("namespace and metric_name are required");
    };
    let mut dimensions = Vec::new();
    for i in 0..4 {
        if let Some(d) = req.param(&format!("dim.{i}")) {
            match d.split_once(',') {
                Some((k, v)) if !k.is_empty() && !v.is_empty() => {
                    dimensions.push((k.to_owned(), v.to_owned()));
                }
                _ => return bad_param("dim.N must be name,value"),
            }
        }
    }
    if dimensions.is_empty() {
        return bad_param("dim.0 is required");
    }
    let number = |k: &str| req.param(k).and_then(|v| v.parse::<i64>().ok());
    let (Some(from), Some(to), Some(period)) = (number("from"), number("to"), number("period"))
    else {
        return bad_param("from, to and period must be numbers");
    };
    let Some(filter) = req.param("filter").filter(|f| FILTERS.contains(f)) else {
        return bad_param("filter must be average, variance, min, max or sum");
    };
    let window = match window(from, to, period, 1) {
        Ok(w) => w,
        Err(why) => return bad_param(why),
    };
    let metric = Metric {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
        dimensions,
    };
    let mut points = inner.datapoints(&metric, &window, filter);
    for p in &mut points {
        if let Value::Object(o) = p {
            o.insert("unit".to_owned(), json!("Count"));
        }
    }
    Answer::ok(json!({ "datapoints": points, "metric_name": name }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TO: i64 = 1_764_576_000_000; // 2025-12-01T08:00:00Z

    #[test]
    fn windows_are_validated_and_shortened() {
        assert!(window(0, TO, 2, 1).is_err());
        assert!(window(TO, TO, 300, 1).is_err());
        assert!(window(TO + 1, TO, 300, 1).is_err());
        // 300 s allows a day: a week is cut to the last day (288 points).
        let w = window(TO - 7 * DAY_MS, TO, 300, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.start, TO - DAY_MS);
        assert_eq!(w.timestamps().len(), 288);
        // Period 1 is one point a minute over at most 4 hours.
        let w = window(0, TO, 1, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((w.start, w.step), (TO - 4 * HOUR_MS, 60_000));
        assert_eq!(w.timestamps().len(), 240);
        // 100 metrics share 3,000 points: 30 each.
        let w = window(TO - DAY_MS, TO, 300, 100).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.timestamps().len(), 30);
        // `from` is rounded down to the period.
        let w = window(TO - 3_600_000 + 1234, TO, 300, 1).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(w.start % 300_000, 0);
        assert!(w.timestamps().len() <= 12);
    }
}
