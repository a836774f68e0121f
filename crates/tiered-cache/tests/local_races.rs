//! The writer's own L1 under races with its own reads: `set`, `invalidate` and
//! `invalidate_prefix` racing a read of the old value from L2, and a cancelled `set`. Redis
//! tells a writer nothing of its own writes, so the cache must get these right by itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use common::eventually;
use common::hooked::{Call, Hooked, Hooks};
use parking_lot::Mutex;
use perfstack_tiered_cache::{loader_fn, BoxError, LeaseConfig, MemoryStore, TierError, TieredCache};
use tokio::sync::Semaphore;

/// Where the next call of a kind stops: the test sees it arrive (`arrived`) and lets it go on
/// (`go`).
#[derive(Clone)]
struct Stop {
    arrived: Arc<Semaphore>,
    go: Arc<Semaphore>,
}

impl Stop {
    fn new() -> Self {
        Stop { arrived: Arc::new(Semaphore::new(0)), go: Arc::new(Semaphore::new(0)) }
    }
    async fn here(&self) {
        self.arrived.add_permits(1);
        self.go.acquire().await.unwrap().forget();
    }
    async fn reached(&self) {
        self.arrived.acquire().await.unwrap().forget();
    }
    fn release(&self) {
        self.go.add_permits(1);
    }
}

/// The next `get` stops after reading, the next `set` after writing (`write`) or before
/// (`write_before`), the next invalidation before invalidating (each armed once with [`arm`]).
#[derive(Default)]
struct Gates {
    get: Mutex<Option<Stop>>,
    write: Mutex<Option<Stop>>,
    write_before: Mutex<Option<Stop>>,
    invalidation: Mutex<Option<Stop>>,
}

fn arm(slot: &Mutex<Option<Stop>>) -> Stop {
    let s = Stop::new();
    *slot.lock() = Some(s.clone());
    s
}

#[async_trait]
impl Hooks for Gates {
    async fn before(&self, call: Call, _key: &str) -> Result<(), TierError> {
        let slot = match call {
            Call::Invalidate | Call::InvalidatePrefix => &self.invalidation,
            Call::Set => &self.write_before,
            _ => return Ok(()),
        };
        let stop = slot.lock().take();
        if let Some(s) = stop {
            s.here().await;
        }
        Ok(())
    }
    async fn after(&self, call: Call, _key: &str) {
        let slot = match call {
            Call::Get => &self.get,
            Call::Set => &self.write,
            _ => return,
        };
        let stop = slot.lock().take();
        if let Some(s) = stop {
            s.here().await;
        }
    }
}

/// A cache over a gated tier, and another instance on the same store holding `k` = "v0".
async fn setup() -> (Arc<Hooked<Gates>>, TieredCache<String>, TieredCache<String>) {
    let store = MemoryStore::new();
    let gated = Hooked::new(store.tier(), Gates::default());
    // Gated calls may wait on the test: no L2 timeout may end them first.
    let a = TieredCache::<String>::builder("races")
        .tier(gated.clone())
        .l2_timeout(Duration::from_secs(30))
        .build()
        .await
        .unwrap();
    let other = TieredCache::<String>::builder("races").tier(store.tier()).build().await.unwrap();
    other.set("k", "v0".to_owned()).await.unwrap();
    other.set("user:1", "v0".to_owned()).await.unwrap();
    // Both sets' invalidations applied to A, so none lands in the middle of a test.
    assert!(eventually(Duration::from_secs(5), || async { a.stats().invalidations_received == 2 }).await);
    (gated, a, other)
}

#[tokio::test]
async fn a_read_of_the_old_value_racing_a_set_does_not_put_it_back_in_l1() {
    let (gated, a, _other) = setup().await;
    let stop = arm(&gated.hooks.get);
    let reader = a.clone();
    let read = tokio::spawn(async move { reader.get("k").await });
    stop.reached().await; // the read has "v0" from L2 and has not promoted it yet
    a.set("k", "v1".to_owned()).await.unwrap();
    stop.release();
    assert_eq!(read.await.unwrap().unwrap().as_deref(), Some("v0"), "it read before the set");
    assert_eq!(a.get("k").await.unwrap().as_deref(), Some("v1"), "the old value came back into L1");
}

#[tokio::test]
async fn a_read_during_an_invalidation_does_not_keep_the_old_value_in_l1() {
    let (gated, a, _other) = setup().await;
    let stop = arm(&gated.hooks.invalidation);
    let writer = a.clone();
    let inval = tokio::spawn(async move { writer.invalidate("k").await });
    stop.reached().await; // L1 dropped here, L2 not yet
    assert_eq!(a.get("k").await.unwrap().as_deref(), Some("v0"), "still in L2: read and promoted");
    stop.release();
    inval.await.unwrap().unwrap();
    assert_eq!(a.get("k").await.unwrap(), None, "the invalidated value stayed in this instance's L1");
}

#[tokio::test]
async fn a_read_during_a_prefix_invalidation_does_not_keep_the_old_value_in_l1() {
    let (gated, a, _other) = setup().await;
    let stop = arm(&gated.hooks.invalidation);
    let writer = a.clone();
    let inval = tokio::spawn(async move { writer.invalidate_prefix("user:").await });
    stop.reached().await;
    assert_eq!(a.get("user:1").await.unwrap().as_deref(), Some("v0"));
    stop.release();
    assert_eq!(inval.await.unwrap().unwrap().removed, 1);
    assert_eq!(a.get("user:1").await.unwrap(), None, "the invalidated value stayed in this instance's L1");
}

#[tokio::test]
async fn a_set_cancelled_after_its_l2_write_leaves_no_old_value_in_l1() {
    let (gated, a, other) = setup().await;
    assert_eq!(a.get("k").await.unwrap().as_deref(), Some("v0"));
    assert_eq!(a.get("k").await.unwrap().as_deref(), Some("v0"));
    assert_eq!(a.stats().l1_hits, 1, "v0 is in A's L1");
    let stop = arm(&gated.hooks.write);
    let writer = a.clone();
    let set = tokio::spawn(async move { writer.set("k", "v1".to_owned()).await });
    stop.reached().await; // L2 holds "v1"; the caller gives up before L1 is written
    set.abort();
    assert!(set.await.unwrap_err().is_cancelled());
    // The outcome in L2 is unknown to the cancelled caller: the key is pending, read from the
    // loader (here: not cached) until L2 confirms an invalidation of it.
    assert_ne!(a.get("k").await.unwrap().as_deref(), Some("v0"), "A kept serving the value it overwrote");
    assert!(eventually(Duration::from_secs(10), || async { a.stats().pending_invalidations == 0 }).await);
    assert_eq!(a.stats().pending_confirmed, 1);
    assert_eq!(other.get("k").await.unwrap(), None, "the cancelled write was settled in L2");
    assert_eq!(a.get("k").await.unwrap(), None);
}

#[tokio::test]
async fn another_instances_write_applied_while_a_set_writes_l2_keeps_the_set_out_of_l1() {
    let (gated, a, other) = setup().await;
    let stop = arm(&gated.hooks.write);
    let writer = a.clone();
    let set = tokio::spawn(async move { writer.set("k", "vA".to_owned()).await });
    stop.reached().await; // A's value is in L2, not yet in A's L1
    let heard = a.stats().invalidations_received;
    other.set("k", "vB".to_owned()).await.unwrap(); // lands after A's in L2
    assert!(eventually(Duration::from_secs(5), || async { a.stats().invalidations_received > heard }).await);
    stop.release();
    set.await.unwrap().unwrap();
    assert_eq!(a.get("k").await.unwrap().as_deref(), Some("vB"), "A's L1 kept the value B overwrote");
}

#[tokio::test]
async fn a_lease_waiter_does_not_keep_a_value_invalidated_after_its_read() {
    let store = MemoryStore::new();
    let lease = LeaseConfig::new(Duration::from_secs(5), Duration::from_secs(5));
    let gate = Arc::new(Semaphore::new(0));
    let g = gate.clone();
    let slow = loader_fn(move |_k: String| {
        let g = g.clone();
        async move {
            g.acquire().await.unwrap().forget();
            Ok::<_, BoxError>(Some("vA".to_owned()))
        }
    });
    let holder =
        TieredCache::<String>::builder("races").tier(store.tier()).loader(slow).lease(lease).build().await.unwrap();
    let gated = Hooked::new(store.tier(), Gates::default());
    let waiter = TieredCache::<String>::builder("races")
        .tier(gated.clone())
        .l2_timeout(Duration::from_secs(30))
        .loader(loader_fn(|_k: String| async { Ok::<_, BoxError>(Some("loaded by the waiter".to_owned())) }))
        .lease(lease)
        .build()
        .await
        .unwrap();
    let other = TieredCache::<String>::builder("races").tier(store.tier()).build().await.unwrap();
    let h = holder.clone();
    let holding = tokio::spawn(async move { h.get_or_load("k").await });
    assert!(eventually(Duration::from_secs(5), || async { holder.stats().leases_acquired == 1 }).await);
    let w = waiter.clone();
    let waiting = tokio::spawn(async move { w.get_or_load("k").await });
    assert!(eventually(Duration::from_secs(5), || async { waiter.stats().lease_waits == 1 }).await);
    let stop = arm(&gated.hooks.get); // the waiter's read after its wake-up
    gate.add_permits(1);
    stop.reached().await; // the waiter read "vA" and has not filled L1 yet
    let heard = waiter.stats().invalidations_received;
    other.invalidate("k").await.unwrap();
    assert!(eventually(Duration::from_secs(5), || async { waiter.stats().invalidations_received > heard }).await);
    stop.release();
    assert_eq!(waiting.await.unwrap().unwrap().as_deref(), Some("vA"));
    assert_eq!(holding.await.unwrap().unwrap().as_deref(), Some("vA"));
    assert_eq!(waiter.get("k").await.unwrap(), None, "the waiter kept a value invalidated after its read");
}

#[tokio::test]
async fn a_set_racing_this_instances_own_load_leaves_l1_agreeing_with_l2() {
    let store = MemoryStore::new();
    let gated = Hooked::new(store.tier(), Gates::default());
    let a = TieredCache::<String>::builder("races")
        .tier(gated.clone())
        .l2_timeout(Duration::from_secs(30))
        .loader(loader_fn(|_k: String| async { Ok::<_, BoxError>(Some("L".to_owned())) }))
        .build()
        .await
        .unwrap();
    let other = TieredCache::<String>::builder("races").tier(store.tier()).build().await.unwrap();
    let read_stop = arm(&gated.hooks.get);
    let loader_side = a.clone();
    let load = tokio::spawn(async move { loader_side.get_or_load("k").await });
    read_stop.reached().await; // the load's L2 read found nothing
    let write_stop = arm(&gated.hooks.write);
    let writer = a.clone();
    let set = tokio::spawn(async move { writer.set("k", "S".to_owned()).await });
    write_stop.reached().await; // "S" is in L2, not yet in A's L1
    read_stop.release();
    // The load goes on after the set: its versions include the set, so it stores "L".
    assert_eq!(load.await.unwrap().unwrap().as_deref(), Some("L"));
    write_stop.release();
    set.await.unwrap().unwrap();
    assert_eq!(other.get("k").await.unwrap().as_deref(), Some("L"), "L2 holds the load's later value");
    assert_eq!(a.get("k").await.unwrap().as_deref(), Some("L"), "A's L1 disagrees with L2");
}

#[tokio::test]
async fn a_load_stored_while_a_set_waits_for_l2_does_not_outlive_the_set_in_l1() {
    let store = MemoryStore::new();
    let gated = Hooked::new(store.tier(), Gates::default());
    // The source as a load read it before the write: the value the set replaces.
    let a = TieredCache::<String>::builder("races")
        .tier(gated.clone())
        .l2_timeout(Duration::from_secs(30))
        .loader(loader_fn(|_k: String| async { Ok::<_, BoxError>(Some("old".to_owned())) }))
        .build()
        .await
        .unwrap();
    let other = TieredCache::<String>::builder("races").tier(store.tier()).build().await.unwrap();
    let write_stop = arm(&gated.hooks.write_before);
    let writer = a.clone();
    let set = tokio::spawn(async move { writer.set("k", "new".to_owned()).await });
    write_stop.reached().await; // L1 dropped, "new" not yet in L2
                                // A read during the set loads "old", stores it in L2 (no version moved yet) and in L1,
                                // and moves the key's generation here.
    assert_eq!(a.get_or_load("k").await.unwrap().as_deref(), Some("old"));
    write_stop.release();
    assert!(set.await.unwrap().unwrap().is_confirmed());
    assert_eq!(other.get("k").await.unwrap().as_deref(), Some("new"), "L2 holds the set's later value");
    assert_eq!(
        a.get("k").await.unwrap().as_deref(),
        Some("new"),
        "A's L1 kept the load's value after A's own set returned"
    );
}
