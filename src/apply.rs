//! Apply: delete exactly the plan's instances with the batch API, at most 50 ids per call,
//! and return what became of each one: an [`Applied`] value that the printers receive.
//!
//! Apply never re-plans: it consumes the [`Plan`] that was rendered and confirmed. Every id it
//! sends is one of the plan's deletions. What it cannot prove it settles by listing again:
//!
//! - a batch answered 2xx: `success` is deleted; an id answered `failed` or missing from the
//!   answer is looked up in a fresh listing (gone: deleted; `DELETING`: being deleted, e.g. by
//!   another run; still there: failed, or outcome unknown when the answer did not mention it);
//! - a request refused with a 4xx (not processed) fails its batch and stops the run;
//! - any other failure (5xx, timeout, lost answer) may or may not have been carried out: the
//!   batch is never re-sent blindly. A fresh listing settles it; the ids still listed and
//!   deletable are sent once more, in a request of their own, and whatever still fails then
//!   stops the run. Batches after a stop are reported as not attempted, never sent.
//! - after a signal ([`Interrupt`]) no further batch is sent; the one in flight finishes.
//!
//! With `deletion.recycle_bin`, deletions that may go to the recycle bin are sent in requests
//! of their own with `"is_recycle": true`, the others in requests without the field: the two
//! are never mixed, and an instance the plan does not call recoverable is never sent with the
//! flag. A 400 that refuses `is_recycle` stops the run like any refusal (it is never re-sent
//! without the flag: that would destroy what the user asked to keep recoverable).
//!
//! With `deletion.grace`, the plan's marks and unmarks are tag calls, made after the
//! deletions (and not at all once the run stopped or a signal came); each has its own
//! outcome ([`TagOutcome`]), and a failed one never leads to a deletion.

use std::collections::HashMap;

use crate::api::{Client, DELETE_BATCH_MAX, ItemResult};
use crate::error::Error;
use crate::grace;
use crate::model::Instance;
use crate::plan::{DELETABLE_STATUSES, Plan};
use crate::signals::{Interrupt, Signal};

/// What became of one planned deletion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The API accepted the deletion (it completes asynchronously); or, after a request whose
    /// answer was lost, the instance is gone from the listing.
    Deleted,
    /// The listing shows the instance `DELETING` (the answer was lost, or another run is
    /// deleting it).
    Deleting,
    /// The deletion failed and the instance is still there: why.
    Failed(String),
    /// Nobody can tell yet (the answer did not mention it, or listing again failed): why.
    Unknown(String),
    /// No request was sent for it: why.
    NotAttempted(String),
}

impl Outcome {
    /// True for the outcomes that are not a confirmed deletion.
    pub fn is_failure(&self) -> bool {
        !matches!(self, Outcome::Deleted | Outcome::Deleting)
    }
}

/// What became of one planned mark or unmark (a tag call).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagOutcome {
    /// Marked for deletion, with this value (the UTC time of marking).
    Marked(String),
    /// The mark was removed.
    Unmarked,
    /// The tag call failed: why.
    Failed(String),
    /// No tag call was sent for it: why.
    NotAttempted(String),
}

impl TagOutcome {
    /// True for the outcomes that are not done.
    pub fn is_failure(&self) -> bool {
        matches!(self, TagOutcome::Failed(_) | TagOutcome::NotAttempted(_))
    }
}

/// What apply did, per planned instance, in plan order: a value the printers receive.
#[derive(Debug, Clone, Default)]
pub struct Applied {
    /// Each planned instance and what happened to it.
    pub outcomes: Vec<(Instance, Outcome)>,
    /// How many DELETE requests were sent.
    pub requests: usize,
    /// The signal that stopped the run, if one did.
    pub interrupted: Option<Signal>,
    /// The ids sent to the recycle bin (`is_recycle: true`).
    pub recycled: Vec<String>,
    /// Set when the API refused `is_recycle` (the region may not support the recycle bin).
    pub recycle_rejected: bool,
    /// The plan's marks, then its unmarks, and what became of each tag call.
    pub tags: Vec<(Instance, TagOutcome)>,
}

impl Applied {
    /// The instances whose deletion is not confirmed, with the outcome.
    pub fn failures(&self) -> Vec<(&Instance, &Outcome)> {
        self.outcomes
            .iter()
            .filter(|(_, o)| o.is_failure())
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
            .filter(|(_, o)| !o.is_failure())
            .map(|(i, _)| i.clone())
            .collect()
    }

    /// The error that ends the run: interrupted (exit 4 once a DELETE was sent, else 130 or
    /// 143), or some deletions not confirmed (exit 4).
    pub fn error(&self) -> Option<Error> {
        let failed: Vec<String> = self.failures().iter().map(|(i, _)| i.label()).collect();
        if let Some(signal) = self.interrupted {
            let not_sent = self
                .outcomes
                .iter()
                .filter(|(_, o)| matches!(o, Outcome::NotAttempted(_)))
                .count();
            return Some(Error::Interrupted {
                signal: signal.name(),
                code: signal.exit_code(),
                sent: self.requests > 0,
                not_sent,
                total: self.outcomes.len(),
            });
        }
        if !failed.is_empty() {
            return Some(Error::DeleteFailed {
                total: self.outcomes.len(),
                failed,
            });
        }
        let tags: Vec<String> = self
            .tags
            .iter()
            .filter(|(_, o)| o.is_failure())
            .map(|(i, _)| i.label())
            .collect();
        (!tags.is_empty()).then_some(Error::TagFailed {
            total: self.tags.len(),
            failed: tags,
        })
    }
}

/// How one id of a request came out, before settling.
enum Sent {
    Done,
    /// The API answered `failed` (or something else) for it.
    Refused(String),
    /// A 2xx answer that did not mention it.
    Unmentioned(String),
    /// The whole request failed in a way that does not prove it was not processed.
    Unknown(String),
}

/// The first line of an error, for one-line outcomes.
fn first_line(e: &Error) -> String {
    e.to_string().lines().next().unwrap_or_default().to_owned()
}

/// True when the error proves the request was not processed (a 4xx refusal).
fn not_processed(e: &Error) -> bool {
    matches!(e, Error::Api(a) if (400..500).contains(&a.status))
}

/// What to tell when the API refuses `is_recycle`.
pub const RECYCLE_REJECTED: &str = "the API refused `is_recycle`: this region may not support \
     the recycle bin; nothing was re-sent without it. To delete permanently instead, set \
     `deletion: {recycle_bin: false}` in the manifest";

/// A refused request: its message, and whether it refused `is_recycle`.
type Refusal = (String, bool);

/// Sends one DELETE for `ids`; `Err` is a refusal (not processed) with its message.
async fn send(client: &Client, ids: &[String], recycle: bool) -> Result<Vec<Sent>, Refusal> {
    match client.delete_batch(ids, recycle).await {
        Ok(results) => {
            let by_id: HashMap<String, ItemResult> = results.into_iter().collect();
            Ok(ids
                .iter()
                .map(|id| match by_id.get(id) {
                    Some(ItemResult::Success) => Sent::Done,
                    Some(ItemResult::Failed(why)) => Sent::Refused(why.clone()),
                    Some(ItemResult::Absent) | None => Sent::Unmentioned(
                        "the API's answer has no result for this instance".to_owned(),
                    ),
                })
                .collect())
        }
        Err(Error::Api(a)) if recycle && a.rejects_recycle() => {
            Err((format!("{}; {RECYCLE_REJECTED}", a), true))
        }
        Err(e) if not_processed(&e) => Err((first_line(&e), false)),
        Err(e) => {
            let why = first_line(&e);
            Ok(ids.iter().map(|_| Sent::Unknown(why.clone())).collect())
        }
    }
}

/// What a fresh listing says of an id whose outcome is not known: `Ok(None)` when it is still
/// there and deletable (it may be sent again).
fn settled(
    now: &HashMap<&str, &Instance>,
    id: &str,
    sent: &Sent,
    may_resend: bool,
) -> Option<Outcome> {
    let Some(current) = now.get(id) else {
        return Some(Outcome::Deleted);
    };
    if current.status == "DELETING" {
        return Some(Outcome::Deleting);
    }
    let status = &current.status;
    match sent {
        Sent::Done => Some(Outcome::Deleted),
        Sent::Refused(why) => Some(Outcome::Failed(format!(
            "{why}; the instance is still there (status {status})"
        ))),
        Sent::Unmentioned(why) => Some(Outcome::Unknown(format!(
            "outcome unknown: {why}, and it is still listed (status {status}); run plan again \
             to see"
        ))),
        Sent::Unknown(_) if may_resend && DELETABLE_STATUSES.contains(&status.as_str()) => None,
        Sent::Unknown(why) => Some(Outcome::Failed(format!(
            "the delete request failed and the instance is still there (status {status}): {why}"
        ))),
    }
}

/// Deletes one batch (into the recycle bin when `recycle`); returns its outcomes in order and
/// whether the run must stop (and whether `is_recycle` was refused).
async fn delete_batch(
    client: &Client,
    batch: &[Instance],
    recycle: bool,
    requests: &mut usize,
) -> (Vec<Outcome>, Option<String>, bool) {
    let mut rejected = false;
    let mut outcomes: Vec<Option<Outcome>> = vec![None; batch.len()];
    let mut pending: Vec<usize> = (0..batch.len()).collect();
    let mut stop = None;
    // One first request, and at most one re-send of what a listing shows still there.
    for round in 0..2 {
        let ids: Vec<String> = pending.iter().map(|&n| batch[n].id.clone()).collect();
        *requests += 1;
        let sent = match send(client, &ids, recycle).await {
            Ok(sent) => sent,
            Err((refused, recycle_refused)) => {
                rejected = recycle_refused;
                for &n in &pending {
                    outcomes[n] = Some(Outcome::Failed(format!(
                        "the API refused the delete request: {refused}"
                    )));
                }
                stop = Some(refused);
                break;
            }
        };
        let mut unsure = Vec::new();
        for (&n, s) in pending.iter().zip(sent) {
            match s {
                Sent::Done => outcomes[n] = Some(Outcome::Deleted),
                other => unsure.push((n, other)),
            }
        }
        if unsure.is_empty() {
            break;
        }
        let live = match client.list_instances().await {
            Ok(live) => live,
            Err(e) => {
                let listing = first_line(&e);
                for (n, s) in unsure {
                    let why = match s {
                        Sent::Refused(w) | Sent::Unmentioned(w) | Sent::Unknown(w) => w,
                        Sent::Done => String::new(),
                    };
                    outcomes[n] = Some(Outcome::Unknown(format!(
                        "outcome unknown: {why}, and listing again failed too ({listing}); run \
                         plan again to see"
                    )));
                }
                stop = Some(listing);
                break;
            }
        };
        let now: HashMap<&str, &Instance> = live.iter().map(|i| (i.id.as_str(), i)).collect();
        let mut again = Vec::new();
        let mut failed_request = None;
        for (n, s) in unsure {
            if let Sent::Unknown(why) = &s {
                failed_request.get_or_insert_with(|| why.clone());
            }
            match settled(&now, &batch[n].id, &s, round == 0) {
                Some(o) => outcomes[n] = Some(o),
                None => again.push(n),
            }
        }
        if again.is_empty() {
            // A request that failed as a whole stops the run even when the listing settled it.
            if round == 1 || failed_request.is_some() {
                stop = stop
                    .or(failed_request
                        .filter(|_| outcomes.iter().flatten().any(Outcome::is_failure)));
            }
            break;
        }
        tracing::warn!(
            "the delete request failed ({}); {} of its instances are still listed and deletable: \
             sending them once more",
            failed_request.as_deref().unwrap_or("unknown"),
            again.len()
        );
        pending = again;
    }
    // A request that failed as a whole and left failures behind has set `stop` above: the run
    // stops on what the outcomes are, never on their wording.
    let outcomes = outcomes
        .into_iter()
        .map(|o| {
            o.unwrap_or_else(|| {
                Outcome::Unknown("outcome unknown; run plan again to see".to_owned())
            })
        })
        .collect::<Vec<_>>();
    (outcomes, stop, rejected)
}

/// Deletes the plan's instances, then marks and unmarks (tag calls); `on_outcome` is called
/// as each deletion's outcome becomes known.
pub async fn apply(
    plan: &Plan,
    client: &Client,
    interrupt: &Interrupt,
    mut on_outcome: impl FnMut(&Instance, &Outcome),
) -> Applied {
    let mut report = Applied::default();
    let mut stopped: Option<String> = None;
    // Recoverable and permanent deletions never share a request: the flag is per request.
    let (recoverable, permanent): (Vec<&Instance>, Vec<&Instance>) = plan
        .delete
        .iter()
        .map(|d| &d.instance)
        .partition(|i| plan.recoverable(&i.id));
    let batches = recoverable
        .chunks(DELETE_BATCH_MAX)
        .map(|b| (b, true))
        .chain(permanent.chunks(DELETE_BATCH_MAX).map(|b| (b, false)));
    for (batch, recycle) in batches {
        let why_not = match (&stopped, interrupt.signal()) {
            (_, Some(signal)) => Some(format!(
                "not attempted: interrupted by {} before this batch was sent",
                signal.name()
            )),
            (Some(why), None) => Some(format!(
                "not attempted: an earlier delete request failed ({why})"
            )),
            (None, None) => None,
        };
        if let Some(why) = why_not {
            for inst in batch {
                let outcome = Outcome::NotAttempted(why.clone());
                on_outcome(inst, &outcome);
                report.outcomes.push(((*inst).clone(), outcome));
            }
            continue;
        }
        interrupt.mark_sent();
        let owned: Vec<Instance> = batch.iter().map(|i| (*i).clone()).collect();
        let (outcomes, stop, rejected) =
            delete_batch(client, &owned, recycle, &mut report.requests).await;
        report.recycle_rejected |= rejected;
        for (inst, outcome) in owned.into_iter().zip(outcomes) {
            if recycle && !outcome.is_failure() {
                report.recycled.push(inst.id.clone());
            }
            on_outcome(&inst, &outcome);
            report.outcomes.push((inst, outcome));
        }
        if stop.is_some() {
            stopped = if rejected {
                Some("the API refused `is_recycle`".to_owned())
            } else {
                stop
            };
        }
    }
    tag_calls(plan, client, interrupt, stopped.as_deref(), &mut report).await;
    report.interrupted = interrupt.signal();
    report
}

/// The plan's marks and unmarks, one tag call each, unless the run stopped.
async fn tag_calls(
    plan: &Plan,
    client: &Client,
    interrupt: &Interrupt,
    stopped: Option<&str>,
    report: &mut Applied,
) {
    let calls = plan
        .mark
        .iter()
        .map(|d| (d, true))
        .chain(plan.unmark.iter().map(|d| (d, false)));
    for (d, mark) in calls {
        let inst = &d.instance;
        let why_not = match (stopped, interrupt.signal()) {
            (_, Some(signal)) => Some(format!(
                "not attempted: interrupted by {} before this tag call",
                signal.name()
            )),
            (Some(why), None) => Some(format!("not attempted: a delete request failed ({why})")),
            (None, None) => None,
        };
        if let Some(why) = why_not {
            report
                .tags
                .push((inst.clone(), TagOutcome::NotAttempted(why)));
            continue;
        }
        interrupt.mark_sent();
        let outcome = if mark {
            let tag = grace::mark_tag(time::OffsetDateTime::now_utc());
            match client
                .tag_action(&inst.id, true, std::slice::from_ref(&tag))
                .await
            {
                Ok(()) => TagOutcome::Marked(tag.1),
                Err(e) => TagOutcome::Failed(format!("marking failed: {e}")),
            }
        } else {
            let value = grace::mark_of(inst).unwrap_or_default().to_owned();
            match client
                .tag_action(&inst.id, false, &[(grace::MARK_KEY.to_owned(), value)])
                .await
            {
                Ok(()) => TagOutcome::Unmarked,
                Err(e) => TagOutcome::Failed(format!("unmarking failed: {e}")),
            }
        };
        report.tags.push((inst.clone(), outcome));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(n: usize) -> Instance {
        Instance {
            id: format!("id-{n}"),
            name: format!("n-{n}"),
            status: "RUNNING".to_owned(),
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
                (inst(4), Outcome::Unknown("who knows".to_owned())),
            ],
            requests: 1,
            interrupted: None,
            ..Applied::default()
        };
        assert_eq!(r.deleted(), 2);
        assert_eq!(r.failures().len(), 3);
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
            "3 of 5 deletions failed: n-1 (id-1), n-3 (id-3), n-4 (id-4)"
        );
        assert!(Applied::default().error().is_none());
    }

    #[test]
    fn an_interruption_exits_4_once_a_delete_was_sent_and_130_or_143_before() {
        let mut r = Applied {
            outcomes: vec![
                (inst(0), Outcome::Deleted),
                (inst(1), Outcome::NotAttempted("interrupted".to_owned())),
            ],
            requests: 1,
            interrupted: Some(Signal::Term),
            ..Applied::default()
        };
        let e = r.error().expect("an error");
        assert_eq!(e.exit_code(), 4);
        assert!(e.to_string().contains("SIGTERM"), "{e}");
        r.requests = 0;
        assert_eq!(r.error().map(|e| e.exit_code()), Some(143));
        r.interrupted = Some(Signal::Int);
        assert_eq!(r.error().map(|e| e.exit_code()), Some(130));
    }

    #[test]
    fn a_listing_settles_what_an_answer_did_not_prove() {
        let (a, b, c) = (inst(1), inst(2), {
            let mut c = inst(3);
            c.status = "DELETING".to_owned();
            c
        });
        let live = [a.clone(), c.clone()];
        let now: HashMap<&str, &Instance> = live.iter().map(|i| (i.id.as_str(), i)).collect();
        let lost = Sent::Unknown("timed out".to_owned());
        assert_eq!(settled(&now, &b.id, &lost, true), Some(Outcome::Deleted));
        assert_eq!(settled(&now, &c.id, &lost, true), Some(Outcome::Deleting));
        assert_eq!(settled(&now, &a.id, &lost, true), None, "sent once more");
        assert!(matches!(
            settled(&now, &a.id, &lost, false),
            Some(Outcome::Failed(m)) if m.contains("still there (status RUNNING)")
        ));
        assert!(matches!(
            settled(&now, &a.id, &Sent::Unmentioned("no result".to_owned()), true),
            Some(Outcome::Unknown(m)) if m.starts_with("outcome unknown")
        ));
        assert_eq!(
            settled(&now, &c.id, &Sent::Refused("failed".to_owned()), true),
            Some(Outcome::Deleting),
            "another run is deleting it"
        );
    }
}
