//! The hedge service's response future: the race of the first call and its backup, boxed
//! (decision 0015).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// The boxed race.
type Race<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;

/// Response future of [`Hedge`](super::Hedge): the first success of the call and its backup.
#[must_use = "futures do nothing unless polled"]
pub struct ResponseFuture<T, E> {
    race: Race<T, E>,
}

impl<T, E> ResponseFuture<T, E> {
    pub(super) fn new(race: Race<T, E>) -> Self {
        Self { race }
    }
}

impl<T, E> std::fmt::Debug for ResponseFuture<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<T, E> Future for ResponseFuture<T, E> {
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.race.as_mut().poll(cx)
    }
}
