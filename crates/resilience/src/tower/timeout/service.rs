//! [`Timeout`]: the service whose every call races the timeout.

use std::task::{Context, Poll};

use tower_service::Service;

use super::future::ResponseFuture;
use crate::error::Error;

/// The service made by [`TimeoutLayer`](super::TimeoutLayer): a call still running when the
/// timeout elapses is dropped and fails with [`Error::Timeout`].
#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    timeout: crate::Timeout,
}

impl<S> Timeout<S> {
    /// `inner` with `timeout` on every call.
    pub fn new(inner: S, timeout: crate::Timeout) -> Self {
        Self { inner, timeout }
    }

    /// The timeout.
    pub fn timeout(&self) -> &crate::Timeout {
        &self.timeout
    }
}

impl<S, Req> Service<Req> for Timeout<S>
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
        ResponseFuture::new(self.inner.call(req), self.timeout.clone())
    }
}
