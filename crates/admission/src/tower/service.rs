use std::sync::Arc;
use std::task::{Context, Poll};

use http::{HeaderValue, Request, Response, StatusCode};
use tower_service::Service;
use tracing::Instrument;

use super::future::ResponseFuture;
use super::layer::LayerConfig;
use crate::{Priority, Rejected, RequestMeta};

/// The service [`AdmissionLayer`](super::AdmissionLayer) produces. The permit is held until the
/// inner service's response future completes (for a streamed body: until its headers).
///
/// When admission cannot wait (no queue, or the layer does not queue, and no distributed rate
/// limit), `call` decides at once and its [`ResponseFuture`] allocates nothing; otherwise the wait
/// and the call are one boxed future.
#[derive(Debug, Clone)]
pub struct Admission<S> {
    pub(crate) inner: S,
    pub(crate) config: Arc<LayerConfig>,
}

impl<S, B, RB> Service<Request<B>> for Admission<S>
where
    S: Service<Request<B>, Response = Response<RB>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
    RB: Default + Send + 'static,
{
    type Response = Response<RB>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, RB, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let config = &self.config;
        let (priority, req) = classify(config, req);
        if config.controller.never_waits(config.queue) {
            // The common case: decided now, the ready service called now, nothing boxed.
            let key = read_key(config, req.headers());
            let mut meta = RequestMeta::new(priority);
            if let Some(k) = key {
                meta = meta.key(k);
            }
            return match config.controller.try_acquire(&meta) {
                Ok(permit) => ResponseFuture::admitted(self.inner.call(req), permit),
                Err(rejected) => ResponseFuture::refused(refusal(&rejected)),
            };
        }
        // The clone that was driven to readiness serves this request (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        // Instrumented, not entered: a guard held across `.await` would leave the span entered
        // on this thread while the task is parked in the queue (tracing's documented misuse).
        let span = tracing::Span::current();
        ResponseFuture::waiting(Box::pin(async move {
            let admitted = admit(&config, priority, req.headers()).instrument(span).await;
            match admitted {
                Ok(permit) => {
                    let res = inner.call(req).await;
                    drop(permit);
                    res
                }
                Err(rejected) => Ok(refusal(&rejected)),
            }
        }))
    }
}

/// The priority: the layer's classifier when it has one (the header is then not read), else
/// the header, else the layer's default. Splitting the request into head and body moves it,
/// nothing more.
fn classify<B>(config: &LayerConfig, req: Request<B>) -> (Priority, Request<B>) {
    match &config.priority_fn {
        Some(f) => {
            let (parts, body) = req.into_parts();
            (f(&parts), Request::from_parts(parts, body))
        }
        None => {
            let priority = config
                .priority_header
                .as_ref()
                .and_then(|h| req.headers().get(h))
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<Priority>().ok())
                .unwrap_or(config.default_priority);
            (priority, req)
        }
    }
}

/// The rate-limit key (header, if any).
fn read_key<'h>(config: &LayerConfig, headers: &'h http::HeaderMap) -> Option<&'h str> {
    config.key_header.as_ref().and_then(|h| headers.get(h)).and_then(|v| v.to_str().ok())
}

/// Reads the key header and asks the controller.
async fn admit(config: &LayerConfig, priority: Priority, headers: &http::HeaderMap) -> Result<crate::Permit, Rejected> {
    let mut meta = RequestMeta::new(priority);
    if let Some(k) = read_key(config, headers) {
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
