//! Runs one attempt: handler lookup, timeout, panic capture, outcome.
//!
//! The handler's panics are caught around its future. User code also runs before and after it
//! (a handler's own `Backoff`, a metrics recorder, a tracing subscriber): a panic there ends the
//! attempt as dead with the message, instead of ending the worker loop with the task left
//! running. Those parts are synchronous ([`Attempting::start`], `end`), so the future that
//! carries an attempt across its one await holds little more than the handler's (boxed)
//! future: a future is moved, byte by byte, each time it is handed on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures::FutureExt;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tracing::Instrument;

use super::handlers::Registered;
use super::metrics::KindMetrics;
use super::shared::Shared;
use crate::backend::{Completion, LeasedTask, Outcome};
use crate::backoff::Backoff;
use crate::error::TaskError;
use crate::handler::TaskContext;
use crate::limits::{clamp_delay, error_text};
use crate::priority::level;
use crate::task::TaskId;

enum Ended {
    Returned(Result<(), TaskError>),
    Panicked(String),
    TimedOut,
    Killed,
}

/// The handler and metric handles of the last kind a runner saw: a worker loop runs many tasks
/// of few kinds, so most attempts skip both map lookups.
pub(super) struct KindCache<'a> {
    kind: Option<Arc<str>>,
    registered: Option<&'a Registered>,
    metrics: Option<&'a KindMetrics>,
}

impl<'a> KindCache<'a> {
    pub(super) fn new() -> Self {
        Self { kind: None, registered: None, metrics: None }
    }

    fn get(&mut self, shared: &'a Shared, kind: Option<&Arc<str>>) -> (Option<&'a Registered>, &'a KindMetrics) {
        match (&self.kind, kind, self.metrics) {
            (Some(k), Some(kind), Some(m)) if Arc::ptr_eq(k, kind) || **k == **kind => (self.registered, m),
            (_, Some(kind), _) => {
                let (r, m) = (shared.handlers.get(&**kind), shared.metrics.kind(kind));
                *self = Self { kind: Some(Arc::clone(kind)), registered: r, metrics: Some(m) };
                (r, m)
            }
            (_, None, _) => (None, shared.metrics.kind("")),
        }
    }
}

/// Spawns the attempt (fetcher mode); the permit is released when it ends.
pub(super) fn spawn(shared: &Arc<Shared>, task: LeasedTask, permit: OwnedSemaphorePermit) {
    let shared = Arc::clone(shared);
    tokio::spawn(async move {
        let attempt = Attempting::start(&shared, task, Instant::now(), &mut KindCache::new());
        let (completion, ..) = attempt.run(&shared).await;
        if let Some(completion) = completion {
            if let Some(tx) = shared.sender() {
                // A closed channel means the pool is gone: the lease expires and the task is
                // rescued.
                let _ = tx.send(completion);
            }
        }
        drop(permit);
    });
}

type HandlerFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), TaskError>> + Send + 'a>>;

/// An attempt whose handler has been called (or that has already ended).
pub(super) enum Attempting<'a> {
    Running {
        begun: Begun<'a>,
        handler: Option<HandlerFuture<'a>>,
        /// The task's span, when a subscriber is interested in it.
        span: Option<Box<tracing::Span>>,
    },
    /// Ended before it started (a panic in the pool's code around the handler).
    Ended(Option<Completion>),
}

/// What the end of an attempt needs.
pub(super) struct Begun<'a> {
    in_flight: InFlight<'a>,
    ctx: TaskContext,
    registered: Option<&'a Registered>,
    metrics: &'a KindMetrics,
    started: Instant,
}

impl<'a> Attempting<'a> {
    /// [`begin`](Self::begin) for a task leased through the [`Backend`](crate::Backend) trait.
    pub(super) fn start(shared: &'a Shared, task: LeasedTask, started: Instant, cache: &mut KindCache<'a>) -> Self {
        let (span, waited) = (task.span.clone(), task.waited);
        Self::begin(shared, TaskContext::new(task), span, waited, started, cache)
    }

    /// Counts the attempt in and calls its handler; `span` is the submitter's, `started` the
    /// caller's clock reading at the lease. Synchronous: nothing of the lease is carried in a
    /// future but the context (one pointer).
    pub(super) fn begin(
        shared: &'a Shared,
        ctx: TaskContext,
        span: Option<tracing::Span>,
        waited: Duration,
        started: Instant,
        cache: &mut KindCache<'a>,
    ) -> Self {
        let (id, fence) = (ctx.id(), ctx.fence());
        let parent = span.as_ref().and_then(tracing::Span::id);
        let span = tracing::info_span!(parent: parent, "task", id = id.0, kind = %ctx.kind(), attempt = ctx.attempt());
        let span = (!span.is_disabled()).then(|| Box::new(span));
        let _entered = span.as_ref().map(|s| s.enter());
        match catch_unwind(AssertUnwindSafe(|| begin(shared, ctx, waited, started, cache))) {
            Ok((begun, handler)) => {
                drop(_entered);
                Self::Running { begun, handler, span }
            }
            Err(panic) => Self::Ended(Some(failed(id, fence, &*panic))),
        }
    }

    /// Runs the handler to its end; returns the outcome still to be written (`None` when the
    /// handler already wrote it in its own transaction), the task's payload when the task will
    /// run again (for a backend that moved it to the attempt), and the clock reading at the end.
    pub(super) async fn run(self, shared: &'a Shared) -> (Option<Completion>, Option<Arc<[u8]>>, Instant) {
        let (begun, handler, span) = match self {
            Self::Running { begun, handler, span } => (begun, handler, span),
            Self::Ended(done) => return (done, None, Instant::now()),
        };
        let ended = match (handler, &span) {
            (Some(fut), None) => await_handler(shared, fut, begun.deadline()).await,
            // Boxed: only with a subscriber interested in task spans.
            (Some(fut), Some(span)) => {
                Box::pin(await_handler(shared, fut, begun.deadline()).instrument((**span).clone())).await
            }
            (None, _) => {
                Ended::Returned(Err(TaskError::Permanent(format!("no handler for kind {:?}", begun.ctx.kind()))))
            }
        };
        let now = Instant::now();
        let (id, fence) = (begun.ctx.id(), begun.ctx.fence());
        let _entered = span.as_ref().map(|s| s.enter());
        match catch_unwind(AssertUnwindSafe(|| end(shared, begun, ended, now))) {
            Ok((done, payload)) => (done, payload, now),
            Err(panic) => (Some(failed(id, fence, &*panic)), None, now),
        }
    }
}

impl Begun<'_> {
    /// A timeout too long to add to the clock is no timeout.
    fn deadline(&self) -> Option<Instant> {
        self.ctx.timeout().and_then(|t| self.started.checked_add(t))
    }
}

fn failed(id: TaskId, fence: i64, panic: &(dyn std::any::Any + Send)) -> Completion {
    let msg = panic_message(panic);
    tracing::error!(task = id.0, panic = %msg, "the pool failed around a task attempt; the task is dead-lettered");
    let error = error_text(format!("the worker failed around this attempt: {msg}"));
    Completion { id, fence, outcome: Outcome::Dead { error } }
}

/// Counts the attempt in and calls its handler.
fn begin<'a>(
    shared: &'a Shared,
    ctx: TaskContext,
    waited: Duration,
    started: Instant,
    cache: &mut KindCache<'a>,
) -> (Begun<'a>, Option<HandlerFuture<'a>>) {
    let counters = &shared.queue.inner.counters;
    counters.wait.record(waited);
    shared.metrics.wait[usize::from(level(ctx.priority()))].record(waited.as_secs_f64());
    let in_flight = InFlight::enter(shared, &ctx);
    let (registered, metrics) = cache.get(shared, ctx.kind_arc());
    let handler = registered.map(|r| r.handler.run(ctx.clone()));
    (Begun { in_flight, ctx, registered, metrics, started }, handler)
}

/// Runs the handler's future to its end, its timeout, or the pool's kill.
async fn await_handler<'a>(shared: &'a Shared, fut: HandlerFuture<'a>, deadline: Option<Instant>) -> Ended {
    let ended = |res: Result<Result<(), TaskError>, Box<dyn std::any::Any + Send>>| match res {
        Ok(r) => Ended::Returned(r),
        Err(panic) => Ended::Panicked(panic_message(&*panic)),
    };
    let mut attempt = AssertUnwindSafe(fut).catch_unwind();
    // A handler that is ready at once never registers a timer or with the kill token.
    if let Poll::Ready(res) = futures::poll!(&mut attempt) {
        return ended(res);
    }
    // Boxed: the timer and the kill token's waiter are only needed by handlers that wait.
    Box::pin(async move {
        tokio::select! {
            biased;
            res = attempt => ended(res),
            () = sleep_until_opt(deadline) => Ended::TimedOut,
            () = shared.kill.cancelled() => Ended::Killed,
        }
    })
    .await
}

/// Counts the attempt out and turns how it ended into the outcome to write, with the payload
/// when the task will run again.
fn end(shared: &Shared, b: Begun<'_>, ended: Ended, now: Instant) -> (Option<Completion>, Option<Arc<[u8]>>) {
    let Begun { in_flight, ctx, registered, metrics: m, started } = b;
    drop(in_flight);
    let counters = &shared.queue.inner.counters;
    let elapsed = now.saturating_duration_since(started);
    let cancel = ctx.cancellation();
    let (attempt, max_attempts) = (ctx.attempt(), ctx.max_attempts());
    let retry_or_dead = |error: String| {
        let delay = if attempt < max_attempts {
            match registered.and_then(|r| r.backoff.as_ref()) {
                Some(b) => b.delay(attempt),
                None => ctx.backoff().delay(attempt),
            }
        } else {
            None
        };
        // Stored as given by the handler or panic, but never longer than a row can hold or
        // with a byte PostgreSQL refuses; the delay never past what a clock can represent.
        let error = error_text(error);
        match delay {
            Some(delay) => Outcome::Retry { delay: clamp_delay(delay), error },
            None => Outcome::Dead { error },
        }
    };
    let outcome = match ended {
        Ended::Returned(Ok(())) => Outcome::Completed,
        Ended::Returned(Err(TaskError::Permanent(e))) => Outcome::Dead { error: error_text(e) },
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
            retry_or_dead(format!("timed out after {:?}", ctx.timeout().unwrap_or_default()))
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
    m.outcomes[i].increment(1);
    m.durations[i].record(elapsed.as_secs_f64());
    if ctx.is_settled() && outcome == Outcome::Completed {
        return (None, None); // the handler wrote the completion in its own transaction
    }
    let payload = matches!(outcome, Outcome::Retry { .. } | Outcome::Released).then(|| ctx.payload_arc()).flatten();
    (Some(Completion { id: ctx.id(), fence: ctx.fence(), outcome }), payload)
}

/// Takes an attempt out of the in-flight count (and the lease map) when it ends, also by a
/// panic.
struct InFlight<'a> {
    shared: &'a Shared,
    id: TaskId,
}

impl<'a> InFlight<'a> {
    fn enter(shared: &'a Shared, ctx: &TaskContext) -> Self {
        shared.in_flight.add(1);
        if shared.track_leases {
            shared.running.lock().insert(ctx.id(), (ctx.fence(), ctx.cancellation().clone()));
        }
        Self { shared, id: ctx.id() }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        if self.shared.track_leases {
            self.shared.running.lock().remove(&self.id);
        }
        self.shared.in_flight.add(-1);
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
