#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The observed latency quantile behind an adaptive hedge delay counts the primaries that lose.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use perfstack_resilience::{Hedge, HedgeDelay};

/// 20 % of primaries take 200 ms, the rest 10 ms; a backup takes 1 ms. The true p90 of the
/// primary is 200 ms. If only the primaries that finish first were recorded, the slow ones
/// (which always lose to the backup) would never be seen and the p90 would read 10 ms; with
/// censored samples ("at least this long") for the losers, it climbs to the configured max.
#[tokio::test(start_paused = true)]
async fn losing_primaries_count_in_the_quantile() {
    let hedge = Hedge::builder(HedgeDelay::Quantile {
        quantile: 0.9,
        min: Duration::from_millis(1),
        max: Duration::from_millis(50),
    })
    .build()
    .unwrap();
    let attempts = AtomicU64::new(0);
    for call in 0..400u64 {
        let first = attempts.load(Ordering::SeqCst);
        let r = hedge
            .call(|| {
                let n = attempts.fetch_add(1, Ordering::SeqCst);
                let ms = if n > first {
                    1
                } else if call % 5 == 0 {
                    200
                } else {
                    10
                };
                async move {
                    tokio::time::sleep(Duration::from_millis(ms)).await;
                    Ok::<_, ()>(())
                }
            })
            .await;
        assert!(r.is_ok());
    }
    let delay = hedge.delay();
    assert!(delay >= Duration::from_millis(40), "p90 biased low: hedge delay {delay:?}");
    assert!(hedge.stats().backup_wins >= 70, "{:?}", hedge.stats());
}

/// A caller that drops the hedged call after the backup started also leaves a sample.
#[tokio::test(start_paused = true)]
async fn a_dropped_call_records_its_primary() {
    let hedge = Hedge::builder(HedgeDelay::Quantile {
        quantile: 0.5,
        min: Duration::from_millis(1),
        max: Duration::from_millis(100),
    })
    .build()
    .unwrap();
    for _ in 0..10 {
        let r = hedge
            .call(|| async {
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok::<_, ()>(())
            })
            .await;
        assert!(r.is_ok());
    }
    assert_eq!(hedge.delay(), Duration::from_millis(5));
    for _ in 0..40 {
        let call = hedge.call(|| async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok::<_, ()>(())
        });
        assert!(tokio::time::timeout(Duration::from_millis(30), call).await.is_err());
    }
    assert_eq!(hedge.delay(), Duration::from_millis(30), "the dropped calls' primaries ran at least 30 ms");
}
