//! How the memory backend hands out a lease: as a [`LeasedTask`] (the [`Backend`] trait) or
//! into a worker loop's context, and what a running task keeps to cancel its attempt.
//!
//! [`Backend`]: crate::Backend

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::backend::LeasedTask;
use crate::handler::{Lease, TaskContext};

/// What a running task keeps to cancel its attempt.
#[derive(Debug)]
pub(super) enum Running {
    /// The token handed out with a [`LeasedTask`](crate::LeasedTask).
    Token(CancellationToken),
    /// The context a worker loop runs the attempt with (it holds the token): one reference
    /// count to keep, where a token's clone and drop each take the token's lock.
    Context(TaskContext),
}

impl Running {
    pub(super) fn cancel(&self) {
        match self {
            Self::Token(t) => t.cancel(),
            Self::Context(c) => c.cancellation().cancel(),
        }
    }
}

/// Whoever takes leases from [`State::take`](super::state::State::take).
pub(super) trait Sink {
    /// Whether a lease moves the task's payload (given back with a retry or a release) rather
    /// than sharing it.
    const MOVES_PAYLOAD: bool;

    /// Takes one lease; returns what the task keeps to cancel the attempt.
    fn put(&mut self, lease: Lease) -> Running;
}

/// A task leased by a worker loop: its context (which the backend keeps a reference to, for
/// cancelling), its submitter's span and how long it waited.
#[derive(Debug)]
pub(crate) struct Leased {
    pub(crate) ctx: TaskContext,
    pub(crate) span: Option<tracing::Span>,
    pub(crate) waited: Duration,
}

/// Leases as [`LeasedTask`]s (the [`Backend`] trait), each with a new token; the payload is
/// shared (outcomes come without it).
pub(super) struct Tasks<F>(pub(super) F);

impl<F: FnMut(LeasedTask)> Sink for Tasks<F> {
    const MOVES_PAYLOAD: bool = false;

    fn put(&mut self, lease: Lease) -> Running {
        let cancel = CancellationToken::new();
        (self.0)(lease.into_task(cancel.clone()));
        Running::Token(cancel)
    }
}

/// One lease into a worker loop's blank context; the payload moves to the attempt.
pub(super) struct Contexts<'a> {
    pub(super) blank: &'a mut Option<TaskContext>,
    pub(super) out: &'a mut Option<Leased>,
}

impl Sink for Contexts<'_> {
    const MOVES_PAYLOAD: bool = true;

    fn put(&mut self, lease: Lease) -> Running {
        let blank = self.blank.take().unwrap_or_else(TaskContext::blank);
        let (ctx, span, waited) = blank.fill(lease);
        *self.out = Some(Leased { ctx: ctx.clone(), span, waited });
        Running::Context(ctx)
    }
}
