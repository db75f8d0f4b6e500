//! `apply --wait`: list until every deleted instance has left the listing (`DELETING` is not
//! gone yet).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::api::Client;
use crate::error::{Error, Result};
use crate::model::Instance;
use crate::render::report::{self, Reporter, WaitEvent};
use crate::signals::Interrupt;

pub(crate) async fn wait_gone(
    client: &Client,
    deleted: Vec<Instance>,
    timeout: Duration,
    interval: Duration,
    interrupt: &Interrupt,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    match wait(client, deleted, timeout, interval, interrupt, reporter).await {
        Err(e @ Error::Wait(_)) => Err(e),
        // The deletions were sent: a failing listing is "not confirmed" (exit 4), never 1.
        Err(e) => Err(Error::Wait(format!(
            "the deletions were sent, but --wait could not confirm them: {e}"
        ))),
        Ok(()) => Ok(()),
    }
}

async fn wait(
    client: &Client,
    deleted: Vec<Instance>,
    timeout: Duration,
    interval: Duration,
    interrupt: &Interrupt,
    reporter: &mut dyn Reporter,
) -> Result<()> {
    if deleted.is_empty() {
        return Ok(());
    }
    let start = Instant::now();
    // A timeout too large for the clock waits "forever" (a year), never overflows.
    let deadline = start
        .checked_add(timeout)
        .or_else(|| start.checked_add(Duration::from_secs(365 * 86_400)))
        .unwrap_or(start);
    let total = deleted.len();
    let event = |r: &mut dyn Reporter, e: WaitEvent<'_>| r.wait(e).map_err(report::write_error);
    event(reporter, WaitEvent::Start { total, timeout })?;
    let mut pending: Vec<(Instance, String)> = deleted
        .into_iter()
        .map(|i| {
            let status = i.status.clone();
            (i, status)
        })
        .collect();
    loop {
        let live = client.list_instances().await?;
        let now: HashMap<&str, &Instance> = live.iter().map(|i| (i.id.as_str(), i)).collect();
        let mut still = Vec::with_capacity(pending.len());
        for (inst, last) in pending {
            match now.get(inst.id.as_str()) {
                None => event(reporter, WaitEvent::Gone(&inst))?,
                Some(current) => {
                    if current.status != last {
                        event(reporter, WaitEvent::Status(&inst, &current.status))?;
                    }
                    let status = current.status.clone();
                    still.push((inst, status));
                }
            }
        }
        pending = still;
        if pending.is_empty() {
            return event(
                reporter,
                WaitEvent::Done {
                    total,
                    elapsed: start.elapsed(),
                },
            );
        }
        let now = Instant::now();
        if now >= deadline {
            event(reporter, WaitEvent::TimedOut)?;
            let names: Vec<String> = pending
                .iter()
                .map(|(i, status)| format!("{} ({}, {status})", i.name, i.id))
                .collect();
            return Err(Error::Wait(format!(
                "--wait-timeout {} passed and {} of {total} deleted instances are still listed: {}",
                crate::util::human_duration(timeout),
                pending.len(),
                names.join(", ")
            )));
        }
        event(reporter, WaitEvent::Still(pending.len()))?;
        tokio::select! {
            () = tokio::time::sleep(interval.min(deadline - now)) => {}
            () = interrupt.notified() => {
                event(reporter, WaitEvent::TimedOut)?;
                return Err(Error::Wait(format!(
                    "interrupted by {} while waiting: {} of {total} deleted instances are \
                     still listed",
                    interrupt.signal().map_or("a signal", |s| s.name()),
                    pending.len()
                )));
            }
        }
    }
}
