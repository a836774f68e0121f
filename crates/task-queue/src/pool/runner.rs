//! Runs one attempt: handler lookup, timeout, panic capture, outcome.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tracing::Instrument;

use super::shared::Shared;
use crate::backend::{Completion, LeasedTask, Outcome};
use crate::backoff::Backoff;
use crate::error::TaskError;
use crate::handler::TaskContext;
use crate::priority::level;

enum Ended {
    Returned(Result<(), TaskError>),
    Panicked(String),
    TimedOut,
    Killed,
}

/// Spawns the attempt; the permit is released when it ends.
pub(super) fn spawn(shared: &Arc<Shared>, task: LeasedTask, permit: OwnedSemaphorePermit) {
    let parent = task.span.as_ref().and_then(tracing::Span::id);
    let span = tracing::info_span!(parent: parent, "task", id = task.id.0, kind = %task.kind, attempt = task.attempt);
    let shared = Arc::clone(shared);
    let attempt = async move {
        if let Some(completion) = run(&shared, task).await {
            if let Some(tx) = shared.sender() {
                // A closed channel means the pool is gone: the lease expires and the task is
                // rescued.
                let _ = tx.send(completion);
            }
        }
        drop(permit);
    };
    // Without a subscriber interested in the span, skip the per-poll enter/exit.
    if span.is_disabled() {
        tokio::spawn(attempt);
    } else {
        tokio::spawn(attempt.instrument(span));
    }
}

/// Runs the attempt on the calling task (worker-loop mode); returns the outcome to write, if
/// any (the caller writes it, together with its next fetch).
pub(super) async fn run_inline(shared: &Shared, task: LeasedTask) -> Option<Completion> {
    let parent = task.span.as_ref().and_then(tracing::Span::id);
    let span = tracing::info_span!(parent: parent, "task", id = task.id.0, kind = %task.kind, attempt = task.attempt);
    if span.is_disabled() {
        run(shared, task).await
    } else {
        run(shared, task).instrument(span).await
    }
}

/// Counts outcome writes the backend rejected as stale.
pub(super) fn count_rejected(shared: &Shared, n: usize) {
    if n > 0 {
        shared.queue.inner.counters.stale_rejected.add(n as u64);
        metrics::counter!("perfstack_task_stale_completions_total").increment(n as u64);
    }
}

/// Runs one attempt; returns the outcome still to be written (`None` when the handler already
/// wrote it in its own transaction).
async fn run(shared: &Shared, task: LeasedTask) -> Option<Completion> {
    let counters = &shared.queue.inner.counters;
    counters.wait.record(task.waited);
    shared.metrics.wait[usize::from(level(task.priority))].record(task.waited.as_secs_f64());
    shared.in_flight.add(1);
    if shared.track_leases {
        shared.running.lock().insert(task.id, (task.fence, task.cancel.clone()));
    }

    let registered = shared.handlers.get(&*task.kind);
    let Attempt { id, fence, attempt, max_attempts, backoff, timeout } = Attempt::of(&task);
    let ctx = TaskContext::new(task);
    let cancel = ctx.cancellation();
    let started = Instant::now();
    let ended = match registered {
        None => Ended::Returned(Err(TaskError::Permanent(format!("no handler for kind {:?}", ctx.kind())))),
        Some(r) => {
            let attempt = AssertUnwindSafe(r.handler.run(ctx.clone())).catch_unwind();
            let deadline = timeout.map(|t| started + t);
            tokio::select! {
                // Biased: a handler that is ready at once never registers with the kill token.
                biased;
                res = attempt => match res {
                    Ok(r) => Ended::Returned(r),
                    Err(panic) => Ended::Panicked(panic_message(&*panic)),
                },
                () = sleep_until_opt(deadline) => Ended::TimedOut,
                () = shared.kill.cancelled() => Ended::Killed,
            }
        }
    };
    let elapsed = started.elapsed();
    if shared.track_leases {
        shared.running.lock().remove(&id);
    }
    shared.in_flight.add(-1);

    let retry_or_dead = |error: String| {
        let delay = if attempt < max_attempts {
            match registered.and_then(|r| r.backoff.as_ref()) {
                Some(b) => b.delay(attempt),
                None => backoff.delay(attempt),
            }
        } else {
            None
        };
        match delay {
            Some(delay) => Outcome::Retry { delay, error },
            None => Outcome::Dead { error },
        }
    };
    let outcome = match ended {
        Ended::Returned(Ok(())) => Outcome::Completed,
        Ended::Returned(Err(TaskError::Permanent(e))) => Outcome::Dead { error: e },
        Ended::Returned(Err(_)) | Ended::Panicked(_) if cancel.is_cancelled() && !shared.kill.is_cancelled() => {
            Outcome::Cancelled
        }
        Ended::Returned(Err(TaskError::Retry(e))) => retry_or_dead(e),
        Ended::Panicked(msg) => {
            counters.panicked.add(1);
            tracing::warn!(panic = %msg, "task handler panicked");
            retry_or_dead(format!("handler panicked: {msg}"))
        }
        Ended::TimedOut => {
            cancel.cancel();
            counters.timed_out.add(1);
            retry_or_dead(format!("timed out after {:?}", timeout.unwrap_or_default()))
        }
        Ended::Killed => {
            cancel.cancel();
            Outcome::Released
        }
    };
    let i = match &outcome {
        Outcome::Completed => {
            counters.completed.add(1);
            0
        }
        Outcome::Retry { error, .. } => {
            counters.retried.add(1);
            tracing::info!(%error, "task attempt failed; will retry");
            1
        }
        Outcome::Dead { error } => {
            counters.dead.add(1);
            tracing::warn!(%error, "task dead-lettered");
            2
        }
        Outcome::Cancelled => {
            counters.cancelled.add(1);
            3
        }
        Outcome::Released => {
            counters.released.add(1);
            4
        }
    };
    counters.run.record(elapsed);
    let m = shared.metrics.kind(ctx.kind());
    m.outcomes[i].increment(1);
    m.durations[i].record(elapsed.as_secs_f64());
    if ctx.is_settled() && outcome == Outcome::Completed {
        return None; // the handler wrote the completion in its own transaction
    }
    Some(Completion { id, fence, outcome })
}

/// What the runner still needs of a leased task once its context owns the rest.
struct Attempt {
    id: crate::task::TaskId,
    fence: i64,
    attempt: u32,
    max_attempts: u32,
    backoff: crate::backoff::BackoffPolicy,
    timeout: Option<std::time::Duration>,
}

impl Attempt {
    fn of(task: &LeasedTask) -> Self {
        Self {
            id: task.id,
            fence: task.fence,
            attempt: task.attempt,
            max_attempts: task.max_attempts,
            backoff: task.backoff,
            timeout: task.timeout,
        }
    }
}

async fn sleep_until_opt(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
