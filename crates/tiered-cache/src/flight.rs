//! Single-flight: one detached load per key per process, shared by every waiter.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures::future::{BoxFuture, FutureExt, Shared};
use parking_lot::Mutex;
use tokio::sync::oneshot;

use crate::error::CacheError;

/// What a load resolves to: the value, `None` for "not found", or the load's error.
pub(crate) type Outcome<V> = Result<Option<V>, CacheError>;
pub(crate) type SharedOutcome<V> = Shared<BoxFuture<'static, Outcome<V>>>;

/// Passed to the load: lets it see whether an invalidation voided it, and sends its outcome.
#[derive(Debug)]
pub(crate) struct FlightTicket<V> {
    pub(crate) key: String,
    pub(crate) id: u64,
    voids: Arc<AtomicU64>,
    tx: oneshot::Sender<Outcome<V>>,
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
    voids: Arc<AtomicU64>,
    outcome: SharedOutcome<V>,
}

/// The in-flight loads of one cache.
pub(crate) struct Flights<V> {
    map: Mutex<HashMap<String, Flight<V>>>,
    next_id: AtomicU64,
}

impl<V> std::fmt::Debug for Flights<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flights").field("in_flight", &self.map.lock().len()).finish()
    }
}

/// Either a flight that already runs (join it) or a new one the caller must start.
pub(crate) enum Joined<V> {
    Existing(SharedOutcome<V>),
    Started(SharedOutcome<V>, FlightTicket<V>),
}

impl<V: Clone + Send + Sync + 'static> Flights<V> {
    pub(crate) fn new() -> Self {
        Flights { map: Mutex::new(HashMap::new()), next_id: AtomicU64::new(1) }
    }

    /// Joins the flight for `key`, or registers a new one and returns its ticket. The caller
    /// of a new flight spawns the load and finishes it with [`Flights::finish`].
    pub(crate) fn join(&self, key: &str) -> Joined<V> {
        let mut map = self.map.lock();
        if let Some(f) = map.get(key) {
            return Joined::Existing(f.outcome.clone());
        }
        let (tx, rx) = oneshot::channel::<Outcome<V>>();
        let owned = key.to_owned();
        let aborted = owned.clone();
        let outcome: SharedOutcome<V> =
            rx.map(move |r| r.unwrap_or(Err(CacheError::LoadAborted(aborted)))).boxed().shared();
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let voids = Arc::new(AtomicU64::new(0));
        map.insert(owned.clone(), Flight { id, voids: voids.clone(), outcome: outcome.clone() });
        Joined::Started(outcome, FlightTicket { key: owned, id, voids, tx })
    }

    /// Removes the flight (if it is still this one) and hands its outcome to every waiter.
    /// Callers fill L1 before this, so a caller arriving later finds the value there.
    pub(crate) fn finish(&self, ticket: FlightTicket<V>, outcome: Outcome<V>) {
        {
            let mut map = self.map.lock();
            if map.get(&ticket.key).is_some_and(|f| f.id == ticket.id) {
                map.remove(&ticket.key);
            }
        }
        let _ = ticket.tx.send(outcome);
    }

    /// Marks the running load of `key` as voided: its result is returned but not stored.
    pub(crate) fn void(&self, key: &str) {
        if let Some(f) = self.map.lock().get(key) {
            f.voids.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Voids every running load whose key starts with `prefix` (all of them for `""`).
    pub(crate) fn void_prefix(&self, prefix: &str) {
        for (k, f) in self.map.lock().iter() {
            if k.starts_with(prefix) {
                f.voids.fetch_add(1, Ordering::AcqRel);
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
        let Joined::Started(a, ticket) = flights.join("k") else { panic!("first join starts") };
        let Joined::Existing(b) = flights.join("k") else { panic!("second join shares") };
        let e = ticket.epoch();
        flights.void("k");
        assert!(!ticket.unchanged(e));
        flights.finish(ticket, Ok(Some(7)));
        assert_eq!(a.await.unwrap(), Some(7));
        assert_eq!(b.await.unwrap(), Some(7));
        assert!(matches!(flights.join("k"), Joined::Started(..)));
    }

    #[tokio::test]
    async fn dropped_ticket_gives_waiters_a_typed_error() {
        let flights = Flights::<u32>::new();
        let Joined::Started(a, ticket) = flights.join("k") else { panic!() };
        drop(ticket);
        assert!(matches!(a.await, Err(CacheError::LoadAborted(k)) if k == "k"));
    }
}
