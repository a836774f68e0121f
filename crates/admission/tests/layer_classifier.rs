//! `AdmissionLayer::priority_fn` / `key_fn`: classifiers over the request head decide the
//! priority and the rate-limit key, and the (client-controlled) headers are then ignored.
#![cfg(feature = "tower")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::time::Duration;

use http::{Request, Response, StatusCode};
use perfstack_admission::tower::AdmissionLayer;
use perfstack_admission::{AdmissionController, Priority, RequestMeta};
use tower::{Layer, ServiceExt};

/// What an authentication layer would have put in the extensions.
#[derive(Clone)]
struct Operator;

fn ok_service(
) -> impl tower::Service<Request<String>, Response = Response<String>, Error = Infallible, Future: Send> + Clone {
    tower::service_fn(|_req: Request<String>| async { Ok::<_, Infallible>(Response::new(String::new())) })
}

fn layer(ctl: AdmissionController, queue: bool) -> AdmissionLayer {
    AdmissionLayer::new(ctl).queue(queue).priority_fn(|req: &http::request::Parts| {
        if req.extensions.get::<Operator>().is_some() {
            Priority::Critical
        } else {
            Priority::Low
        }
    })
}

/// A request claiming `critical` in the header, with or without the operator identity.
fn req(operator: bool) -> Request<String> {
    let mut r = Request::builder().header("x-priority", "critical").body(String::new()).unwrap();
    if operator {
        r.extensions_mut().insert(Operator);
    }
    r
}

async fn classifier_decides(queue: bool) {
    // Limit 10, default reserves: Low may use 6 slots, Critical all 10. Six Low slots held.
    let mut b = AdmissionController::builder().fixed_limit(10);
    if queue {
        b = b.queue(8, Duration::from_millis(1));
    }
    let ctl = b.build().unwrap();
    let _held: Vec<_> = (0..6).map(|_| ctl.try_acquire(&RequestMeta::new(Priority::Low)).unwrap()).collect();
    let svc = layer(ctl, queue).layer(ok_service());
    // The header says critical, the classifier says Low: over Low's share.
    let res = svc.clone().oneshot(req(false)).await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    // The classifier says Critical: admitted.
    assert_eq!(svc.clone().oneshot(req(true)).await.unwrap().status(), StatusCode::OK);
}

#[tokio::test(start_paused = true)]
async fn classifier_decides_priority_and_the_header_is_ignored() {
    classifier_decides(false).await;
}

#[tokio::test(start_paused = true)]
async fn classifier_decides_priority_on_the_queued_path_too() {
    classifier_decides(true).await;
}

#[test]
fn the_layer_with_a_classifier_stays_send_sync_and_cheap_to_clone() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<AdmissionLayer>();
}

/// The tenant an authentication layer would have put in the extensions.
#[derive(Clone)]
struct Tenant(String);

#[tokio::test(start_paused = true)]
async fn key_fn_keys_the_rate_limit_and_the_key_header_is_ignored() {
    let ctl = AdmissionController::builder()
        .fixed_limit(100)
        .keyed_rate_limit(perfstack_admission::rate::KeyedRateLimit::builder(1.0, 1).build().unwrap())
        .build()
        .unwrap();
    let svc = AdmissionLayer::new(ctl)
        .key_header(http::HeaderName::from_static("x-tenant"))
        .key_fn(|req| req.extensions.get::<Tenant>().map(|t| t.0.as_str()))
        .layer(ok_service());
    let tenant = |name: &str| {
        // Every request claims the same tenant in the header; only the extension counts.
        let mut r = Request::builder().header("x-tenant", "shared").body(String::new()).unwrap();
        r.extensions_mut().insert(Tenant(name.to_string()));
        r
    };
    assert_eq!(svc.clone().oneshot(tenant("a")).await.unwrap().status(), StatusCode::OK);
    assert_eq!(svc.clone().oneshot(tenant("b")).await.unwrap().status(), StatusCode::OK);
    assert_eq!(svc.clone().oneshot(tenant("a")).await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
}
