//! Single-flight: one detached load per key per process, shared by every waiter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use futures::future::{BoxFuture, FutureExt, Shared};
use parking_lot::Mutex;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::CacheError;

/// What a load resolves to: the value, `None` for "not found", or the load's error.
pub(crate) type Outcome<V> = Result<Option<V>, CacheError>;
pub(crate) type SharedOutcome<V> = Shared<BoxFuture<'static, Outcome<V>>>;

type Map<V> = Mutex<HashMap<String, Slot<V>>>;

/// Passed to the load: lets it see whether an invalidation voided it, and sends its outcome.
/// Dropped without [`Flights::finish`] (the task was cancelled, e.g. its runtime shut down),
/// it still leaves its key: waiters get [`CacheError::LoadAborted`], and the next caller
/// starts a new load instead of joining a dead one.
pub(crate) struct FlightTicket<V> {
    pub(crate) key: String,
    pub(crate) id: u64,
    voids: Arc<AtomicU64>,
    tx: Option<oneshot::Sender<Outcome<V>>>,
    map: Weak<Map<V>>,
}

impl<V> std::fmt::Debug for FlightTicket<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlightTicket").field("key", &self.key).field("id", &self.id).finish_non_exhaustive()
    }
}

impl<V> Drop for FlightTicket<V> {
    fn drop(&mut self) {
        let Some(map) = self.map.upgrade() else { return };
        let mut map = map.lock();
        let Some(slot) = map.get_mut(&self.key) else { return };
        if slot.current.as_ref().is_some_and(|f| f.id == self.id) {
            slot.current = None;
        }
        slot.live -= 1;
        if slot.live == 0 {
            map.remove(&self.key);
        }
    }
}

impl<V> FlightTicket<V> {
    /// How many invalidations hit this key so far; compare later with [`Self::unchanged`].
    pub(crate) fn epoch(&self) -> u64 {
        self.voids.load(Ordering::Acquire)
    }
    /// True when no invalidation arrived since `epoch` was read: data read before may be stored.
    pub(crate) fn unchanged(&self, epoch: u64) -> bool {
        self.epoch() == epoch
    }
}

struct Flight<V> {
    id: u64,
    outcome: SharedOutcome<V>,
    started: Instant,
}

/// The loads of one key still running: at most one takes joiners (`current`); loads voided
/// while running stay counted in `live` so that later invalidations of the key still reach
/// them through the shared `voids`.
struct Slot<V> {
    current: Option<Flight<V>>,
    voids: Arc<AtomicU64>,
    live: usize,
}

/// The in-flight loads of one cache.
pub(crate) struct Flights<V> {
    map: Arc<Map<V>>,
    next_id: AtomicU64,
}

impl<V> std::fmt::Debug for Flights<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flights").field("keys", &self.map.lock().len()).finish()
    }
}

/// Either a flight that already runs (join it) or a new one the caller must start.
pub(crate) enum Joined<V> {
    Existing(SharedOutcome<V>),
    Started(SharedOutcome<V>, FlightTicket<V>),
}

impl<V: Clone + Send + Sync + 'static> Flights<V> {
    pub(crate) fn new() -> Self {
        Flights { map: Arc::new(Mutex::new(HashMap::new())), next_id: AtomicU64::new(1) }
    }

    /// Joins the flight for `key`, or registers a new one and returns its ticket. The caller
    /// of a new flight spawns the load and finishes it with [`Flights::finish`]. With
    /// `not_before`, a flight that started earlier is not joined (it may predate a write this
    /// instance has not heard of yet): a new one takes its place for joiners, and the old one
    /// still answers its own.
    pub(crate) fn join(&self, key: &str, not_before: Option<Instant>) -> Joined<V> {
        let mut map = self.map.lock();
        let slot = map.entry(key.to_owned()).or_insert_with(|| Slot {
            current: None,
            voids: Arc::new(AtomicU64::new(0)),
            live: 0,
        });
        if let Some(f) = &slot.current {
            if not_before.is_none_or(|t| f.started >= t) {
                return Joined::Existing(f.outcome.clone());
            }
        }
        let (tx, rx) = oneshot::channel::<Outcome<V>>();
        let aborted = key.to_owned();
        let outcome: SharedOutcome<V> =
            rx.map(move |r| r.unwrap_or(Err(CacheError::LoadAborted(aborted)))).boxed().shared();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        slot.current = Some(Flight { id, outcome: outcome.clone(), started: Instant::now() });
        slot.live += 1;
        let ticket = FlightTicket {
            key: key.to_owned(),
            id,
            voids: slot.voids.clone(),
            tx: Some(tx),
            map: Arc::downgrade(&self.map),
        };
        Joined::Started(outcome, ticket)
    }

    /// Ends the flight and hands its outcome to every waiter. Callers fill L1 before this, so
    /// a caller arriving later finds the value there.
    pub(crate) fn finish(&self, mut ticket: FlightTicket<V>, outcome: Outcome<V>) {
        let tx = ticket.tx.take();
        // Leaves the map first (in `Drop`): a caller woken by the outcome starts afresh.
        drop(ticket);
        if let Some(tx) = tx {
            let _ = tx.send(outcome);
        }
    }

    /// Voids the running loads of `key`: their results go to the callers that joined them
    /// before this, but are not stored, and they take no new joiners. A caller that starts
    /// after this starts a new load (the void is an invalidation or a write that returned:
    /// joining the old load would hand it the value from before).
    pub(crate) fn void(&self, key: &str) {
        if let Some(slot) = self.map.lock().get_mut(key) {
            slot.voids.fetch_add(1, Ordering::AcqRel);
            slot.current = None;
        }
    }

    /// Voids every running load whose key starts with `prefix` (all of them for `""`).
    pub(crate) fn void_prefix(&self, prefix: &str) {
        for (k, slot) in self.map.lock().iter_mut() {
            if k.starts_with(prefix) {
                slot.voids.fetch_add(1, Ordering::AcqRel);
                slot.current = None;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_join_shares_the_first_flight_and_void_is_seen() {
        let flights = Flights::<u32>::new();
        let Joined::Started(a, ticket) = flights.join("k", None) else { panic!("first join starts") };
        let Joined::Existing(b) = flights.join("k", None) else { panic!("second join shares") };
        let e = ticket.epoch();
        flights.void("k");
        assert!(!ticket.unchanged(e));
        flights.finish(ticket, Ok(Some(7)));
        assert_eq!(a.await.unwrap(), Some(7));
        assert_eq!(b.await.unwrap(), Some(7));
        assert!(matches!(flights.join("k", None), Joined::Started(..)));
    }

    #[tokio::test]
    async fn a_voided_flight_takes_no_new_joiners() {
        let flights = Flights::<u32>::new();
        let Joined::Started(old, old_ticket) = flights.join("k", None) else { panic!() };
        flights.void("k");
        let Joined::Started(new, new_ticket) = flights.join("k", None) else { panic!("a void ends joining") };
        // The old load finishing later must not take the new one out of the map.
        flights.finish(old_ticket, Ok(Some(1)));
        assert!(matches!(flights.join("k", None), Joined::Existing(..)), "the new flight stays joinable");
        flights.finish(new_ticket, Ok(Some(2)));
        assert_eq!(old.await.unwrap(), Some(1));
        assert_eq!(new.await.unwrap(), Some(2));
        flights.void_prefix("");
        assert!(matches!(flights.join("k", None), Joined::Started(..)));
    }

    #[test]
    fn a_flight_voided_once_still_sees_later_voids() {
        let flights = Flights::<u32>::new();
        let Joined::Started(_, old) = flights.join("k", None) else { panic!() };
        flights.void("k");
        let e = old.epoch(); // the load reads again after the first void...
        flights.void("k"); // ...and a second invalidation must still void what it read
        assert!(!old.unchanged(e));
        drop(old);
        assert!(flights.map.lock().is_empty(), "the key leaves once no load of it runs");
    }

    #[tokio::test]
    async fn a_cancelled_flight_is_not_joinable() {
        let flights = Flights::<u32>::new();
        let Joined::Started(a, ticket) = flights.join("k", None) else { panic!() };
        drop(ticket); // the load task was dropped (cancelled) without finishing
        assert!(matches!(a.await, Err(CacheError::LoadAborted(_))));
        assert!(matches!(flights.join("k", None), Joined::Started(..)), "the next caller starts a new load");
    }

    #[tokio::test]
    async fn dropped_ticket_gives_waiters_a_typed_error() {
        let flights = Flights::<u32>::new();
        let Joined::Started(a, ticket) = flights.join("k", None) else { panic!() };
        drop(ticket);
        assert!(matches!(a.await, Err(CacheError::LoadAborted(k)) if k == "k"));
    }
}
