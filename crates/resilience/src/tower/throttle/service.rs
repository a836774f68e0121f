//! [`Throttle`]: the service that may refuse a call locally and records the backend's answers.

use std::task::{Context, Poll};

use tower_service::Service;

use super::future::ResponseFuture;
use crate::error::Error;
use crate::throttle::AdaptiveThrottle;

/// The service made by [`ThrottleLayer`](super::ThrottleLayer): a call the throttle refuses
/// fails at once with [`Error::Throttled`].
#[derive(Debug, Clone)]
pub struct Throttle<S> {
    inner: S,
    throttle: AdaptiveThrottle,
}

impl<S> Throttle<S> {
    /// `inner` behind `throttle`.
    pub fn new(inner: S, throttle: AdaptiveThrottle) -> Self {
        Self { inner, throttle }
    }

    /// The shared throttle.
    pub fn throttle(&self) -> &AdaptiveThrottle {
        &self.throttle
    }
}

impl<S, Req> Service<Req> for Throttle<S>
where
    S: Service<Req>,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        if self.throttle.try_admit() {
            ResponseFuture::admitted(self.inner.call(req), self.throttle.clone())
        } else {
            ResponseFuture::throttled()
        }
    }
}
