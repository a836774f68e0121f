//! The fallback service's response future: the inner call, then (on a selected error) the
//! fallback's answer.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::error::Error;
use crate::fallback::{BoxFut, Fallback};

pin_project! {
    /// Response future of [`Fallback`](super::Fallback): the inner call, then (on a selected
    /// error) the fallback's answer. A success allocates nothing.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, T, E> {
        #[pin]
        fut: F,
        fallback: Option<Fallback<T, E>>,
        serving: Option<BoxFut<T, E>>,
    }
}

impl<F, T, E> ResponseFuture<F, T, E> {
    pub(super) fn new(fut: F, fallback: Fallback<T, E>) -> Self {
        Self { fut, fallback: Some(fallback), serving: None }
    }
}

impl<F, T, E> std::fmt::Debug for ResponseFuture<F, T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").field("serving", &self.serving.is_some()).finish_non_exhaustive()
    }
}

impl<F, T, E> Future for ResponseFuture<F, T, E>
where
    F: Future<Output = Result<T, Error<E>>>,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Some(serving) = this.serving.as_mut() {
            return serving.as_mut().poll(cx);
        }
        let e = match std::task::ready!(this.fut.poll(cx)) {
            Ok(v) => return Poll::Ready(Ok(v)),
            Err(e) => e,
        };
        let Some(fallback) = this.fallback.take() else { return Poll::Ready(Err(e)) };
        match fallback.recover(e) {
            Ok(serving) => this.serving.insert(serving).as_mut().poll(cx),
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}
