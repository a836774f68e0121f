use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, StatusCode};
use tower_service::Service;
use tracing::Instrument;

use super::layer::LayerConfig;
use crate::{Priority, Rejected, RequestMeta};

/// The service [`AdmissionLayer`](super::AdmissionLayer) produces. The permit is held until the
/// inner service's response future completes (for a streamed body: until its headers).
#[derive(Debug, Clone)]
pub struct Admission<S> {
    pub(crate) inner: S,
    pub(crate) config: Arc<LayerConfig>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl<S, B, RB> Service<Request<B>> for Admission<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = BoxFuture<Result<Response<RB>, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        // The clone that was driven to readiness serves this request (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        // Instrumented, not entered: a guard held across `.await` would leave the span entered
        // on this thread while the task is parked in the queue (tracing's documented misuse).
        let span = tracing::Span::current();
        Box::pin(async move {
            let admitted = admit(&config, req.headers()).instrument(span).await;
            match admitted {
                Ok(permit) => {
                    let res = inner.call(req).await;
                    drop(permit);
                    res
                }
                Err(rejected) => Ok(refusal(&rejected)),
            }
        })
    }
}

/// Reads the priority and key headers and asks the controller.
async fn admit(config: &LayerConfig, headers: &http::HeaderMap) -> Result<crate::Permit, Rejected> {
    let priority = config
        .priority_header
        .as_ref()
        .and_then(|h| headers.get(h))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Priority>().ok())
        .unwrap_or(config.default_priority);
    let key = config.key_header.as_ref().and_then(|h| headers.get(h)).and_then(|v| v.to_str().ok());
    let mut meta = RequestMeta::new(priority);
    if let Some(k) = key {
        meta = meta.key(k);
    }
    if config.queue {
        config.controller.acquire(&meta).await
    } else {
        config.controller.acquire_now(&meta).await
    }
}

/// 429 or 503 with `Retry-After` (seconds, at least 1) and an empty body.
pub(crate) fn refusal<RB: Default>(rejected: &Rejected) -> Response<RB> {
    let mut res = Response::new(RB::default());
    *res.status_mut() = StatusCode::from_u16(rejected.reason.http_status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let secs = rejected.retry_after_secs().unwrap_or(1);
    res.headers_mut().insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    res
}
