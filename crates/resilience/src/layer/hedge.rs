use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use super::BoxResponseFuture;
use crate::hedge::Hedge;

/// Hedged requests for a service: a backup call (on a clone of the service, with a clone of
/// the request) after the hedge delay; the first success wins. Backups are budgeted by the
/// shared [`Hedge`]'s budget.
#[derive(Debug, Clone)]
pub struct HedgeLayer {
    hedge: Hedge,
}

impl HedgeLayer {
    /// A layer for `hedge`.
    #[must_use]
    pub fn new(hedge: Hedge) -> Self {
        Self { hedge }
    }
}

impl<S> Layer<S> for HedgeLayer {
    type Service = HedgeService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HedgeService { inner, hedge: self.hedge.clone() }
    }
}

/// The service made by [`HedgeLayer`].
#[derive(Debug, Clone)]
pub struct HedgeService<S> {
    inner: S,
    hedge: Hedge,
}

impl<S, Req> Service<Req> for HedgeService<S>
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
        let clone = self.inner.clone();
        let ready = std::sync::Mutex::new(Some(std::mem::replace(&mut self.inner, clone)));
        let template = self.inner.clone();
        let hedge = self.hedge.clone();
        Box::pin(async move {
            hedge
                .call(move || {
                    // The first attempt uses the service polled ready; the backup a fresh clone.
                    let first = ready.lock().ok().and_then(|mut g| g.take());
                    let (mut svc, fresh) = match first {
                        Some(svc) => (svc, false),
                        None => (template.clone(), true),
                    };
                    let r = req.clone();
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
