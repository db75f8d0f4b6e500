//! Apply: delete exactly the plan's instances with the batch API, at most 50 ids per call,
//! and report each instance's outcome.
//!
//! Apply never re-plans: it consumes the [`Plan`] that was rendered and confirmed. When a whole
//! batch request fails, no further batches are sent: the ids of the failed batch are reported
//! with the error (their outcome may be unknown: a later `plan` shows what is left) and the ids
//! of the batches not sent are reported as not attempted.

use crate::api::{self, Client, DELETE_BATCH_MAX};
use crate::error::Error;
use crate::model::Instance;
use crate::plan::Plan;

/// What became of one planned deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The API accepted the deletion (it completes asynchronously); or, after a request whose
    /// answer was lost, the instance is gone from the listing.
    Deleted,
    /// After a request whose answer was lost: the listing shows the instance `DELETING`.
    Deleting,
    /// The deletion failed: why.
    Failed(String),
    /// No request was sent for it: why.
    NotAttempted(String),
}

/// What apply did, per planned instance, in plan order: a value the printers receive.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Each planned instance and what happened to it.
    pub outcomes: Vec<(Instance, Outcome)>,
    /// How many DELETE requests were sent.
    pub requests: usize,
}

impl Applied {
    /// The instances whose deletion failed or was not attempted, with the outcome.
    pub fn failures(&self) -> Vec<(&Instance, &Outcome)> {
        self.outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Failed(_) | Outcome::NotAttempted(_)))
            .map(|(i, o)| (i, o))
            .collect()
    }

    /// How many were deleted (or are being deleted).
    pub fn deleted(&self) -> usize {
        self.outcomes.len() - self.failures().len()
    }

    /// The instances deleted or being deleted, for `--wait`.
    pub fn gone_or_going(&self) -> Vec<Instance> {
        self.outcomes
            .iter()
            .filter(|(_, o)| matches!(o, Outcome::Deleted | Outcome::Deleting))
            .map(|(i, _)| i.clone())
            .collect()
    }

    /// The error that ends the run (exit 4) when any deletion failed.
    pub fn error(&self) -> Option<Error> {
        let failed: Vec<String> = self.failures().iter().map(|(i, _)| i.label()).collect();
        (!failed.is_empty()).then_some(Error::DeleteFailed {
            total: self.outcomes.len(),
            failed,
        })
    }
}

/// After a failed delete request, what became of each instance of its batch, from a fresh
/// listing: gone is deleted, `DELETING` is being deleted, anything else failed. If listing
/// fails too, every outcome is unknown and reported as failed.
async fn settle(client: &Client, batch: &[Instance], why: &str) -> Vec<Outcome> {
    match client.list_instances().await {
        Ok(live) => {
            let now: std::collections::HashMap<&str, &Instance> =
                live.iter().map(|i| (i.id.as_str(), i)).collect();
            batch
                .iter()
                .map(|inst| match now.get(inst.id.as_str()) {
                    None => Outcome::Deleted,
                    Some(i) if i.status == "DELETING" => Outcome::Deleting,
                    Some(i) => Outcome::Failed(format!(
                        "the delete request failed and the instance is still there (status {}): {why}",
                        i.status
                    )),
                })
                .collect()
        }
        Err(e) => batch
            .iter()
            .map(|_| {
                Outcome::Failed(format!(
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
    mut on_outcome: impl FnMut(&Instance, &Outcome),
) -> Applied {
    let planned: Vec<Instance> = plan.delete.iter().map(|d| d.instance.clone()).collect();
    let mut report = Applied::default();
    let mut stopped: Option<String> = None;
    for batch in planned.chunks(DELETE_BATCH_MAX) {
        if let Some(why) = &stopped {
            for inst in batch {
                let outcome = Outcome::NotAttempted(format!(
                    "not attempted: an earlier delete request failed ({why})"
                ));
                on_outcome(inst, &outcome);
                report.outcomes.push((inst.clone(), outcome));
            }
            continue;
        }
        let ids: Vec<String> = batch.iter().map(|i| i.id.clone()).collect();
        report.requests += 1;
        match client.delete_batch(&ids).await {
            Ok(results) => {
                for (inst, (_, result)) in batch.iter().zip(results) {
                    let outcome = match result {
                        api::DeleteOutcome::Deleted => Outcome::Deleted,
                        api::DeleteOutcome::Deleting => Outcome::Deleting,
                        api::DeleteOutcome::Failed(why) => Outcome::Failed(why),
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

    fn inst(n: usize) -> Instance {
        Instance {
            id: format!("id-{n}"),
            name: format!("n-{n}"),
            ..Instance::default()
        }
    }

    #[test]
    fn failures_and_not_attempted_make_the_delete_failed_error() {
        let r = Applied {
            outcomes: vec![
                (inst(0), Outcome::Deleted),
                (inst(1), Outcome::Failed("no".to_owned())),
                (inst(2), Outcome::Deleting),
                (inst(3), Outcome::NotAttempted("later".to_owned())),
            ],
            requests: 1,
        };
        assert_eq!(r.deleted(), 2);
        assert_eq!(r.failures().len(), 2);
        assert_eq!(
            r.gone_or_going()
                .iter()
                .map(|i| i.id.as_str())
                .collect::<Vec<_>>(),
            ["id-0", "id-2"]
        );
        let e = r.error().expect("an error");
        assert_eq!(e.exit_code(), crate::error::EXIT_DELETE_FAILED);
        assert_eq!(
            e.to_string(),
            "2 of 4 deletions failed: n-1 (id-1), n-3 (id-3)"
        );
        assert!(Applied::default().error().is_none());
    }
}
