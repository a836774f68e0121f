//! The Redis tier against a real Redis: conditional writes, leases voided by prefix
//! invalidation, scripts reloaded after `SCRIPT FLUSH`.

use std::time::Duration;

use bytes::Bytes;
use fred::interfaces::{ClientLike, KeysInterface, LuaInterface, TransactionInterface};
use fred::prelude::{Builder, Config};
use fred::types::Value;

use super::echo::PROBE;
use super::RedisTier;
use crate::l2::{EventSink, Tier};

async fn tier() -> Option<(perfstack_testkit::RedisKeys, RedisTier)> {
    let rk = perfstack_testkit::require_redis().await?;
    let (sink, _q) = EventSink::channel(16);
    let t = RedisTier::connect(rk.client().clone(), rk.prefix(), sink, super::Links::default()).await.unwrap();
    Some((rk, t))
}

const TTL: Duration = Duration::from_secs(30);

#[tokio::test]
async fn a_load_racing_an_invalidation_does_not_write_l2() {
    let Some((_rk, t)) = tier().await else { return };
    // No invalidation between the token and the write: stored.
    let token = t.write_token("k").await.unwrap();
    assert!(t.set_if_unchanged("k", Bytes::from_static(b"fresh"), TTL, token).await.unwrap());
    // An invalidation lands after the token was read (before this instance hears of it).
    let token = t.write_token("k").await.unwrap();
    t.invalidate(&["k".to_owned()]).await.unwrap();
    assert!(!t.set_if_unchanged("k", Bytes::from_static(b"stale"), TTL, token).await.unwrap());
    assert_eq!(t.get("k").await.unwrap(), None);
    // An application `set` voids it too, and so does a prefix invalidation.
    let token = t.write_token("k").await.unwrap();
    t.set("k", Bytes::from_static(b"set"), TTL).await.unwrap();
    assert!(!t.set_if_unchanged("k", Bytes::from_static(b"stale"), TTL, token).await.unwrap());
    let token = t.write_token("k").await.unwrap();
    t.invalidate_prefix("zz").await.unwrap();
    assert!(!t.set_if_unchanged("k", Bytes::from_static(b"stale"), TTL, token).await.unwrap());
    assert_eq!(t.get("k").await.unwrap().as_deref(), Some(&b"set"[..]));
}

#[tokio::test]
async fn a_prefix_invalidation_voids_the_leases_under_it() {
    let Some((_rk, t)) = tier().await else { return };
    assert!(t.try_lease("user:1", "tok", TTL).await.unwrap());
    let versions = t.write_token("user:1").await.unwrap();
    assert!(t.try_lease("order:1", "tok", TTL).await.unwrap());
    t.invalidate_prefix("user:").await.unwrap();
    assert!(!t.set_with_lease("user:1", "tok", Bytes::from_static(b"stale"), TTL, versions).await.unwrap());
    assert_eq!(t.get("user:1").await.unwrap(), None);
    assert!(!t.try_lease("order:1", "other", TTL).await.unwrap(), "leases outside the prefix hold");
    let versions = t.write_token("order:1").await.unwrap();
    assert!(t.set_with_lease("order:1", "tok", Bytes::from_static(b"ok"), TTL, versions).await.unwrap());
}

#[tokio::test]
async fn a_leased_write_is_refused_after_a_set_or_an_epoch_bump_and_the_lease_is_released() {
    let Some((rk, t)) = tier().await else { return };
    // Another instance's `set` while the holder loads: the holder's older value is refused.
    assert!(t.try_lease("k", "tok", TTL).await.unwrap());
    let versions = t.write_token("k").await.unwrap();
    t.set("k", Bytes::from_static(b"new"), TTL).await.unwrap();
    assert!(!t.set_with_lease("k", "tok", Bytes::from_static(b"old"), TTL, versions).await.unwrap());
    assert_eq!(t.get("k").await.unwrap().as_deref(), Some(&b"new"[..]));
    assert!(t.try_lease("k", "next", TTL).await.unwrap(), "the refused write released the lease");
    // A prefix invalidation that lands between its epoch bump and its scan of the leases.
    assert!(t.try_lease("j", "tok", TTL).await.unwrap());
    let versions = t.write_token("j").await.unwrap();
    let _: i64 = rk.client().incr(format!("{}epoch", rk.prefix())).await.unwrap();
    assert!(!t.set_with_lease("j", "tok", Bytes::from_static(b"stale"), TTL, versions).await.unwrap());
    assert_eq!(t.get("j").await.unwrap(), None);
}

#[tokio::test]
async fn release_lease_frees_only_the_holders_lease() {
    let Some((_rk, t)) = tier().await else { return };
    assert!(t.try_lease("k", "tok", TTL).await.unwrap());
    t.release_lease("k", "someone-else").await.unwrap();
    assert!(!t.try_lease("k", "next", TTL).await.unwrap(), "another token cannot release it");
    t.release_lease("k", "tok").await.unwrap();
    assert!(t.try_lease("k", "next", TTL).await.unwrap());
}

#[tokio::test]
async fn scripts_are_reloaded_after_script_flush() {
    // A private server: SCRIPT FLUSH on the shared one would disturb other tests.
    let Some(_rk) = perfstack_testkit::require_redis().await else { return };
    let srv = perfstack_testkit::RedisServer::start().await.unwrap();
    let client = Builder::from_config(Config::from_url(&srv.url()).unwrap()).build().unwrap();
    client.init().await.unwrap();
    let (sink, _q) = EventSink::channel(16);
    let t = RedisTier::connect(client.clone(), "scripts:", sink, super::Links::default()).await.unwrap();
    let versions = t.write_token("a").await.unwrap();
    assert!(t.try_lease("a", "tok", TTL).await.unwrap());
    assert!(t.set_with_lease("a", "tok", Bytes::from_static(b"1"), TTL, versions).await.unwrap());
    let _: () = client.script_flush(false).await.unwrap();
    assert!(t.try_lease("a", "tok2", TTL).await.unwrap());
    assert!(
        t.set_with_lease("a", "tok2", Bytes::from_static(b"2"), TTL, versions).await.unwrap(),
        "NOSCRIPT -> reload"
    );
    assert_eq!(t.get("a").await.unwrap().as_deref(), Some(&b"2"[..]));
}

#[tokio::test]
async fn foreign_bytes_in_the_version_keys_refuse_writes_instead_of_failing_calls() {
    let Some((rk, t)) = tier().await else { return };
    let c = rk.client();
    let _: () = c.set(format!("{}g:k", rk.prefix()), "not a number", None, None, false).await.unwrap();
    let _: () = c.set(format!("{}epoch", rk.prefix()), "junk", None, None, false).await.unwrap();
    let token = t.write_token("k").await.expect("a foreign version is not an L2 error");
    assert!(!t.set_if_unchanged("k", Bytes::from_static(b"v"), TTL, token).await.unwrap(), "refused, not stored");
    // Invalidations replace the foreign bytes; then loads store again.
    t.invalidate(&["k".to_owned()]).await.expect("invalidate over a foreign version");
    t.invalidate_prefix("zz").await.expect("prefix invalidation over a foreign epoch");
    let token = t.write_token("k").await.unwrap();
    assert!(t.set_if_unchanged("k", Bytes::from_static(b"v"), TTL, token).await.unwrap());
    assert_eq!(t.get("k").await.unwrap().as_deref(), Some(&b"v"[..]));
}

/// A tier with its event queue, and the next `Keys` event's keys (after a sentinel write, so
/// "no event for k" is observed, not assumed).
async fn tier_with_events() -> Option<(perfstack_testkit::RedisKeys, RedisTier, crate::l2::EventQueue)> {
    let rk = perfstack_testkit::require_redis().await?;
    let (sink, q) = EventSink::channel(64);
    let t = RedisTier::connect(rk.client().clone(), rk.prefix(), sink, super::Links::default()).await.unwrap();
    Some((rk, t, q))
}

/// Writes `sentinel` from a foreign client and returns every key invalidated up to it.
async fn keys_until_sentinel(rk: &perfstack_testkit::RedisKeys, q: &mut crate::l2::EventQueue) -> Vec<String> {
    let _: () = rk.client().set(format!("{}v:sentinel", rk.prefix()), "s", None, None, false).await.unwrap();
    let mut seen = Vec::new();
    loop {
        let ev = tokio::time::timeout(Duration::from_secs(5), q.rx.recv()).await.unwrap().unwrap();
        if let crate::l2::TierEvent::Keys(keys) = ev {
            let done = keys.iter().any(|k| k == "sentinel");
            seen.extend(keys.into_iter().filter(|k| k != "sentinel"));
            if done {
                return seen;
            }
        }
    }
}

#[tokio::test]
async fn the_echo_of_our_own_scripted_write_is_not_an_invalidation() {
    let Some((rk, t, mut q)) = tier_with_events().await else { return };
    let version: String = rk.client().info(Some(fred::types::InfoKind::Server)).await.unwrap();
    if version.contains("redis_version:7.0.") {
        // 7.0 ignores NOLOOP for script writes in BCAST mode (redis/redis#11052 fixed only the
        // other mode): the probe must have found that out.
        assert!(t.echoes.is_on(), "the setup's probe did not learn that this server echoes");
    }
    let token = t.write_token("k").await.unwrap();
    assert!(t.set_if_unchanged("k", Bytes::from_static(b"ours"), TTL, token).await.unwrap());
    assert_eq!(keys_until_sentinel(&rk, &mut q).await, Vec::<String>::new(), "our own write came back");
}

#[tokio::test]
async fn an_invalidation_of_a_key_we_wrote_is_verified_against_redis() {
    let Some((rk, t, mut q)) = tier_with_events().await else { return };
    t.echoes.probe_seen(&format!("{PROBE}{}", t.echoes.nonce.lock().clone())); // as if it echoes
    let c = rk.client();
    let k = format!("{}v:k", rk.prefix());
    // Redis holds exactly the bytes we wrote: the message is our echo, L1 is current.
    t.echoes.writing("k", b"ours");
    let _: () = c.set(&k, "ours", None, None, false).await.unwrap();
    assert_eq!(keys_until_sentinel(&rk, &mut q).await, Vec::<String>::new());
    // Another client's write merged with ours into one message (one event-loop pass): the
    // value is not ours, so it is an invalidation.
    t.echoes.writing("k", b"ours");
    let tx = c.multi();
    let _: () = tx.set(&k, "ours", None, None, false).await.unwrap();
    let _: () = tx.set(&k, "theirs", None, None, false).await.unwrap();
    let _: Value = tx.exec(true).await.unwrap();
    assert_eq!(keys_until_sentinel(&rk, &mut q).await, vec!["k".to_owned()]);
    // Deleted after our write: also an invalidation.
    t.echoes.writing("k", b"ours");
    let _: i64 = c.del(&k).await.unwrap();
    assert_eq!(keys_until_sentinel(&rk, &mut q).await, vec!["k".to_owned()]);
}

#[tokio::test]
async fn a_slow_verification_does_not_hold_up_invalidations() {
    let Some((rk, t, mut q)) = tier_with_events().await else { return };
    t.echoes.probe_seen(&format!("{PROBE}{}", t.echoes.nonce.lock().clone()));
    t.echoes.writing("k", b"ours");
    // Our data connection is busy for 30 s (a blocking pop holds the commands behind it; no
    // fred timeout on it, so its reply marks the end of the blocking).
    let data = t.data.with_options(&fred::prelude::Options { timeout: Some(Duration::ZERO), ..Default::default() });
    let blocked = tokio::spawn(async move {
        let blpop = fred::types::CustomCommand::new_static("BLPOP", fred::types::ClusterHash::FirstKey, true);
        let args: Vec<Value> = vec!["pstc-test-blpop:nothing".into(), 30.into()];
        let _: Value = data.custom(blpop, args).await.unwrap_or(Value::Null);
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let _: () = rk.client().set(format!("{}v:k", rk.prefix()), "theirs", None, None, false).await.unwrap();
    let _: () = rk.client().set(format!("{}v:x", rk.prefix()), "x", None, None, false).await.unwrap();
    let mut seen = Vec::new();
    while !seen.contains(&"x".to_owned()) {
        if let Some(crate::l2::TierEvent::Keys(keys)) =
            tokio::time::timeout(Duration::from_secs(5), q.rx.recv()).await.unwrap()
        {
            seen.extend(keys);
        }
    }
    assert!(seen.contains(&"k".to_owned()), "an unverifiable echo counts as an invalidation");
    assert!(!blocked.is_finished(), "invalidations waited for the busy connection");
    blocked.abort();
}

#[tokio::test]
async fn a_released_lease_reaches_other_instances_as_a_wake_up_only() {
    let Some((rk, a, _qa)) = tier_with_events().await else { return };
    let (sink, mut qb) = EventSink::channel(64);
    let _b = RedisTier::connect(rk.client().clone(), rk.prefix(), sink, super::Links::default()).await.unwrap();
    assert!(a.try_lease("k", "tok", TTL).await.unwrap());
    a.release_lease("k", "tok").await.unwrap();
    let ev = loop {
        let ev = tokio::time::timeout(Duration::from_secs(5), qb.rx.recv()).await.unwrap().unwrap();
        if !matches!(ev, crate::l2::TierEvent::CaughtUp(_)) {
            break ev;
        }
    };
    assert_eq!(ev, crate::l2::TierEvent::LeaseReleased("k".to_owned()));
}

#[test]
fn out_of_step_reopenings_back_off_while_they_keep_coming() {
    use super::tier::resync_wait;
    let t0 = tokio::time::Instant::now();
    let s = Duration::from_secs;
    let first = resync_wait(None, Duration::ZERO, t0).unwrap();
    assert_eq!(first, s(1));
    assert_eq!(resync_wait(Some(t0), first, t0 + Duration::from_millis(500)), None, "within the wait");
    // A wrong entry read again and again: 1, 2, 4, ... seconds apart, never more than 300.
    let (mut at, mut wait, mut reopened) = (t0, first, 1);
    for _ in 0..20 {
        let now = at + wait;
        wait = resync_wait(Some(at), wait, now).unwrap();
        at = now;
        reopened += 1;
    }
    assert_eq!(wait, s(300));
    assert!(at - t0 >= s(300 * 11), "{reopened} reopenings took only {:?}", at - t0);
    // Quiet for ten minutes: back to one second.
    assert_eq!(resync_wait(Some(at), wait, at + s(600)), Some(s(1)));
}
