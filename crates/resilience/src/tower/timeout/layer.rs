//! [`TimeoutLayer`]: one timeout on every call of the services it makes.

use tower_layer::Layer;

use super::service::Timeout;

/// Applies a [`Timeout`](crate::Timeout) to every call.
#[derive(Debug, Clone)]
pub struct TimeoutLayer {
    timeout: crate::Timeout,
}

impl TimeoutLayer {
    /// A layer for `timeout`.
    #[must_use]
    pub fn new(timeout: crate::Timeout) -> Self {
        Self { timeout }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout::new(inner, self.timeout.clone())
    }
}
