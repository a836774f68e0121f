use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::error::Error;
use crate::throttle::AdaptiveThrottle;

/// Client-side adaptive throttling in front of a service, shared by every clone; an `Err`
/// from the inner service counts as a backend rejection.
#[derive(Debug, Clone)]
pub struct ThrottleLayer {
    throttle: AdaptiveThrottle,
}

impl ThrottleLayer {
    /// A layer for `throttle`.
    #[must_use]
    pub fn new(throttle: AdaptiveThrottle) -> Self {
        Self { throttle }
    }
}

impl<S> Layer<S> for ThrottleLayer {
    type Service = ThrottleService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ThrottleService { inner, throttle: self.throttle.clone() }
    }
}

/// The service made by [`ThrottleLayer`].
#[derive(Debug, Clone)]
pub struct ThrottleService<S> {
    inner: S,
    throttle: AdaptiveThrottle,
}

impl<S, Req> Service<Req> for ThrottleService<S>
where
    S: Service<Req>,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = ThrottleFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        if self.throttle.try_admit() {
            ThrottleFuture { fut: Some(self.inner.call(req)), throttle: Some(self.throttle.clone()) }
        } else {
            ThrottleFuture { fut: None, throttle: None }
        }
    }
}

pin_project! {
    /// Response future of [`ThrottleService`].
    #[derive(Debug)]
    pub struct ThrottleFuture<F> {
        #[pin]
        fut: Option<F>,
        throttle: Option<AdaptiveThrottle>,
    }
}

impl<F, T, E> Future for ThrottleFuture<F>
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
