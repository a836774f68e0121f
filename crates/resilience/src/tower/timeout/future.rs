//! The timeout service's response future: the inner call raced against a tokio sleep.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tokio::time::Sleep;

use crate::error::Error;
use crate::timeout::Timeout;

pin_project! {
    /// Response future of [`Timeout`](super::Timeout).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        fut: F,
        #[pin]
        sleep: Sleep,
        timeout: Timeout,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn new(fut: F, timeout: Timeout) -> Self {
        Self { fut, sleep: tokio::time::sleep(timeout.duration()), timeout }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(r) = this.fut.poll(cx) {
            return Poll::Ready(r.map_err(Error::Inner));
        }
        match this.sleep.poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(this.timeout.elapsed())),
            Poll::Pending => Poll::Pending,
        }
    }
}
