//! [`RetryLayer`]: one shared retry policy (and budget) for the services it makes.

use tower_layer::Layer;

use super::service::Retry;

/// Retries failed calls with a shared [`Retry`](crate::Retry) policy (and its budget). Needs
/// `Req: Clone` and a `Clone` inner service; every attempt waits for the inner service to be
/// ready.
#[derive(Debug, Clone)]
pub struct RetryLayer {
    retry: crate::Retry,
}

impl RetryLayer {
    /// A layer for `retry`.
    #[must_use]
    pub fn new(retry: crate::Retry) -> Self {
        Self { retry }
    }
}

impl<S> Layer<S> for RetryLayer {
    type Service = Retry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Retry::new(inner, self.retry.clone())
    }
}
