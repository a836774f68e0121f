//! Real Redis: a cache answers for a key only with that key's entry.
//!
//! - Built from a RESP3 client (as `redis_client` is), its command connection stays in step
//!   when the invalidation connection it redirects tracking to goes away: Redis then pushes
//!   `tracking-redir-broken` on the command connection for every invalidation, which fred
//!   10.1 took for the reply to the oldest command in flight, so that every later reply
//!   answered the command before it and GETs returned other keys' values (decision 0049).
//! - An entry found under another key (copied there, or a reply that reached the wrong
//!   command) is never served: a counted corrupt miss, and the command connection is reopened.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{eventually, redis_client};
use fred::interfaces::{ClientInterface, ClientLike, KeysInterface};
use fred::prelude::{Builder, Client, Config};
use fred::types::client::{ClientKillFilter, ClientKillType};
use perfstack_testkit::RedisServer;
use perfstack_tiered_cache::TieredCache;

const KEYS: usize = 32;
/// Rounds of (drop the invalidation connection, invalidate under load).
const ROUNDS: usize = 5;

async fn admin(url: &str) -> Client {
    let c = Builder::from_config(Config::from_url(url).unwrap()).build().unwrap();
    c.init().await.unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_stay_in_step_when_the_tracking_redirect_breaks() {
    // A private server: the test kills every pub/sub connection on it.
    let server = RedisServer::start().await.unwrap();
    let url = server.url();
    let cache = TieredCache::<String>::builder("in-step").redis(redis_client(&url).await).build().await.unwrap();
    let writer = TieredCache::<String>::builder("in-step").redis(redis_client(&url).await).build().await.unwrap();
    for i in 0..KEYS {
        writer.set(&format!("k{i}"), format!("value of k{i}")).await.unwrap();
    }
    let admin = admin(&url).await;

    for round in 0..ROUNDS {
        // The invalidation connections go; until they are back, every invalidation of a
        // tracked key makes Redis push `tracking-redir-broken` to the command connections.
        let _: u64 = admin.client_kill(vec![ClientKillFilter::Type(ClientKillType::Pubsub)]).await.unwrap();
        let reads = async {
            for n in 0..4 * KEYS {
                let key = format!("k{}", (n * 7 + round) % KEYS);
                cache.forget_local(&key).await;
                let got = cache.get(&key).await.unwrap();
                assert!(
                    got.is_none() || got.as_deref() == Some(format!("value of {key}").as_str()),
                    "round {round}: a read of {key} returned {got:?}"
                );
            }
        };
        let invalidations = async {
            for n in 0..KEYS {
                writer.set(&format!("k{n}"), format!("value of k{n}")).await.unwrap();
            }
        };
        tokio::join!(reads, invalidations);
    }
    let s = cache.stats();
    assert_eq!(s.l2_corrupt, 0, "a read was answered with another key's entry: replies out of step: {s:?}");
    assert!(s.l2_hits > 0, "L2 was never read: {s:?}");
    let _ = admin.quit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_under_another_key_is_a_corrupt_miss_and_the_connection_is_reopened() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    let build = || async {
        TieredCache::<String>::builder("in-step")
            .namespace(rk.prefix())
            .redis(redis_client(rk.url()).await)
            .build()
            .await
    };
    let a = build().await.unwrap();
    a.set("alice", "alice's secret".into()).await.unwrap();
    // Another key's entry, byte for byte, under "bob".
    let bytes: Option<bytes::Bytes> = rk.client().get(rk.key("v:alice")).await.unwrap();
    let _: () = rk.client().set(rk.key("v:bob"), bytes.unwrap(), None, None, false).await.unwrap();

    let b = build().await.unwrap();
    let flushes = b.stats().l1_flushes;
    assert_eq!(b.get("bob").await.unwrap(), None, "bob was served alice's entry");
    let s = b.stats();
    assert_eq!((s.l2_corrupt, s.l2_hits), (1, 0), "{s:?}");
    assert!(!s.breaker_open, "one bad entry opened the breaker");
    assert!(
        eventually(Duration::from_secs(10), || async { b.stats().l1_flushes > flushes }).await,
        "the command connection was not reopened (no reconnect flush of L1): {:?}",
        b.stats()
    );
    assert_eq!(b.get("alice").await.unwrap().as_deref(), Some("alice's secret"), "L2 works after the reopen");
    assert_eq!(b.stats().l2_hits, 1);
}
