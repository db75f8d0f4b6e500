//! Apply: delete exactly the plan's instances with the batch API, at most 50 ids per call,
//! and report each instance's outcome.
//!
//! Apply never re-plans: it consumes the [`Plan`] that was rendered and confirmed. When a whole
//! batch request fails, no further batches are sent: the ids of the failed batch are reported
//! with the error (their outcome may be unknown: a later `plan` shows what is left) and the ids
//! of the batches not sent are reported as not attempted.

use crate::api::{Client, DELETE_BATCH_MAX, ItemResult};
use crate::model::Instance;
use crate::plan::Plan;

/// The outcome of deleting one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteOutcome {
    /// `result: success`: the API accepted the deletion (it completes asynchronously); or,
    /// after a request whose answer was lost, the instance is gone from the listing.
    Deleted,
    /// After a request whose answer was lost: the listing shows the instance `DELETING`.
    Deleting,
    /// `result: failed`, or no result for this id, or the whole request failed: the reason.
    Failed(String),
}

/// What apply did, per planned instance, in plan order.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Each planned instance and what happened to it.
    pub outcomes: Vec<(Instance, DeleteOutcome)>,
    /// How many DELETE requests were sent.
    pub requests: usize,
}

impl Report {
    /// The instances whose deletion failed (or was not attempted), with the reason.
    pub fn failures(&self) -> Vec<(&Instance, &str)> {
        self.outcomes
            .iter()
            .filter_map(|(i, o)| match o {
                DeleteOutcome::Failed(why) => Some((i, why.as_str())),
                DeleteOutcome::Deleted | DeleteOutcome::Deleting => None,
            })
            .collect()
    }

    /// How many were deleted.
    pub fn deleted(&self) -> usize {
        self.outcomes.len() - self.failures().len()
    }
}

/// The planned instances cut into batches of at most [`DELETE_BATCH_MAX`]: as few calls as the
/// API's cap allows.
pub fn batches(instances: &[Instance]) -> std::slice::Chunks<'_, Instance> {
    instances.chunks(DELETE_BATCH_MAX)
}

/// After a failed delete request, what became of each instance of its batch, from a fresh
/// listing: gone is deleted, `DELETING` is being deleted, anything else failed. If listing
/// fails too, every outcome is unknown and reported as failed.
async fn settle(client: &Client, batch: &[Instance], why: &str) -> Vec<DeleteOutcome> {
    match client.list_instances().await {
        Ok(live) => {
            let now: std::collections::HashMap<&str, &Instance> =
                live.iter().map(|i| (i.id.as_str(), i)).collect();
            batch
                .iter()
                .map(|inst| match now.get(inst.id.as_str()) {
                    None => DeleteOutcome::Deleted,
                    Some(i) if i.status == "DELETING" => DeleteOutcome::Deleting,
                    Some(i) => DeleteOutcome::Failed(format!(
                        "the delete request failed and the instance is still there (status {}): {why}",
                        i.status
                    )),
                })
                .collect()
        }
        Err(e) => batch
            .iter()
            .map(|_| {
                DeleteOutcome::Failed(format!(
                    "outcome unknown: the delete request failed ({why}) and listing again \
                     failed too ({}); run plan again to see",
                    e.to_string().lines().next().unwrap_or_default()
                ))
            })
            .collect(),
    }
}

/// Deletes the plan's instances; `on_outcome` is called as each outcome becomes known.
pub async fn apply(
    plan: &Plan,
    client: &Client,
    mut on_outcome: impl FnMut(&Instance, &DeleteOutcome),
) -> Report {
    let planned: Vec<Instance> = plan.delete.iter().map(|d| d.instance.clone()).collect();
    let mut report = Report::default();
    let mut stopped: Option<String> = None;
    for batch in batches(&planned) {
        if let Some(why) = &stopped {
            for inst in batch {
                let outcome = DeleteOutcome::Failed(format!(
                    "not attempted: an earlier delete request failed ({why})"
                ));
                on_outcome(inst, &outcome);
                report.outcomes.push((inst.clone(), outcome));
            }
            continue;
        }
        let ids: Vec<String> = batch.iter().map(|i| i.id.clone()).collect();
        report.requests += 1;
        match client.delete_batch(&ids, false).await {
            Ok(results) => {
                for (inst, (_, item)) in batch.iter().zip(results) {
                    let outcome = match item {
                        ItemResult::Success => DeleteOutcome::Deleted,
                        ItemResult::Failed(m) => DeleteOutcome::Failed(m),
                        ItemResult::Absent => DeleteOutcome::Failed(
                            "the API's answer has no result for this instance".to_owned(),
                        ),
                    };
                    on_outcome(inst, &outcome);
                    report.outcomes.push((inst.clone(), outcome));
                }
            }
            Err(e) => {
                let message = e.to_string();
                let first = message.lines().next().unwrap_or_default().to_owned();
                // The request may or may not have been carried out (a timeout or a lost
                // answer): never resend it blindly; list again and report what is there.
                let outcomes = settle(client, batch, &first).await;
                for (inst, outcome) in batch.iter().zip(outcomes) {
                    on_outcome(inst, &outcome);
                    report.outcomes.push((inst.clone(), outcome));
                }
                stopped = Some(first);
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn many(n: usize) -> Vec<Instance> {
        (0..n)
            .map(|i| Instance {
                id: format!("id-{i}"),
                ..Instance::default()
            })
            .collect()
    }

    #[test]
    fn batches_are_as_few_as_the_cap_allows() {
        let sizes = |n: usize| batches(&many(n)).map(<[Instance]>::len).collect::<Vec<_>>();
        assert_eq!(sizes(0), Vec::<usize>::new());
        assert_eq!(sizes(1), [1]);
        assert_eq!(sizes(50), [50]);
        assert_eq!(sizes(51), [50, 1]);
        assert_eq!(sizes(120), [50, 50, 20]);
    }

    #[test]
    fn batches_keep_plan_order_and_every_id_once() {
        let all = many(120);
        let flat: Vec<&str> = batches(&all).flatten().map(|i| i.id.as_str()).collect();
        let want: Vec<&str> = all.iter().map(|i| i.id.as_str()).collect();
        assert_eq!(flat, want);
    }

    #[test]
    fn report_counts_failures() {
        let r = Report {
            outcomes: vec![
                (many(1).remove(0), DeleteOutcome::Deleted),
                (many(2).remove(1), DeleteOutcome::Failed("no".to_owned())),
            ],
            requests: 1,
        };
        assert_eq!(r.deleted(), 1);
        assert_eq!(r.failures().len(), 1);
        assert_eq!(r.failures()[0].1, "no");
    }
}
