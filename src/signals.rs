//! SIGINT and SIGTERM during `apply` (a Ctrl-C, a cancelled CI job).
//!
//! - At the prompt: exit at once; nothing was deleted.
//! - Otherwise, the first signal is recorded: no further DELETE is sent, the request in flight
//!   finishes (bounded by `--timeout`), and every planned instance is reported.
//! - A second signal exits at once, saying that the report is incomplete.
//!
//! The listener is a task on a worker thread of the runtime, so it runs while the main thread
//! blocks at the prompt.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use tokio::sync::Notify;

use crate::error::EXIT_DELETE_FAILED;

/// A signal that interrupts a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGINT (Ctrl-C): exit code 130 when nothing was deleted.
    Int,
    /// SIGTERM (a job cancelled): exit code 143 when nothing was deleted.
    Term,
}

impl Signal {
    /// `SIGINT`, `SIGTERM`.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Int => "SIGINT",
            Signal::Term => "SIGTERM",
        }
    }

    /// The shell's code for a process ended by this signal: 128 + its number.
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Int => 130,
            Signal::Term => 143,
        }
    }

    fn from_u8(n: u8) -> Option<Signal> {
        match n {
            2 => Some(Signal::Int),
            15 => Some(Signal::Term),
            _ => None,
        }
    }

    fn as_u8(self) -> u8 {
        match self {
            Signal::Int => 2,
            Signal::Term => 15,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    signal: AtomicU8,
    sent: AtomicBool,
    prompting: AtomicBool,
    notify: Notify,
}

/// Whether the run was interrupted, shared with the listener.
#[derive(Debug, Clone, Default)]
pub struct Interrupt {
    state: Arc<State>,
}

impl Interrupt {
    /// Starts listening for SIGINT and SIGTERM. From now on they no longer end the process
    /// by default: the run decides. Needs a multi-threaded runtime to answer at the prompt.
    pub fn listen() -> Interrupt {
        let interrupt = Interrupt::default();
        let state = Arc::clone(&interrupt.state);
        match Listener::new() {
            Ok(mut listener) => {
                tokio::spawn(async move {
                    loop {
                        let signal = listener.next().await;
                        on_signal(&state, signal);
                    }
                });
            }
            Err(e) => tracing::warn!("cannot listen for signals: {e}"),
        }
        interrupt
    }

    /// The signal received, if any.
    pub fn signal(&self) -> Option<Signal> {
        Signal::from_u8(self.state.signal.load(Ordering::SeqCst))
    }

    /// Records that a DELETE is about to be sent: from now on the exit code is never 1.
    pub fn mark_sent(&self) {
        self.state.sent.store(true, Ordering::SeqCst);
    }

    /// Whether a DELETE was sent.
    pub fn was_sent(&self) -> bool {
        self.state.sent.load(Ordering::SeqCst)
    }

    /// While `on`, a signal exits at once (nothing is being deleted).
    pub fn prompting(&self, on: bool) {
        self.state.prompting.store(on, Ordering::SeqCst);
    }

    /// Resolves when a signal arrives (at once if one already has).
    pub async fn notified(&self) {
        let notified = self.state.notify.notified();
        if self.signal().is_some() {
            return;
        }
        notified.await;
    }

    /// Records `signal` as if it had been received (for tests).
    #[cfg(test)]
    pub fn raise(&self, signal: Signal) {
        on_signal(&self.state, signal);
    }
}

fn on_signal(state: &State, signal: Signal) {
    use std::io::Write;
    let mut err = std::io::stderr();
    if state.prompting.load(Ordering::SeqCst) {
        let _ = writeln!(
            err,
            "\n{}: apply cancelled; nothing was deleted",
            signal.name()
        );
        std::process::exit(i32::from(signal.exit_code()));
    }
    let first = state
        .signal
        .compare_exchange(0, signal.as_u8(), Ordering::SeqCst, Ordering::SeqCst)
        .is_ok();
    if first {
        let _ = writeln!(
            err,
            "{}: no further deletion is sent; finishing the request in flight, then reporting \
             (send it again to exit at once)",
            signal.name()
        );
        state.notify.notify_waiters();
        return;
    }
    let sent = state.sent.load(Ordering::SeqCst);
    let _ = writeln!(
        err,
        "error: {} again: exiting now; the report is incomplete{}",
        signal.name(),
        if sent {
            " (deletions were sent: run plan to see what is left)"
        } else {
            ""
        }
    );
    std::process::exit(i32::from(if sent {
        EXIT_DELETE_FAILED
    } else {
        signal.exit_code()
    }));
}

#[cfg(unix)]
struct Listener {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Listener {
    fn new() -> std::io::Result<Listener> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Listener {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    async fn next(&mut self) -> Signal {
        tokio::select! {
            _ = self.int.recv() => Signal::Int,
            _ = self.term.recv() => Signal::Term,
        }
    }
}

#[cfg(not(unix))]
struct Listener;

#[cfg(not(unix))]
impl Listener {
    fn new() -> std::io::Result<Listener> {
        Ok(Listener)
    }

    async fn next(&mut self) -> Signal {
        let _ = tokio::signal::ctrl_c().await;
        Signal::Int
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_first_signal_is_recorded_and_wakes_the_waiters() {
        let i = Interrupt::default();
        assert_eq!(i.signal(), None);
        let waiter = {
            let i = i.clone();
            tokio::spawn(async move { i.notified().await })
        };
        tokio::task::yield_now().await;
        i.raise(Signal::Term);
        assert_eq!(i.signal(), Some(Signal::Term));
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .expect("woken")
            .expect("joined");
        // Already interrupted: resolves at once.
        i.notified().await;
        assert_eq!(Signal::Int.exit_code(), 130);
        assert_eq!(Signal::Term.exit_code(), 143);
    }
}
