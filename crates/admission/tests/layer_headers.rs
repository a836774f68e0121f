//! The layer's header names are typed (`http::HeaderName`): what is configured is what is read.
#![cfg(feature = "tower")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;

use http::{HeaderName, Request, Response, StatusCode};
use perfstack_admission::rate::KeyedRateLimit;
use perfstack_admission::tower::AdmissionLayer;
use perfstack_admission::{AdmissionController, Priority, RequestMeta};
use tower::{Layer, ServiceExt};

fn ok_service(
) -> impl tower::Service<Request<String>, Response = Response<String>, Error = Infallible, Future: Send> + Clone {
    tower::service_fn(|_req: Request<String>| async { Ok::<_, Infallible>(Response::new(String::new())) })
}

fn req(header: &str, value: &str) -> Request<String> {
    Request::builder().header(header, value).body(String::new()).unwrap()
}

#[tokio::test(start_paused = true)]
async fn typed_key_header_keys_the_rate_limit() {
    let ctl = AdmissionController::builder()
        .fixed_limit(100)
        .keyed_rate_limit(KeyedRateLimit::builder(1.0, 1).build().unwrap())
        .build()
        .unwrap();
    let svc = AdmissionLayer::new(ctl).key_header(HeaderName::from_static("x-tenant")).layer(ok_service());
    assert_eq!(svc.clone().oneshot(req("x-tenant", "a")).await.unwrap().status(), StatusCode::OK);
    // Same tenant again: over its own 1/s.
    assert_eq!(svc.clone().oneshot(req("x-tenant", "a")).await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
    // Another tenant has its own bucket.
    assert_eq!(svc.clone().oneshot(req("x-tenant", "b")).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn typed_priority_header_replaces_the_default_one() {
    // Limit 10, default reserves: Low may use 6 slots, Critical all 10. Six Low permits held.
    let ctl = AdmissionController::builder().fixed_limit(10).build().unwrap();
    let _held: Vec<_> = (0..6).map(|_| ctl.try_acquire(&RequestMeta::new(Priority::Low)).unwrap()).collect();
    let svc = AdmissionLayer::new(ctl)
        .queue(false)
        .default_priority(Priority::Low)
        .priority_header(HeaderName::from_static("x-class"))
        .layer(ok_service());
    assert_eq!(svc.clone().oneshot(req("x-class", "critical")).await.unwrap().status(), StatusCode::OK);
    // The old default header is no longer read: the request is Low, over its share.
    let res = svc.clone().oneshot(req("x-priority", "critical")).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
}
