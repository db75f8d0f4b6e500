//! Cloud Eye (CES) monitoring data for the activity guard (dcs-api.md §11): how busy each
//! instance was in a window, from `POST /V1.0/{project_id}/batch-query-metric-data`.
//!
//! Two metrics per instance (namespace `SYS.DCS`, dimension `dcs_instance_id`):
//! `instantaneous_ops` with filter `max` (peak commands per second) and
//! `total_connections_received` with filter `sum` (new connections). The period is the
//! smallest whose maximum window covers the span ([`choose_period`]); the instances are split
//! over as many calls as the API's limits require ([`MAX_METRICS_PER_CALL`] metrics,
//! [`MAX_DATAPOINTS_PER_ANSWER`] datapoints per answer). An instance with no datapoints for
//! either metric gets `None`: no data is unknown, never "idle".

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use url::Url;

use super::auth::Auth;
use super::client::{Client, ClientOptions};
use crate::error::{Error, Result};

/// The IAM permission the query needs (newer identity policies call it `ces:metricData:get`).
pub const CES_ACTION: &str = "ces:metricData:list";

/// The most metrics one call may carry.
pub const MAX_METRICS_PER_CALL: usize = 500;

/// The most datapoints one answer holds.
pub const MAX_DATAPOINTS_PER_ANSWER: usize = 3000;

const DAY_MS: i64 = 24 * 3600 * 1000;

/// `(period in seconds, the longest window it serves in ms)`, shortest period first: the
/// server silently shortens a longer window.
pub const PERIODS: [(u32, i64); 5] = [
    (300, DAY_MS),
    (1200, 3 * DAY_MS),
    (3600, 10 * DAY_MS),
    (14400, 30 * DAY_MS),
    (86400, 180 * DAY_MS),
];

/// How busy one instance was in the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Activity {
    /// The highest `instantaneous_ops` (max) of any period.
    pub peak_ops: f64,
    /// The sum of `total_connections_received` over the periods.
    pub new_connections: f64,
    /// How many datapoints (of both metrics) this is made of.
    pub datapoints: usize,
}

/// The smallest period (seconds) whose maximum window covers `[from_ms, to_ms]`.
pub fn choose_period(from_ms: i64, to_ms: i64) -> Result<u32> {
    let too_long = || {
        Error::Usage(format!(
            "the activity window [{from_ms}, {to_ms}] is longer than the 180 days Cloud Eye keeps"
        ))
    };
    let span = to_ms.checked_sub(from_ms).ok_or_else(too_long)?;
    if span <= 0 {
        return Err(Error::Usage(format!(
            "the activity window [{from_ms}, {to_ms}] is empty: `from` must be before `to`"
        )));
    }
    PERIODS
        .iter()
        .find(|(_, window)| span <= *window)
        .map(|(p, _)| *p)
        .ok_or_else(too_long)
}

/// How many metrics fit in one call: at most [`MAX_METRICS_PER_CALL`], and few enough that
/// their datapoints (one per period, plus one for the rounded-down start) stay within
/// [`MAX_DATAPOINTS_PER_ANSWER`].
pub fn metrics_per_call(from_ms: i64, to_ms: i64, period_s: u32) -> usize {
    let period_ms = i64::from(period_s.max(1)) * 1000;
    let span = to_ms.saturating_sub(from_ms).max(0);
    let points = usize::try_from(span / period_ms)
        .unwrap_or(usize::MAX)
        .saturating_add(2);
    (MAX_DATAPOINTS_PER_ANSWER / points).clamp(1, MAX_METRICS_PER_CALL)
}

#[derive(Serialize)]
struct Dimension<'a> {
    name: &'static str,
    value: &'a str,
}

#[derive(Serialize)]
struct Metric<'a> {
    namespace: &'static str,
    metric_name: &'static str,
    dimensions: [Dimension<'a>; 1],
}

/// The body, in the field order of the SDK's `BatchListMetricDataRequestBody`.
#[derive(Serialize)]
struct QueryBody<'a> {
    metrics: Vec<Metric<'a>>,
    period: String,
    filter: &'static str,
    from: i64,
    to: i64,
}

/// The body of one call: `metric_name` with `filter` for each of `ids`.
fn query_body(
    ids: &[String],
    metric_name: &'static str,
    filter: &'static str,
    period_s: u32,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<u8>> {
    serde_json::to_vec(&QueryBody {
        metrics: ids
            .iter()
            .map(|id| Metric {
                namespace: "SYS.DCS",
                metric_name,
                dimensions: [Dimension {
                    name: "dcs_instance_id",
                    value: id,
                }],
            })
            .collect(),
        period: period_s.to_string(),
        filter,
        from: from_ms,
        to: to_ms,
    })
    .map_err(|e| Error::Internal(format!("cannot encode the Cloud Eye query: {e}")))
}

#[derive(Deserialize)]
struct QueryAnswer {
    #[serde(default)]
    metrics: Option<Vec<MetricData>>,
}

#[derive(Deserialize)]
struct MetricData {
    #[serde(default)]
    dimensions: Option<Vec<serde_json::Value>>,
    #[serde(default)]
    datapoints: Option<Vec<serde_json::Value>>,
}

impl MetricData {
    /// The `dcs_instance_id` this series is about.
    fn instance(&self) -> Option<&str> {
        self.dimensions.iter().flatten().find_map(|d| {
            (d.get("name")?.as_str()? == "dcs_instance_id")
                .then(|| d.get("value")?.as_str())
                .flatten()
        })
    }

    /// The finite values of field `filter` of the datapoints.
    fn values(&self, filter: &str) -> Vec<f64> {
        self.datapoints
            .iter()
            .flatten()
            .filter_map(|p| p.get(filter)?.as_f64())
            .filter(|v| v.is_finite())
            .collect()
    }
}

/// Per requested id: the values of `filter` found for it in `answer` (unknown ids ignored).
fn values_by_instance(
    answer: &QueryAnswer,
    ids: &[String],
    filter: &str,
) -> HashMap<String, Vec<f64>> {
    let mut out: HashMap<String, Vec<f64>> = HashMap::new();
    for m in answer.metrics.iter().flatten() {
        if let Some(id) = m.instance()
            && ids.iter().any(|i| i == id)
        {
            out.entry(id.to_owned())
                .or_default()
                .extend(m.values(filter));
        }
    }
    out
}

/// Puts the two metrics together: `Some` only when both have at least one datapoint.
fn combine(
    ids: &[String],
    ops: &HashMap<String, Vec<f64>>,
    conns: &HashMap<String, Vec<f64>>,
) -> Vec<(String, Option<Activity>)> {
    ids.iter()
        .map(|id| {
            let activity = match (ops.get(id), conns.get(id)) {
                (Some(o), Some(c)) if !o.is_empty() && !c.is_empty() => Some(Activity {
                    peak_ops: o.iter().copied().fold(f64::MIN, f64::max),
                    new_connections: c.iter().sum(),
                    datapoints: o.len().saturating_add(c.len()),
                }),
                _ => None,
            };
            (id.clone(), activity)
        })
        .collect()
}

/// How busy each of `ids` was in `[from_ms, to_ms]`, asking Cloud Eye at `endpoint` (e.g.
/// `https://ces.<region>.myhuaweicloud.com`) for `project_id`; in the order of `ids`.
pub async fn activity(
    endpoint: &Url,
    project_id: &str,
    auth: &Auth,
    options: &ClientOptions,
    ids: &[String],
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<(String, Option<Activity>)>> {
    let period = choose_period(from_ms, to_ms)?;
    let client = Client::new(
        endpoint.clone(),
        project_id.to_owned(),
        auth.clone(),
        options,
    )?;
    let path = format!("/V1.0/{project_id}/batch-query-metric-data");
    let per_call = metrics_per_call(from_ms, to_ms, period);
    let mut series: [HashMap<String, Vec<f64>>; 2] = [HashMap::new(), HashMap::new()];
    for (slot, (metric, filter)) in [
        ("instantaneous_ops", "max"),
        ("total_connections_received", "sum"),
    ]
    .into_iter()
    .enumerate()
    {
        for chunk in ids.chunks(per_call) {
            let body = query_body(chunk, metric, filter, period, from_ms, to_ms)?;
            let (url, answer) = client
                .send_read(&path, Some((body, "application/json;charset=UTF-8")))
                .await?;
            let (url, answer) = client.check("POST", url, answer, CES_ACTION)?;
            let parsed: QueryAnswer = serde_json::from_slice(&answer.body)
                .map_err(|e| client.decode_error("POST", &url, &answer, &e.to_string()))?;
            for (id, values) in values_by_instance(&parsed, chunk, filter) {
                series[slot].entry(id).or_default().extend(values);
            }
        }
    }
    let [ops, conns] = series;
    Ok(combine(ids, &ops, &conns))
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3600 * 1000;

    #[test]
    fn the_period_is_the_smallest_whose_window_covers_the_span() -> Result<()> {
        assert_eq!(choose_period(0, 1)?, 300);
        assert_eq!(choose_period(0, 24 * H)?, 300);
        assert_eq!(choose_period(0, 24 * H + 1)?, 1200);
        assert_eq!(choose_period(0, 72 * H)?, 1200);
        assert_eq!(choose_period(0, 10 * DAY_MS)?, 3600);
        assert_eq!(choose_period(0, 11 * DAY_MS)?, 14400);
        assert_eq!(choose_period(0, 30 * DAY_MS + 1)?, 86400);
        assert_eq!(choose_period(0, 180 * DAY_MS)?, 86400);
        assert!(choose_period(0, 180 * DAY_MS + 1).is_err());
        assert!(choose_period(5, 5).is_err());
        assert!(choose_period(i64::MIN, i64::MAX).is_err(), "no overflow");
        Ok(())
    }

    #[test]
    fn calls_stay_within_the_datapoint_and_metric_limits() {
        // One day at 300 s: 288 periods (+2) -> 10 metrics of 290 points = 2,900 points.
        assert_eq!(metrics_per_call(0, 24 * H, 300), 10);
        // A short window is capped by the metric count.
        assert_eq!(metrics_per_call(0, 1000, 300), 500);
        for (p, w) in PERIODS {
            let n = metrics_per_call(0, w, p);
            let points = usize::try_from(w / (i64::from(p) * 1000)).unwrap_or(0) + 2;
            assert!(n * points <= MAX_DATAPOINTS_PER_ANSWER, "{p}");
        }
    }

    /// The exact bytes the official Python SDK (huaweicloudsdkces 3.1.219) serialises for
    /// `BatchListMetricDataRequestBody(metrics=[MetricInfo(...)] * 2, period="300",
    /// filter="max", _from=1700000000000, to=1700086400000)`, with compact separators.
    #[test]
    fn the_body_is_the_sdks() -> Result<()> {
        let ids = ["i-1".to_owned(), "i-2".to_owned()];
        let body = query_body(
            &ids,
            "instantaneous_ops",
            "max",
            300,
            1_700_000_000_000,
            1_700_086_400_000,
        )?;
        assert_eq!(
            String::from_utf8_lossy(&body),
            r#"{"metrics":[{"namespace":"SYS.DCS","metric_name":"instantaneous_ops","dimensions":[{"name":"dcs_instance_id","value":"i-1"}]},{"namespace":"SYS.DCS","metric_name":"instantaneous_ops","dimensions":[{"name":"dcs_instance_id","value":"i-2"}]}],"period":"300","filter":"max","from":1700000000000,"to":1700086400000}"#
        );
        Ok(())
    }

    #[test]
    fn answers_fold_into_activity_and_no_data_is_unknown() -> serde_json::Result<()> {
        let ids = ["a".to_owned(), "b".to_owned(), "c".to_owned()];
        let ops: QueryAnswer = serde_json::from_str(
            r#"{"metrics":[
              {"namespace":"SYS.DCS","metric_name":"instantaneous_ops","unit":"Count",
               "dimensions":[{"name":"dcs_instance_id","value":"a"}],
               "datapoints":[{"max":3.0,"timestamp":1},{"max":7.5,"timestamp":2},{"max":null}]},
              {"dimensions":[{"name":"dcs_instance_id","value":"b"}],"datapoints":[{"max":0}]},
              {"dimensions":[{"name":"dcs_instance_id","value":"zzz"}],"datapoints":[{"max":99}]},
              {"dimensions":[{"name":"dcs_instance_id","value":"c"}],"datapoints":[]}]}"#,
        )?;
        let conns: QueryAnswer = serde_json::from_str(
            r#"{"metrics":[
              {"dimensions":[{"name":"dcs_instance_id","value":"a"}],
               "datapoints":[{"sum":2,"timestamp":1},{"sum":3,"timestamp":2}]},
              {"dimensions":[{"name":"dcs_instance_id","value":"c"}],"datapoints":[{"sum":1}]}]}"#,
        )?;
        let got = combine(
            &ids,
            &values_by_instance(&ops, &ids, "max"),
            &values_by_instance(&conns, &ids, "sum"),
        );
        assert_eq!(
            got[0].1,
            Some(Activity {
                peak_ops: 7.5,
                new_connections: 5.0,
                datapoints: 4
            })
        );
        assert_eq!(got[1].1, None, "no connection data: unknown, not idle");
        assert_eq!(got[2].1, None, "no ops data: unknown, not idle");
        Ok(())
    }

    fn aksk() -> Auth {
        Auth::from(super::super::Credentials {
            ak: "AKEXAMPLE1234567890A".to_owned(),
            sk: secrecy::SecretString::from("sk-secret"),
            security_token: None,
        })
    }

    /// 25 instances over one day: 10 metrics a call, so 3 calls per metric; each answer
    /// echoes one datapoint per requested instance.
    #[tokio::test]
    async fn the_instances_are_split_over_calls_and_put_back_together() -> Result<()> {
        let (url, log) = super::super::testing::serve(|r| {
            let body: serde_json::Value = serde_json::from_str(&r.body).unwrap_or_default();
            let filter = body["filter"].as_str().unwrap_or("").to_owned();
            let metrics: Vec<serde_json::Value> = body["metrics"]
                .as_array()
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|m| {
                    serde_json::json!({"metric_name": m["metric_name"],
                        "dimensions": m["dimensions"],
                        "datapoints": [{filter.clone(): 4.0, "timestamp": 1}]})
                })
                .collect();
            (200, serde_json::json!({ "metrics": metrics }).to_string())
        })
        .await;
        let ids: Vec<String> = (0..25).map(|n| format!("i-{n}")).collect();
        let got = activity(
            &url,
            "p1",
            &aksk(),
            &ClientOptions::default(),
            &ids,
            0,
            24 * H,
        )
        .await?;
        let seen = super::super::testing::seen(&log);
        assert_eq!(seen.len(), 6);
        assert!(
            seen.iter()
                .all(|r| r.method == "POST" && r.path == "/V1.0/p1/batch-query-metric-data")
        );
        assert_eq!(got.len(), 25);
        assert!(got.iter().zip(&ids).all(|((id, a), want)| id == want
            && a.as_ref()
                == Some(&Activity {
                    peak_ops: 4.0,
                    new_connections: 4.0,
                    datapoints: 2
                })));
        Ok(())
    }

    #[tokio::test]
    async fn a_403_names_the_ces_permission() {
        let (url, _) = super::super::testing::serve(|_| {
            (
                403,
                r#"{"error_code":"CES.0050","error_msg":"denied"}"#.to_owned(),
            )
        })
        .await;
        let ids = ["i-1".to_owned()];
        let e = activity(&url, "p1", &aksk(), &ClientOptions::default(), &ids, 0, H)
            .await
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains("lacks the IAM permission `ces:metricData:list` in project p1"),
            "{e}"
        );
    }
}
