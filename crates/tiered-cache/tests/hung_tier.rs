//! An L2 that stops answering (a hung Redis, not a refused connection): every call gives up
//! after the L2 timeout (coarse: at most a quarter late), callers get L1 and the loader, and
//! the breaker opens so later calls stop waiting at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::hooked::{Call, Hooked, Hooks};
use common::{calls, counting_loader};
use perfstack_tiered_cache::{MemoryStore, TierError, TieredCache};

/// Every call waits forever once `hang` is set.
struct Hang(Arc<AtomicBool>);

#[async_trait]
impl Hooks for Hang {
    async fn before(&self, _call: Call, _key: &str) -> Result<(), TierError> {
        if self.0.load(Ordering::Acquire) {
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_hung_l2_times_out_within_a_quarter_of_the_timeout_then_the_breaker_stops_waiting() {
    let store = MemoryStore::new();
    let hang = Arc::new(AtomicBool::new(false));
    let tier = Hooked::new(store.tier(), Hang(hang.clone()));
    let (loader, n) = counting_loader(Duration::from_millis(1));
    let timeout = Duration::from_millis(200);
    let cache = TieredCache::<String>::builder("hung")
        .tier(tier)
        .loader(loader)
        .l2_timeout(timeout)
        .breaker(3, Duration::from_secs(30))
        .build()
        .await
        .unwrap();
    assert_eq!(cache.get_or_load("a").await.unwrap().as_deref(), Some("value:a"));
    hang.store(true, Ordering::Release);

    // Each call below is an L1 miss that reaches the hung L2, until the breaker opens.
    let mut timed_out = 0;
    while !cache.stats().breaker_open {
        assert!(timed_out < 10, "the breaker never opened");
        let key = format!("k{timed_out}");
        let start = tokio::time::Instant::now();
        assert_eq!(cache.get(&key).await.unwrap(), None, "a hung L2 is a miss, not an error");
        let took = start.elapsed();
        assert!(took >= timeout && took <= timeout + timeout / 4, "call {timed_out} gave up after {took:?}");
        timed_out += 1;
    }
    assert_eq!(cache.stats().l2_errors, timed_out);

    // The breaker is open: no more waiting, and the loader still serves.
    let start = tokio::time::Instant::now();
    assert_eq!(cache.get_or_load("b").await.unwrap().as_deref(), Some("value:b"));
    assert!(start.elapsed() < Duration::from_millis(10), "waited {:?} with the breaker open", start.elapsed());
    assert!(calls(&n) >= 2);
}
