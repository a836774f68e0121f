use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::BoxResponseFuture;
use crate::retry::Retry;

/// Retries failed calls with a shared [`Retry`] policy (and its budget). Needs `Req: Clone`
/// and a `Clone` inner service; every attempt waits for the inner service to be ready.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    retry: Retry,
}

impl RetryLayer {
    /// A layer for `retry`.
    #[must_use]
    pub fn new(retry: Retry) -> Self {
        Self { retry }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = RetryService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService { inner, retry: self.retry.clone() }
    }
}

/// The service made by [`RetryLayer`].
#[derive(Debug, Clone)]
pub struct RetryService<S> {
    inner: S,
    retry: Retry,
}

impl<S, Req> Service<Req> for RetryService<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
    Req: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxResponseFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        // The first attempt uses the service that was polled ready; retries use fresh clones.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let template = ready.clone();
        let retry = self.retry.clone();
        Box::pin(async move {
            let mut first = Some((ready, req.clone()));
            retry
                .call(move || {
                    let (mut svc, r, fresh) = match first.take() {
                        Some((svc, r)) => (svc, r, false),
                        None => (template.clone(), req.clone(), true),
                    };
                    async move {
                        if fresh {
                            std::future::poll_fn(|cx| svc.poll_ready(cx)).await?;
                        }
                        svc.call(r).await
                    }
                })
                .await
        })
    }
}
