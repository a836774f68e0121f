//! The throttle service's response future: the inner call, then whether the backend accepted it.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::error::Error;
use crate::throttle::AdaptiveThrottle;

pin_project! {
    /// Response future of [`Throttle`](super::Throttle).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        fut: Option<F>,
        throttle: Option<AdaptiveThrottle>,
    }
}

impl<F> ResponseFuture<F> {
    pub(super) fn admitted(fut: F, throttle: AdaptiveThrottle) -> Self {
        Self { fut: Some(fut), throttle: Some(throttle) }
    }

    pub(super) fn throttled() -> Self {
        Self { fut: None, throttle: None }
    }
}

impl<F, T, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<T, E>>,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(fut) = this.fut.as_pin_mut() else { return Poll::Ready(Err(Error::Throttled)) };
        let r = std::task::ready!(fut.poll(cx));
        if let Some(t) = this.throttle.take() {
            t.record(r.is_ok());
        }
        Poll::Ready(r.map_err(Error::Inner))
    }
}
