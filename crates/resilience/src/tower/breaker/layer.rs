//! [`BreakerLayer`]: wraps services in one shared circuit breaker.

use tower_layer::Layer;

use super::service::Breaker;
use crate::breaker::{CircuitBreaker, ErrIsFailure};

/// Wraps a service in a [`CircuitBreaker`]; the classifier decides what counts as a failure.
///
/// # Examples
///
/// ```
/// use perfstack_resilience::tower::BreakerLayer;
/// use perfstack_resilience::CircuitBreaker;
/// use tower::{Layer, ServiceExt};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let breaker = CircuitBreaker::builder("redis").build().unwrap();
/// let svc = BreakerLayer::new(breaker).layer(tower::service_fn(|x: u32| async move { Ok::<_, std::io::Error>(x + 1) }));
/// assert_eq!(svc.oneshot(1).await.unwrap(), 2);
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct BreakerLayer<C = ErrIsFailure> {
    breaker: CircuitBreaker,
    classifier: C,
}

impl BreakerLayer {
    /// A layer for `breaker`, `Err` counting as failure.
    #[must_use]
    pub fn new(breaker: CircuitBreaker) -> Self {
        Self { breaker, classifier: ErrIsFailure }
    }
}

impl<C> BreakerLayer<C> {
    /// Use `classifier` (for example: 5xx responses are failures, 4xx are not).
    #[must_use]
    pub fn with_classifier<C2>(self, classifier: C2) -> BreakerLayer<C2> {
        BreakerLayer { breaker: self.breaker, classifier }
    }
}

impl<S, C: Clone> Layer<S> for BreakerLayer<C> {
    type Service = Breaker<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        Breaker::new(inner, self.breaker.clone(), self.classifier.clone())
    }
}
