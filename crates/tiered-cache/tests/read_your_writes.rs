//! Read-your-writes for loads: a caller that starts after an invalidation returned (here, or
//! applied here from another instance) never joins a load that started before it, and a load
//! that never returns does not wedge its key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{calls, eventually};
use perfstack_tiered_cache::{loader_fn, BoxError, CacheError, Loader, MemoryStore, TieredCache};
use tokio::sync::Semaphore;

/// The source of truth: a version the test bumps before it invalidates.
#[derive(Clone)]
struct Source {
    version: Arc<AtomicU64>,
    calls: Arc<AtomicUsize>,
    /// The first load waits here after reading the version; later loads do not wait.
    gate: Arc<Semaphore>,
}

impl Source {
    fn new() -> Self {
        Source {
            version: Arc::new(AtomicU64::new(1)),
            calls: Arc::new(AtomicUsize::new(0)),
            gate: Arc::new(Semaphore::new(0)),
        }
    }

    /// Returns `v{version}` as read when the load *started*.
    fn loader(&self) -> impl Loader<String> {
        let s = self.clone();
        loader_fn(move |_key: String| {
            let s = s.clone();
            async move {
                let read = s.version.load(Ordering::SeqCst);
                if s.calls.fetch_add(1, Ordering::SeqCst) == 0 {
                    s.gate.acquire().await.unwrap().forget();
                }
                Ok::<_, BoxError>(Some(format!("v{read}")))
            }
        })
    }
}

/// Starts `get_or_load(key)` for a caller that arrives after an invalidation. If it is still
/// waiting once nothing else can run (paused time: the 60 s pass at once), it joined the
/// blocked older load: the gate is opened so the test shows what it got instead of hanging.
async fn second_caller(cache: &TieredCache<String>, key: &str, source: &Source) -> Option<String> {
    let c = cache.clone();
    let k = key.to_owned();
    let mut second = tokio::spawn(async move { c.get_or_load(&k).await });
    let done = match tokio::time::timeout(Duration::from_secs(60), &mut second).await {
        Ok(done) => done,
        Err(_joined_the_older_load) => {
            source.gate.add_permits(1);
            second.await
        }
    };
    done.unwrap().unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_load_started_after_invalidate_returned_does_not_join_an_older_load() {
    // One instance: it invalidates, then reads.
    let source = Source::new();
    let a = TieredCache::<String>::builder("ryw")
        .tier(MemoryStore::new().tier())
        .loader(source.loader())
        .build()
        .await
        .unwrap();
    let first = {
        let a = a.clone();
        tokio::spawn(async move { a.get_or_load("k").await })
    };
    assert!(eventually(Duration::from_secs(10), || async { calls(&source.calls) == 1 }).await);
    // The load read version 1 and is blocked; the source moves on and the key is invalidated.
    source.version.store(2, Ordering::SeqCst);
    assert!(a.invalidate("k").await.unwrap().is_confirmed());
    let got = second_caller(&a, "k", &source).await;
    assert_eq!(got.as_deref(), Some("v2"), "a read that started after invalidate returned got the older load's value");
    source.gate.add_permits(1);
    assert_eq!(first.await.unwrap().unwrap().as_deref(), Some("v1"), "it started before the invalidation");
    assert_eq!(a.get_or_load("k").await.unwrap().as_deref(), Some("v2"), "the older load stored its value");
    assert_eq!(calls(&source.calls), 2);

    // Two instances on one store: B invalidates, A's caller starts once A applied it.
    let source = Source::new();
    let store = MemoryStore::new();
    let a = TieredCache::<String>::builder("ryw").tier(store.tier()).loader(source.loader()).build().await.unwrap();
    let b = TieredCache::<String>::builder("ryw").tier(store.tier()).build().await.unwrap();
    let first = {
        let a = a.clone();
        tokio::spawn(async move { a.get_or_load("k").await })
    };
    assert!(eventually(Duration::from_secs(10), || async { calls(&source.calls) == 1 }).await);
    source.version.store(2, Ordering::SeqCst);
    let heard = a.stats().invalidations_received;
    assert!(b.invalidate("k").await.unwrap().is_confirmed());
    assert!(eventually(Duration::from_secs(10), || async { a.stats().invalidations_received > heard }).await);
    let got = second_caller(&a, "k", &source).await;
    assert_eq!(
        got.as_deref(),
        Some("v2"),
        "a read on A that started after B's invalidation was applied got the older load's value"
    );
    source.gate.add_permits(1);
    assert_eq!(first.await.unwrap().unwrap().as_deref(), Some("v1"));
    assert_eq!(a.get_or_load("k").await.unwrap().as_deref(), Some("v2"), "the older load stored its value");
    assert_eq!(b.get("k").await.unwrap().as_deref(), Some("v2"), "L2 holds the older load's value");
}

#[tokio::test(start_paused = true)]
async fn a_load_that_never_returns_times_out_for_every_waiter_and_the_next_caller_loads_again() {
    let n = Arc::new(AtomicUsize::new(0));
    let c = n.clone();
    let loader = loader_fn(move |key: String| {
        let c = c.clone();
        async move {
            if c.fetch_add(1, Ordering::SeqCst) == 0 {
                std::future::pending::<()>().await;
            }
            Ok::<_, BoxError>(Some(format!("value:{key}")))
        }
    });
    let cache = TieredCache::<String>::builder("hang")
        .tier(MemoryStore::new().tier())
        .loader(loader)
        .load_timeout(Duration::from_secs(1))
        .build()
        .await
        .unwrap();
    // A hang guard, not a timing claim: with paused time it costs nothing.
    let run = tokio::time::timeout(Duration::from_secs(60), async {
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let c = cache.clone();
                tokio::spawn(async move { c.get_or_load("k").await })
            })
            .collect();
        for w in waiters {
            match w.await.unwrap() {
                Err(CacheError::LoadTimeout { key, after }) => {
                    assert_eq!(key, "k");
                    assert_eq!(after, Duration::from_secs(1));
                }
                other => panic!("a waiter of the hung load got {other:?}, not LoadTimeout"),
            }
        }
        cache.get_or_load("k").await
    })
    .await;
    let fourth = run.expect("the callers of a load that never returns hung (no load timeout)");
    assert_eq!(fourth.unwrap().as_deref(), Some("value:k"), "the next caller did not start a new load");
    assert_eq!(calls(&n), 2);
    assert_eq!(cache.stats().load_timeouts, 1);
}
