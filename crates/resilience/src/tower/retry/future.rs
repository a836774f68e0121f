//! The retry service's response future: the retry loop as a state machine (no allocation).

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use pin_project_lite::pin_project;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use crate::retry::Verdict;

pin_project! {
    /// Response future of [`Retry`](super::Retry): the first success, or the last error once
    /// the policy stops (attempts, elapsed time, schedule or budget).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<S, Req>
    where
        S: Service<Req>,
    {
        #[pin]
        state: State<S::Future>,
        // The service of the current attempt; each retry runs on a fresh clone of it.
        svc: S,
        req: Req,
        retry: crate::Retry,
        attempt: u32,
        previous: Option<Duration>,
        started: Option<Instant>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F> {
        // An attempt in flight.
        Calling { #[pin] fut: F },
        // Waiting out the backoff before the next attempt.
        Backoff { #[pin] sleep: Sleep },
        // Waiting for the fresh clone to be ready.
        Readying,
    }
}

impl<S, Req> ResponseFuture<S, Req>
where
    S: Service<Req>,
{
    /// The first attempt, already made on `svc` (the service that was polled ready).
    pub(super) fn new(fut: S::Future, svc: S, req: Req, retry: crate::Retry, started: Option<Instant>) -> Self {
        Self { state: State::Calling { fut }, svc, req, retry, attempt: 1, previous: None, started }
    }
}

impl<S, Req> std::fmt::Debug for ResponseFuture<S, Req>
where
    S: Service<Req>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match &self.state {
            State::Calling { .. } => "calling",
            State::Backoff { .. } => "backoff",
            State::Readying => "readying",
        };
        f.debug_struct("ResponseFuture")
            .field("state", &state)
            .field("attempt", &self.attempt)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

impl<S, Req> Future for ResponseFuture<S, Req>
where
    S: Service<Req> + Clone,
    Req: Clone,
{
    type Output = Result<S::Response, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            let err = match this.state.as_mut().project() {
                StateProj::Calling { fut } => match ready!(fut.poll(cx)) {
                    Ok(v) => return Poll::Ready(Ok(v)),
                    Err(e) => e,
                },
                StateProj::Backoff { sleep } => {
                    ready!(sleep.poll(cx));
                    *this.svc = this.svc.clone();
                    this.state.set(State::Readying);
                    continue;
                }
                // A failed readiness check is a failed attempt, as a failed call is.
                StateProj::Readying => match ready!(this.svc.poll_ready(cx)) {
                    Ok(()) => {
                        let fut = this.svc.call(this.req.clone());
                        this.state.set(State::Calling { fut });
                        continue;
                    }
                    Err(e) => e,
                },
            };
            let Some(delay) = this.retry.next_delay(&Verdict::Retry, *this.attempt, *this.previous, *this.started)
            else {
                return Poll::Ready(Err(err));
            };
            *this.previous = Some(delay);
            *this.attempt += 1;
            this.state.set(State::Backoff { sleep: tokio::time::sleep(delay) });
        }
    }
}
