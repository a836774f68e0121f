//! [`Hedge`]: the service that races a backup call on a clone against a slow first call.

use std::task::{Context, Poll};

use tower_service::Service;

use super::future::ResponseFuture;

/// The service made by [`HedgeLayer`](super::HedgeLayer).
#[derive(Debug, Clone)]
pub struct Hedge<S> {
    inner: S,
    hedge: crate::Hedge,
}

impl<S> Hedge<S> {
    /// `inner` hedged by `hedge`.
    pub fn new(inner: S, hedge: crate::Hedge) -> Self {
        Self { inner, hedge }
    }

    /// The shared hedge.
    pub fn hedge(&self) -> &crate::Hedge {
        &self.hedge
    }
}

impl<S, Req> Service<Req> for Hedge<S>
where
    S: Service<Req> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Response: Send + 'static,
    S::Error: Send + 'static,
    Req: Clone + Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let clone = self.inner.clone();
        let ready = std::sync::Mutex::new(Some(std::mem::replace(&mut self.inner, clone)));
        let template = self.inner.clone();
        let hedge = self.hedge.clone();
        ResponseFuture::new(Box::pin(async move {
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
        }))
    }
}
