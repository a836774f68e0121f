//! [`Breaker`]: the service that asks the breaker before every call and reports the outcome.

use std::task::{Context, Poll};

use tower_service::Service;

use super::future::ResponseFuture;
use crate::breaker::{CircuitBreaker, Classifier, ErrIsFailure};
use crate::error::Error;

/// The service made by [`BreakerLayer`](super::BreakerLayer): a call the breaker refuses
/// fails at once with [`Error::CircuitOpen`]; an admitted call's result is classified and
/// recorded.
#[derive(Debug, Clone)]
pub struct Breaker<S, C = ErrIsFailure> {
    inner: S,
    breaker: CircuitBreaker,
    classifier: C,
}

impl<S, C> Breaker<S, C> {
    /// `inner` behind `breaker`.
    pub fn new(inner: S, breaker: CircuitBreaker, classifier: C) -> Self {
        Self { inner, breaker, classifier }
    }

    /// The shared breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

impl<S, C, Req> Service<Req> for Breaker<S, C>
where
    S: Service<Req>,
    C: Classifier<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = ResponseFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        match self.breaker.try_acquire_owned() {
            Ok(permit) => ResponseFuture::admitted(self.inner.call(req), permit, self.classifier.clone()),
            Err(open) => ResponseFuture::refused(open, self.classifier.clone()),
        }
    }
}
