//! [`Retry`]: the service that retries failed calls on fresh clones of the inner service.

use std::task::{Context, Poll};

use tower_service::Service;

use super::future::ResponseFuture;

/// The service made by [`RetryLayer`](super::RetryLayer).
#[derive(Debug, Clone)]
pub struct Retry<S> {
    inner: S,
    retry: crate::Retry,
}

impl<S> Retry<S> {
    /// `inner` with `retry`.
    pub fn new(inner: S, retry: crate::Retry) -> Self {
        Self { inner, retry }
    }

    /// The shared retry policy.
    pub fn retry(&self) -> &crate::Retry {
        &self.retry
    }
}

impl<S, Req> Service<Req> for Retry<S>
where
    S: Service<Req> + Clone,
    Req: Clone,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S, Req>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        // The first attempt uses the service that was polled ready; retries use fresh clones.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let started = self.retry.begin();
        let fut = ready.call(req.clone());
        ResponseFuture::new(fut, ready, req, self.retry.clone(), started)
    }
}
