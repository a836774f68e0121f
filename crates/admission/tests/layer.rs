//! tower layer: 429/503 with Retry-After, shared state across clones, priority header.
#![cfg(feature = "tower")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::Arc;

use http::{Request, Response, StatusCode};
use perfstack_admission::rate::RateLimit;
use perfstack_admission::tower::AdmissionLayer;
use perfstack_admission::{AdmissionController, PriorityShares};
use tokio::sync::Semaphore;
use tower::{Layer, Service, ServiceExt};

fn req(priority: &str) -> Request<String> {
    Request::builder().header("x-priority", priority).body(String::new()).unwrap()
}

/// A handler that blocks until the test releases it.
fn gated(
    gate: Arc<Semaphore>,
) -> impl Service<Request<String>, Response = Response<String>, Error = Infallible, Future: Send> + Clone {
    tower::service_fn(move |_req: Request<String>| {
        let gate = Arc::clone(&gate);
        async move {
            let _p = gate.acquire().await.unwrap();
            Ok::<_, Infallible>(Response::new("ok".to_string()))
        }
    })
}

#[tokio::test(start_paused = true)]
async fn every_clone_shares_one_limit_and_refusals_carry_retry_after() {
    let ctl = AdmissionController::builder().fixed_limit(2).priority_shares(PriorityShares::none()).build().unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let layer = AdmissionLayer::new(ctl.clone()).queue(false);
    // Two different clones of the layer and of the service: still one limit.
    let svc_a = layer.clone().layer(gated(Arc::clone(&gate)));
    let svc_b = layer.layer(gated(Arc::clone(&gate)));
    let a1 = tokio::spawn(svc_a.clone().oneshot(req("normal")));
    let b1 = tokio::spawn(svc_b.clone().oneshot(req("normal")));
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
    assert_eq!(ctl.inflight(), 2);
    let refused = svc_b.clone().oneshot(req("normal")).await.unwrap();
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().get("retry-after").is_some());
    gate.add_permits(2);
    assert_eq!(a1.await.unwrap().unwrap().body(), "ok");
    assert_eq!(b1.await.unwrap().unwrap().status(), StatusCode::OK);
    assert_eq!(ctl.inflight(), 0);
}

#[tokio::test(start_paused = true)]
async fn rate_limited_requests_get_429() {
    let ctl = AdmissionController::builder()
        .fixed_limit(100)
        .rate_limit(RateLimit::per_second(1.0, 1).unwrap())
        .build()
        .unwrap();
    let gate = Arc::new(Semaphore::new(100));
    let svc = AdmissionLayer::new(ctl).layer(gated(gate));
    assert_eq!(svc.clone().oneshot(req("critical")).await.unwrap().status(), StatusCode::OK);
    let res = svc.clone().oneshot(req("critical")).await.unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(res.headers()["retry-after"], "1");
}

#[tokio::test(start_paused = true)]
async fn priority_header_decides_who_is_shed() {
    // Limit 10, default reserves: Low may use 6 slots, Critical all 10.
    let ctl = AdmissionController::builder().fixed_limit(10).build().unwrap();
    let gate = Arc::new(Semaphore::new(0));
    let svc = AdmissionLayer::new(ctl.clone()).queue(false).layer(gated(Arc::clone(&gate)));
    let mut held = Vec::new();
    for _ in 0..6 {
        held.push(tokio::spawn(svc.clone().oneshot(req("low"))));
    }
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
    assert_eq!(svc.clone().oneshot(req("low")).await.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    held.push(tokio::spawn(svc.clone().oneshot(req("critical"))));
    tokio::task::yield_now().await;
    tokio::task::yield_now().await;
    assert_eq!(ctl.inflight(), 7);
    gate.add_permits(100);
    for h in held {
        assert_eq!(h.await.unwrap().unwrap().status(), StatusCode::OK);
    }
}

/// A request parked in the queue must not leave its span entered on the thread (the span is
/// attached with `Instrument`, not held by an `enter()` guard across `.await`).
#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_queued_request_does_not_leave_its_span_entered() {
    let _sub = tracing::subscriber::set_default(tracing_subscriber::registry());
    let ctl = AdmissionController::builder()
        .fixed_limit(1)
        .priority_shares(PriorityShares::none())
        .queue(8, std::time::Duration::from_secs(5))
        .build()
        .unwrap();
    let _held = ctl.try_acquire(&perfstack_admission::RequestMeta::new(perfstack_admission::Priority::Normal)).unwrap();
    let mut svc = AdmissionLayer::new(ctl.clone()).layer(gated(Arc::new(Semaphore::new(1))));
    let span = tracing::info_span!("request");
    let fut = span.in_scope(|| svc.call(req("normal")));
    tokio::pin!(fut);
    tokio::select! {
        biased;
        _ = &mut fut => panic!("the request should wait in the queue"),
        () = std::future::ready(()) => {}
    }
    assert!(
        tracing::Span::current().is_none(),
        "still inside {:?}",
        tracing::Span::current().metadata().map(|m| m.name())
    );
}
