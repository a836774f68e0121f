//! Redis outages on a private server, two instances "A" and "B" with a client each: a write
//! sent into an outage does not come back after the restart, the client the docs show
//! recovers at all, and an invalidation during a blip (SIGSTOP) is pending, then applied on
//! every instance.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{eventually, redis_client};
use fred::interfaces::KeysInterface;
use perfstack_testkit::RedisServer;
use perfstack_tiered_cache::{Propagation, TieredCache};
use tokio::time::Instant;

/// A liveness bound for recovery, not a timing claim.
const RECOVERY_LIMIT: Duration = Duration::from_secs(10);

/// Which fred client an instance gets.
#[derive(Debug, Clone, Copy)]
enum ClientKind {
    /// `common::redis_client`: a reconnect policy and 500 ms timeouts.
    Tuned,
    /// Exactly as the quick start of `docs/tiered-cache.md` builds it.
    Readme,
}

async fn client(kind: ClientKind, url: &str) -> fred::clients::Client {
    match kind {
        ClientKind::Tuned => redis_client(url).await,
        ClientKind::Readme => readme_client(url).await,
    }
}

/// A client from a URL alone: fred's defaults, among them no reconnect policy.
async fn readme_client(url: &str) -> fred::clients::Client {
    use fred::prelude::{Builder, ClientLike, Config};
    let redis = Builder::from_config(Config::from_url(url).unwrap()).build().unwrap();
    redis.init().await.unwrap();
    redis
}

/// Breaker closed, nothing pending, and L1 proven current by the invalidation channel.
fn healthy(c: &TieredCache<String>) -> bool {
    let s = c.stats();
    !s.breaker_open && s.pending_invalidations == 0 && s.l1_verified
}

/// What Redis holds under a cache's value key (read with a client of its own).
async fn raw_value(url: &str, redis_key: &str) -> Option<Bytes> {
    readme_client(url).await.get(redis_key).await.unwrap()
}

/// A panic from a spawned scenario, as text.
fn panic_text(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(p) => p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "non-text panic".to_owned()),
        Err(e) => e.to_string(),
    }
}

async fn write_into_an_outage(kind: ClientKind) {
    let mut srv = RedisServer::start().await.unwrap();
    let url = srv.url();
    let build = |client| TieredCache::<String>::builder("outage").namespace("outage:").redis(client).build();
    let a = build(client(kind, &url).await).await.unwrap();
    let b = build(client(kind, &url).await).await.unwrap();
    assert!(a.set("k", "v1".into()).await.unwrap().is_confirmed());
    assert_eq!(b.get("k").await.unwrap().as_deref(), Some("v1"));

    srv.kill();
    let v2 = a.set("k", "v2".into()).await.unwrap();
    // Reads of another key keep A calling L2 until its breaker opens.
    let opened = eventually(RECOVERY_LIMIT, || async {
        let _ = a.get("traffic").await;
        a.stats().breaker_open
    })
    .await;
    assert!(opened, "{kind:?}: A's breaker did not open with Redis killed: {:?}", a.stats());
    let v3 = a.set("k", "v3".into()).await.unwrap();
    assert_eq!(v3, Propagation::Pending, "{kind:?}: a set with the breaker open (v2 was {v2:?})");

    srv.restart().await.unwrap();
    let recovered = eventually(RECOVERY_LIMIT, || async {
        let _ = a.get("traffic").await;
        let _ = b.get("traffic").await;
        healthy(&a) && healthy(&b)
    })
    .await;
    assert!(
        recovered,
        "{kind:?}: not healthy {RECOVERY_LIMIT:?} after the restart:\nA {:?}\nB {:?}",
        a.stats(),
        b.stats()
    );
    for i in 0..50 {
        for (name, c) in [("A", &a), ("B", &b)] {
            let v = c.get("k").await.unwrap();
            assert!(
                v.is_none() || v.as_deref() == Some("v3"),
                "{kind:?}: read {i} on {name} after recovery returned {v:?} (v2 went into the outage, v1 was \
                 overwritten); Redis holds {:?}; stats {:?}",
                raw_value(&url, "outage:v:k").await,
                c.stats()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_sent_into_an_outage_does_not_resurface_after_the_restart() {
    let Some(_rk) = perfstack_testkit::require_redis().await else { return };
    let mut failed = Vec::new();
    for kind in [ClientKind::Tuned, ClientKind::Readme] {
        // Each configuration runs to its end, so a failure of one does not hide the other.
        if let Err(e) = tokio::spawn(write_into_an_outage(kind)).await {
            failed.push(panic_text(e));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_client_recovers_after_a_restart() {
    let Some(_rk) = perfstack_testkit::require_redis().await else { return };
    let mut srv = RedisServer::start().await.unwrap();
    let url = srv.url();
    let build = |client| TieredCache::<String>::builder("readme").namespace("ns:").redis(client).build();
    let a = build(readme_client(&url).await).await.unwrap();
    let b = build(readme_client(&url).await).await.unwrap();
    assert!(a.set("x", "before".into()).await.unwrap().is_confirmed());
    assert_eq!(b.get("x").await.unwrap().as_deref(), Some("before"));

    srv.kill();
    let noticed = eventually(RECOVERY_LIMIT, || async {
        let _ = a.get("traffic").await;
        let _ = b.get("traffic").await;
        a.stats().breaker_open && b.stats().breaker_open
    })
    .await;
    assert!(noticed, "the breakers did not open with Redis killed:\nA {:?}\nB {:?}", a.stats(), b.stats());
    srv.restart().await.unwrap();
    let writes = a.stats().l2_writes;
    let recovered = eventually(RECOVERY_LIMIT, || async {
        let confirmed = a.set("x", "after".into()).await.unwrap().is_confirmed();
        confirmed
            && raw_value(&url, "ns:v:x").await.is_some()
            && b.get("x").await.unwrap().as_deref() == Some("after")
            && !b.stats().breaker_open
    })
    .await;
    assert!(
        recovered,
        "the README client did not recover {RECOVERY_LIMIT:?} after the restart: B reads {:?}, Redis holds {:?}\nA {:?}\nB {:?}",
        b.get("x").await,
        raw_value(&url, "ns:v:x").await,
        a.stats(),
        b.stats()
    );
    assert!(a.stats().l2_writes > writes, "A writes L2 again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalidation_during_a_blip_is_pending_then_applied_everywhere() {
    let Some(_rk) = perfstack_testkit::require_redis().await else { return };
    let mut srv = RedisServer::start().await.unwrap();
    let url = srv.url();
    let degraded = Duration::from_millis(300);
    let build = |client| {
        TieredCache::<String>::builder("blip")
            .namespace("blip:")
            .redis(client)
            .l2_timeout(Duration::from_millis(100))
            .degraded_l1_ttl(degraded)
            .build()
    };
    let a = build(redis_client(&url).await).await.unwrap();
    let b = build(redis_client(&url).await).await.unwrap();
    assert!(a.set("x", "old".into()).await.unwrap().is_confirmed());
    assert_eq!(b.get("x").await.unwrap().as_deref(), Some("old"));
    let filled = Instant::now(); // B filled its L1 before this
    let heard = b.stats().invalidations_received;

    srv.pause().unwrap();
    let p = a.invalidate("x").await.unwrap();
    assert_eq!(p, Propagation::Pending, "an invalidation Redis did not answer");
    assert!(a.stats().pending_invalidations >= 1, "{:?}", a.stats());
    assert_eq!(a.get("x").await.unwrap(), None, "A reads its own invalidation");
    let unverified = eventually(RECOVERY_LIMIT, || async { !b.stats().l1_verified }).await;
    assert!(unverified, "B still trusts its L1 with Redis paused: {:?}", b.stats());
    // L2 is unreachable too: past degraded_l1_ttl since the fill, B may not serve its copy.
    tokio::time::sleep_until(filled + degraded).await;
    for i in 0..5 {
        let v = b.get("x").await.unwrap();
        assert_ne!(
            v.as_deref(),
            Some("old"),
            "B served the invalidated value (read {i}) during the blip: {:?}",
            b.stats()
        );
    }

    srv.resume().unwrap();
    let applied = eventually(RECOVERY_LIMIT, || async {
        let _ = a.get("traffic").await;
        let _ = b.get("traffic").await;
        let (sa, sb) = (a.stats(), b.stats());
        sa.pending_invalidations == 0
            && sa.pending_confirmed >= 1
            && sb.invalidations_received > heard
            && healthy(&a)
            && healthy(&b)
    })
    .await;
    assert!(
        applied,
        "the invalidation was not applied everywhere after the blip:\nA {:?}\nB {:?}",
        a.stats(),
        b.stats()
    );
    for i in 0..50 {
        for (name, c) in [("A", &a), ("B", &b)] {
            assert_eq!(c.get("x").await.unwrap(), None, "read {i} on {name} after the blip; stats {:?}", c.stats());
        }
    }
    assert_eq!(raw_value(&url, "blip:v:x").await, None, "L2 still holds the invalidated value");
}
