use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower_layer::Layer;
use tower_service::Service;

use crate::breaker::{CircuitBreaker, CircuitOpen, Classifier, ErrIsFailure, OwnedPermit};
use crate::error::Error;

/// Wraps a service in a [`CircuitBreaker`]; the classifier decides what counts as a failure.
///
/// # Examples
///
/// ```
/// use perfstack_resilience::layer::BreakerLayer;
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
    type Service = BreakerService<S, C>;

    fn layer(&self, inner: S) -> Self::Service {
        BreakerService { inner, breaker: self.breaker.clone(), classifier: self.classifier.clone() }
    }
}

/// The service made by [`BreakerLayer`].
#[derive(Debug, Clone)]
pub struct BreakerService<S, C = ErrIsFailure> {
    inner: S,
    breaker: CircuitBreaker,
    classifier: C,
}

impl<S, C> BreakerService<S, C> {
    /// The shared breaker.
    pub fn breaker(&self) -> &CircuitBreaker {
        &self.breaker
    }
}

impl<S, C, Req> Service<Req> for BreakerService<S, C>
where
    S: Service<Req>,
    C: Classifier<S::Response, S::Error> + Clone,
{
    type Response = S::Response;
    type Error = Error<S::Error>;
    type Future = BreakerFuture<S::Future, C>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Error::Inner)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        match self.breaker.try_acquire_owned() {
            Ok(permit) => BreakerFuture {
                fut: Some(self.inner.call(req)),
                permit: Some(permit),
                rejected: None,
                classifier: self.classifier.clone(),
            },
            Err(open) => {
                BreakerFuture { fut: None, permit: None, rejected: Some(open), classifier: self.classifier.clone() }
            }
        }
    }
}

pin_project! {
    /// Response future of [`BreakerService`].
    #[derive(Debug)]
    pub struct BreakerFuture<F, C> {
        #[pin]
        fut: Option<F>,
        permit: Option<OwnedPermit>,
        rejected: Option<CircuitOpen>,
        classifier: C,
    }
}

impl<F, C, T, E> Future for BreakerFuture<F, C>
where
    F: Future<Output = Result<T, E>>,
    C: Classifier<T, E>,
{
    type Output = Result<T, Error<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(fut) = this.fut.as_pin_mut() else {
            let open = this.rejected.take().map(Error::from);
            return Poll::Ready(Err(open.unwrap_or(Error::CircuitOpen { name: "".into(), retry_after: None })));
        };
        let result = std::task::ready!(fut.poll(cx));
        if let Some(p) = this.permit.take() {
            p.record(this.classifier.classify(&result));
        }
        Poll::Ready(result.map_err(Error::Inner))
    }
}
