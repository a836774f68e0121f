//! [`Admission`]: the service that admits or refuses each request before the inner service sees it.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode};
use tower_service::Service;
use tracing::Instrument;

use super::future::ResponseFuture;
use super::layer::LayerConfig;
use crate::{Priority, Rejected, RequestMeta};

/// The service [`AdmissionLayer`](super::AdmissionLayer) produces. The permit is held until the
/// inner service's response future completes (for a streamed body: until its headers).
///
/// Without a distributed rate limit, a request admitted or refused at once is decided in `call`
/// and its [`ResponseFuture`] allocates nothing; one that waits in the queue, or asks the
/// distributed store, makes the wait and the call one boxed future.
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
        // Head and body apart (moves, no allocation): the classifiers see the head.
        let (parts, body) = req.into_parts();
        if config.controller.never_waits(config.queue) {
            // The common case: decided now, the ready service called now, nothing boxed.
            let decided = config.controller.try_acquire(&meta(config, &parts));
            let req = Request::from_parts(parts, body);
            return match decided {
                Ok(permit) => ResponseFuture::admitted(self.inner.call(req), permit),
                Err(rejected) => ResponseFuture::refused(refusal(&rejected)),
            };
        }
        if !config.controller.has_store() {
            // A queue, and this layer waits in it: but a request admitted (or refused) at once
            // is decided here without boxing; only one that has to wait pays for the box.
            let decided = config.controller.try_acquire_before_queue(&meta(config, &parts));
            match decided {
                Ok(permit) => {
                    return ResponseFuture::admitted(self.inner.call(Request::from_parts(parts, body)), permit)
                }
                Err(Some(rejected)) => return ResponseFuture::refused(refusal(&rejected)),
                Err(None) => {}
            }
        }
        // The clone that was driven to readiness serves this request (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let config = Arc::clone(&self.config);
        // Instrumented, not entered: a guard held across `.await` would leave the span entered
        // on this thread while the task is parked in the queue (tracing's documented misuse).
        let span = tracing::Span::current();
        ResponseFuture::waiting(Box::pin(async move {
            let admitted = admit(&config, &parts).instrument(span).await;
            let req = Request::from_parts(parts, body);
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

/// The request's priority and rate-limit key.
fn meta<'p>(config: &LayerConfig, parts: &'p Parts) -> RequestMeta<'p> {
    let mut meta = RequestMeta::new(priority(config, parts));
    if let Some(k) = key(config, parts) {
        meta = meta.key(k);
    }
    meta
}

/// The layer's classifier when it has one (the header is then not read), else the header,
/// else the layer's default.
fn priority(config: &LayerConfig, parts: &Parts) -> Priority {
    if let Some(f) = &config.priority_fn {
        return f(parts);
    }
    config
        .priority_header
        .as_ref()
        .and_then(|h| parts.headers.get(h))
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<Priority>().ok())
        .unwrap_or(config.default_priority)
}

/// The layer's key function when it has one (the header is then not read), else the header.
fn key<'p>(config: &LayerConfig, parts: &'p Parts) -> Option<&'p str> {
    if let Some(f) = &config.key_fn {
        return f(parts);
    }
    config.key_header.as_ref().and_then(|h| parts.headers.get(h)).and_then(|v| v.to_str().ok())
}

/// Asks the controller, waiting in its queue when the layer queues.
async fn admit(config: &LayerConfig, parts: &Parts) -> Result<crate::Permit, Rejected> {
    let meta = meta(config, parts);
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
