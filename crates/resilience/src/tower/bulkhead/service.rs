//! [`Bulkhead`]: the service that holds a bulkhead slot for the length of each call.

use std::task::{Context, Poll};

use tower_service::Service;

use super::future::ResponseFuture;
use crate::error::Error;

/// The service made by [`BulkheadLayer`](super::BulkheadLayer): each call holds a slot of the
/// shared [`Bulkhead`](crate::Bulkhead) until it completes.
#[derive(Debug, Clone)]
pub struct Bulkhead<S> {
    inner: S,
    bulkhead: crate::Bulkhead,
}

impl<S> Bulkhead<S> {
    /// `inner` behind `bulkhead`.
    pub fn new(inner: S, bulkhead: crate::Bulkhead) -> Self {
        Self { inner, bulkhead }
    }

    /// The shared bulkhead.
    pub fn bulkhead(&self) -> &crate::Bulkhead {
        &self.bulkhead
    }
}

impl<S, Req> Service<Req> for Bulkhead<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
    Req: Send + 'static,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = ResponseFuture<S::Future, S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        if let Some(permit) = self.bulkhead.try_acquire() {
            return ResponseFuture::admitted(self.inner.call(req), permit);
        }
        // Wait for a slot; the ready clone takes the call (tower's clone-and-swap idiom).
        let clone = self.inner.clone();
        let mut svc = std::mem::replace(&mut self.inner, clone);
        let bulkhead = self.bulkhead.clone();
        ResponseFuture::waiting(Box::pin(async move {
            let _permit = bulkhead.acquire().await?;
            svc.call(req).await.map_err(Error::Inner)
        }))
    }
}
