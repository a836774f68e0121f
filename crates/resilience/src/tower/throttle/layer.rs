//! [`ThrottleLayer`]: client-side adaptive throttling shared by every service it makes.

use tower_layer::Layer;

use super::service::Throttle;
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
    type Service = Throttle<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Throttle::new(inner, self.throttle.clone())
    }
}
