//! The breaker service's response future: the inner call, then its outcome recorded.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;

use crate::breaker::{CircuitOpen, Classifier, OwnedPermit};
use crate::error::Error;

pin_project! {
    /// Response future of [`Breaker`](super::Breaker).
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, C> {
        #[pin]
        fut: Option<F>,
        permit: Option<OwnedPermit>,
        rejected: Option<CircuitOpen>,
        classifier: C,
    }
}

impl<F, C> ResponseFuture<F, C> {
    pub(super) fn admitted(fut: F, permit: OwnedPermit, classifier: C) -> Self {
        Self { fut: Some(fut), permit: Some(permit), rejected: None, classifier }
    }

    pub(super) fn refused(open: CircuitOpen, classifier: C) -> Self {
        Self { fut: None, permit: None, rejected: Some(open), classifier }
    }
}

impl<F, C, T, E> Future for ResponseFuture<F, C>
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
