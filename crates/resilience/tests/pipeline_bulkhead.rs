#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The pipeline takes the breaker's permit only once the bulkhead has given the call a slot:
//! time spent queueing neither holds a half-open probe nor counts as a slow call, and an open
//! breaker still refuses before anything queues (issue 14, finding 8). Paused time.

use std::time::Duration;

use perfstack_resilience::{Bulkhead, CircuitBreaker, Error, Pipeline, State};

/// Lets the spawned tasks run until `done` holds (bounded: a task that never gets there fails).
async fn settle(mut done: impl FnMut() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the spawned call never reached the bulkhead queue");
}

fn opened_breaker(probes: u32) -> CircuitBreaker {
    let b = CircuitBreaker::builder("api")
        .count_window(2)
        .minimum_calls(2)
        .wait_in_open(Duration::from_secs(1))
        .half_open_probes(probes)
        .build()
        .unwrap();
    for _ in 0..2 {
        b.try_acquire().unwrap().failure();
    }
    assert_eq!(b.state(), State::Open);
    b
}

#[tokio::test(start_paused = true)]
async fn a_call_queued_in_the_bulkhead_does_not_hold_a_half_open_probe() {
    let breaker = opened_breaker(1);
    let bulkhead = Bulkhead::builder("api").max_concurrent(1).max_queue(1).build().unwrap();
    let pipeline = Pipeline::builder().breaker(breaker.clone()).bulkhead(bulkhead.clone()).build();
    let held = bulkhead.try_acquire().unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await; // the open duration is over
    let queued = tokio::spawn({
        let p = pipeline.clone();
        async move { p.call(|| async { Ok::<_, ()>("queued") }).await }
    });
    settle(|| bulkhead.stats().waiting == 1).await;

    let probe = breaker.try_acquire().expect("the one probe is free: the queued call must not hold it");
    assert_eq!(breaker.state(), State::HalfOpen);
    probe.success();
    assert_eq!(breaker.state(), State::Closed, "the probe closed the breaker");
    drop(held);
    assert_eq!(queued.await.unwrap().unwrap(), "queued");
    assert_eq!(breaker.stats().rejected, 0);
}

#[tokio::test(start_paused = true)]
async fn queue_wait_is_not_a_slow_call() {
    let breaker = CircuitBreaker::builder("api")
        .count_window(1)
        .minimum_calls(1)
        .slow_calls(Duration::from_millis(100), 50.0)
        .build()
        .unwrap();
    let bulkhead = Bulkhead::builder("api").max_concurrent(1).max_queue(1).build().unwrap();
    let pipeline = Pipeline::builder().breaker(breaker.clone()).bulkhead(bulkhead.clone()).build();
    let held = bulkhead.try_acquire().unwrap();
    let queued = tokio::spawn({
        let p = pipeline.clone();
        async move { p.call(|| async { Ok::<_, ()>(()) }).await }
    });
    settle(|| bulkhead.stats().waiting == 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await; // queued 10× the slow-call threshold
    drop(held);
    queued.await.unwrap().unwrap();
    let stats = breaker.stats();
    assert_eq!((stats.window_calls, stats.window_slow_calls), (1, 0), "{stats:?}");
    assert_eq!(breaker.state(), State::Closed);

    // The call itself is still timed: a slow call counts.
    pipeline
        .call(|| async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            Ok::<_, ()>(())
        })
        .await
        .unwrap();
    assert_eq!(breaker.state(), State::Open, "a 150 ms call is slow");
}

#[tokio::test(start_paused = true)]
async fn a_refusing_breaker_fails_fast_without_queueing() {
    let breaker = opened_breaker(1);
    let bulkhead = Bulkhead::builder("api").max_concurrent(1).max_queue(4).build().unwrap();
    let pipeline = Pipeline::builder().breaker(breaker.clone()).bulkhead(bulkhead.clone()).build();
    let _held = bulkhead.try_acquire().unwrap();
    let call = || pipeline.call(|| async { Ok::<_, ()>(()) });

    // Open: refused at once (a queued call would wait forever here: the slot is never freed).
    let r = tokio::time::timeout(Duration::from_millis(10), call()).await.expect("refused without queueing");
    assert!(matches!(r, Err(Error::CircuitOpen { retry_after: Some(_), .. })), "{r:?}");
    // Half-open with its one probe taken elsewhere: refused at once too.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let probe = breaker.try_acquire().unwrap();
    let r = tokio::time::timeout(Duration::from_millis(10), call()).await.expect("refused without queueing");
    assert!(matches!(r, Err(Error::CircuitOpen { .. })), "{r:?}");
    assert_eq!((bulkhead.stats().waiting, bulkhead.stats().rejected), (0, 0));
    assert_eq!(breaker.stats().rejected, 2, "each refusal is counted once");
    drop(probe);
}
