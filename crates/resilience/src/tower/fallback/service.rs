//! [`Fallback`]: the service whose selected errors the fallback answers.

use std::task::{Context, Poll};

use tower_service::Service;

use super::future::ResponseFuture;
use crate::error::Error;

/// The service made by [`FallbackLayer`](super::FallbackLayer).
#[derive(Debug)]
pub struct Fallback<S, T, E> {
    inner: S,
    fallback: crate::Fallback<T, E>,
}

impl<S: Clone, T, E> Clone for Fallback<S, T, E> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), fallback: self.fallback.clone() }
    }
}

impl<S, T, E> Fallback<S, T, E> {
    /// `inner`, answered by `fallback` on its selected errors.
    pub fn new(inner: S, fallback: crate::Fallback<T, E>) -> Self {
        Self { inner, fallback }
    }

    /// The shared fallback.
    pub fn fallback(&self) -> &crate::Fallback<T, E> {
        &self.fallback
    }
}

impl<S, Req, T, E> Service<Req> for Fallback<S, T, E>
where
    S: Service<Req, Response = T, Error = Error<E>>,
{
    type Response = T;
    type Error = Error<E>;
    type Future = ResponseFuture<S::Future, T, E>;

    /// Readiness errors pass through: a fallback answers calls, there is no call yet.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        ResponseFuture::new(self.inner.call(req), self.fallback.clone())
    }
}
