//! [`ResponseFuture`]: the response future of [`Admission`](super::Admission).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::Permit;

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

pin_project! {
    /// The response future of [`Admission`](super::Admission): the inner service's future with
    /// the permit held until it completes, a refusal, or (with a queue or a distributed rate
    /// limit) the boxed wait for admission.
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F, RB, E> {
        #[pin]
        kind: Kind<F, RB, E>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, RB, E> {
        // Admitted at once: no allocation, the permit drops when the inner future completes.
        Admitted { #[pin] future: F, permit: Option<Permit> },
        Refused { response: Option<Response<RB>> },
        // Admission may wait (queue, Redis round trip): one boxed future for the whole call.
        Waiting { future: BoxFuture<Result<Response<RB>, E>> },
    }
}

impl<F, RB, E> std::fmt::Debug for ResponseFuture<F, RB, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            Kind::Admitted { .. } => "Admitted",
            Kind::Refused { .. } => "Refused",
            Kind::Waiting { .. } => "Waiting",
        };
        f.debug_struct("ResponseFuture").field("kind", &kind).finish()
    }
}

impl<F, RB, E> ResponseFuture<F, RB, E> {
    pub(crate) fn admitted(future: F, permit: Permit) -> Self {
        Self { kind: Kind::Admitted { future, permit: Some(permit) } }
    }

    pub(crate) fn refused(response: Response<RB>) -> Self {
        Self { kind: Kind::Refused { response: Some(response) } }
    }

    pub(crate) fn waiting(future: BoxFuture<Result<Response<RB>, E>>) -> Self {
        Self { kind: Kind::Waiting { future } }
    }
}

impl<F, RB, E> Future for ResponseFuture<F, RB, E>
where
    F: Future<Output = Result<Response<RB>, E>>,
{
    type Output = Result<Response<RB>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Admitted { future, permit } => {
                let out = std::task::ready!(future.poll(cx));
                drop(permit.take());
                Poll::Ready(out)
            }
            // Polled again after completion: stays pending (allowed by the Future contract).
            KindProj::Refused { response } => response.take().map_or(Poll::Pending, |r| Poll::Ready(Ok(r))),
            KindProj::Waiting { future } => future.as_mut().poll(cx),
        }
    }
}
