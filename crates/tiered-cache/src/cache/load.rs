//! Loads: single-flight, leases across instances, background refresh.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use tokio::sync::Notify;
use tokio::time::Instant;
use tracing::Instrument;

use super::flight::{FlightTicket, Joined, Outcome};
use super::handle::Inner;
use super::lookup::L2Look;
use super::write::L2Write;
use crate::error::CacheError;
use crate::l2::Guarded;

/// Why a flight runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// A caller missed L1.
    Miss,
    /// A stale value was served; bring a fresh one (errors are counted, the stale value kept).
    Refresh,
}

impl<V: Clone + Send + Sync + 'static> Inner<V> {
    /// Joins the load of `key` or starts it as a detached task, then waits for its outcome.
    pub(crate) async fn start_or_join(self: &Arc<Self>, key: &str, mode: Mode) -> Outcome<V> {
        // Without a current proof of the channel, a load that started more than the bound ago
        // may predate a write whose invalidation has not arrived: do not join it.
        let now = Instant::now();
        let not_before = (!self.trust.holds(now)).then(|| now.checked_sub(self.cfg.coherence_bound).unwrap_or(now));
        match self.flights.join(key, not_before) {
            Joined::Existing(outcome) => outcome.await,
            Joined::Started(outcome, ticket) => {
                self.spawn_flight(ticket, mode);
                outcome.await
            }
        }
    }

    /// Starts one refresh of `key` unless a load of it already runs.
    pub(crate) fn refresh_in_background(self: &Arc<Self>, key: &str) {
        if self.loader.is_none() {
            return;
        }
        if let Joined::Started(_, ticket) = self.flights.join(key, None) {
            self.spawn_flight(ticket, Mode::Refresh);
        }
    }

    fn spawn_flight(self: &Arc<Self>, ticket: FlightTicket<V>, mode: Mode) {
        let inner = self.clone();
        self.counters.flight_started();
        let task = async move {
            let run = AssertUnwindSafe(inner.run_flight(&ticket, mode)).catch_unwind().await;
            let (outcome, refresh_after) = match run {
                Ok(r) => r,
                Err(_) => {
                    inner.counters.load_error.add();
                    (Err(CacheError::LoadAborted(ticket.key.clone())), false)
                }
            };
            inner.counters.flight_ended();
            let key = ticket.key.clone();
            inner.flights.finish(ticket, outcome);
            if refresh_after {
                inner.refresh_in_background(&key);
            }
        };
        tokio::spawn(task.instrument(tracing::Span::current()));
    }

    /// The body of one flight. Returns the outcome and whether a refresh should follow (a
    /// stale L2 value was served).
    async fn run_flight(self: &Arc<Self>, ticket: &FlightTicket<V>, mode: Mode) -> (Outcome<V>, bool) {
        let key = ticket.key.as_str();
        if mode == Mode::Miss {
            // A flight that finished between the caller's L1 miss and this one's start filled
            // L1. Not counted again: the caller's miss was. Under the same rule as any L1
            // read: only with a current proof (or L2 down and the entry recent).
            let trust = self.trust.snapshot();
            if let Some(e) = self.l1.get(key).await {
                let now = Instant::now();
                if now < e.soft && (self.trust.holds_at(trust, now) || self.servable_untrusted(&e, now)) {
                    return (Ok(e.value.clone()), false);
                }
            }
        }
        let epoch = ticket.epoch();
        let mut l2_up = self.l2.is_some();
        match self.look_l2(key).await {
            L2Look::Fresh(e) => {
                self.fill_l1(ticket, epoch, key, e.clone()).await;
                if mode == Mode::Refresh {
                    self.counters.refresh_ok.add();
                }
                return (Ok(e.value.clone()), false);
            }
            L2Look::Stale(e) if mode == Mode::Miss => {
                self.fill_l1(ticket, epoch, key, e.clone()).await;
                return (Ok(e.value.clone()), true);
            }
            L2Look::Stale(_) | L2Look::Miss => {}
            L2Look::Unavailable => l2_up = false,
        }

        let mut lease_token = None;
        if let (Some(lease), true) = (self.cfg.lease, l2_up) {
            match self.take_lease_or_wait(ticket, lease).await {
                LeaseStep::Won(token) => lease_token = Some(token),
                LeaseStep::Served(v, stale) => return (Ok(v), stale),
                LeaseStep::LoadAnyway => {}
            }
        }

        let Some(loader) = self.loader.clone() else {
            return (Err(CacheError::NoLoader(self.cfg.name.clone())), false);
        };
        let epoch = ticket.epoch();
        // Read the invalidation versions before the loader reads the source: an invalidation
        // landing anywhere after this, even one this instance has not heard of yet, makes the
        // conditional L2 write fail (atomically, in the tier).
        let how = match &self.l2 {
            None => L2Write::Plain,
            Some(l2) => match (l2.call("write_token", |t| t.write_token(key)).await, &lease_token) {
                (Guarded::Done(versions), Some(token)) => L2Write::Lease(token.as_str(), versions),
                (Guarded::Done(versions), None) => L2Write::IfUnchanged(versions),
                // Corrupt: not expected (MGET reads a key of another type as nil).
                (Guarded::Unavailable | Guarded::Corrupt, _) => L2Write::Skip,
            },
        };
        let started = Instant::now();
        // The loader's future is dropped at the timeout; every waiter gets the typed error and
        // the flight ends, so the next caller starts a new load.
        let loaded = tokio::time::timeout(self.cfg.load_timeout, loader.load(key)).await;
        metrics::histogram!("perfstack_tiered_cache_load_seconds", "name" => self.cfg.name.clone())
            .record(started.elapsed().as_secs_f64());
        let (outcome, sent) = match loaded {
            Err(_) => {
                self.counters.load_error.add();
                self.counters.load_timeout.add();
                if mode == Mode::Refresh {
                    self.counters.refresh_error.add();
                    if let Some(e) = self.l1.get(key).await {
                        e.hold_refresh(Instant::now(), self.cfg.refresh_retry_after);
                    }
                }
                tracing::warn!(cache = %self.cfg.name, key, after = ?self.cfg.load_timeout, "load timed out");
                (Err(CacheError::LoadTimeout { key: key.to_owned(), after: self.cfg.load_timeout }), false)
            }
            Ok(loaded) => self.finish_load(ticket, epoch, key, mode, how, loaded).await,
        };
        // A lease whose load stored nothing (it failed, was voided, or too large): free it
        // now, so other instances load at once rather than wait out `lease.wait`.
        if let (Some(token), false, Some(l2)) = (&lease_token, sent, &self.l2) {
            let _ = l2.call("release_lease", |t| t.release_lease(key, token)).await;
        }
        (outcome, false)
    }

    /// Stores what the loader returned (or hands on its error); `true` when an L2 write was
    /// sent.
    async fn finish_load(
        &self,
        ticket: &FlightTicket<V>,
        epoch: u64,
        key: &str,
        mode: Mode,
        how: L2Write<'_>,
        loaded: Result<Option<V>, crate::error::BoxError>,
    ) -> (Outcome<V>, bool) {
        match loaded {
            Ok(value) => {
                if value.is_some() {
                    self.counters.load_ok.add();
                } else {
                    self.counters.load_not_found.add();
                }
                if mode == Mode::Refresh {
                    self.counters.refresh_ok.add();
                }
                match self.store(key, value.as_ref(), Some((ticket, epoch)), how).await {
                    Ok(stored) => (Ok(value), stored.sent),
                    Err(e) => (Err(e), false),
                }
            }
            Err(source) => {
                self.counters.load_error.add();
                if mode == Mode::Refresh {
                    self.counters.refresh_error.add();
                    // The stale value stays; the next refresh waits, so a failing source is
                    // not called again on every read.
                    if let Some(e) = self.l1.get(key).await {
                        e.hold_refresh(Instant::now(), self.cfg.refresh_retry_after);
                    }
                }
                tracing::warn!(cache = %self.cfg.name, key, error = %source, "loader failed");
                (Err(CacheError::Load { key: key.to_owned(), source: Arc::from(source) }), false)
            }
        }
    }

    /// Promotes an L2 entry into L1 unless an invalidation arrived since `epoch`.
    async fn fill_l1(&self, ticket: &FlightTicket<V>, epoch: u64, key: &str, e: Arc<crate::l1::L1Entry<V>>) {
        if !ticket.unchanged(epoch) {
            self.counters.load_voided.add();
            return;
        }
        self.l1.insert(key.to_owned(), e).await;
        if !ticket.unchanged(epoch) {
            self.l1_remove(key).await;
        }
    }

    /// Lease mode: take the lease, or wait (woken by the invalidation channel) for the
    /// holder's value; the waiting is bounded by `lease.wait` in all (the L2 calls around it
    /// by their own timeout). A holder that gives its lease up without a value wakes the
    /// waiters, who try the lease once more (so one of them loads) before loading anyway.
    async fn take_lease_or_wait(&self, ticket: &FlightTicket<V>, lease: crate::config::LeaseConfig) -> LeaseStep<V> {
        let Some(l2) = &self.l2 else { return LeaseStep::LoadAnyway };
        let key = ticket.key.as_str();
        let token = uuid::Uuid::new_v4().to_string();
        let deadline = Instant::now() + lease.wait;
        let mut step = LeaseStep::LoadAnyway;
        for attempt in 0..2 {
            // Register for the wake-up before asking, so the holder's write cannot slip between.
            let notify = self.waiters.lock().entry(key.to_owned()).or_insert_with(|| Arc::new(Notify::new())).clone();
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let retry = match l2.call("lease", |t| t.try_lease(key, &token, lease.ttl)).await {
                Guarded::Done(true) => {
                    self.counters.lease_acquired.add();
                    step = LeaseStep::Won(token.clone());
                    false
                }
                Guarded::Done(false) => {
                    if attempt == 0 {
                        self.counters.lease_waited.add();
                    }
                    let woken = tokio::time::timeout_at(deadline, notified).await.is_ok();
                    if !woken {
                        self.counters.lease_wait_timeout.add();
                    }
                    // Before the read: an invalidation applied after it must void the fill.
                    let epoch = ticket.epoch();
                    // A value already past its soft TTL (a short one, or clock skew between
                    // instances) is served like any stale value, with a refresh after.
                    let found = match self.look_l2(key).await {
                        L2Look::Fresh(e) => Some((e, false)),
                        L2Look::Stale(e) => Some((e, true)),
                        L2Look::Miss | L2Look::Unavailable => None,
                    };
                    match found {
                        Some((e, stale)) => {
                            self.fill_l1(ticket, epoch, key, e.clone()).await;
                            step = LeaseStep::Served(e.value.clone(), stale);
                            false
                        }
                        // Woken without a value (the holder gave up): try the lease again.
                        None => woken,
                    }
                }
                Guarded::Unavailable | Guarded::Corrupt => false,
            };
            let mut w = self.waiters.lock();
            if w.get(key).is_some_and(|n| Arc::ptr_eq(n, &notify)) {
                w.remove(key);
            }
            drop(w);
            if !retry {
                break;
            }
        }
        step
    }
}

enum LeaseStep<V> {
    Won(String),
    /// The holder's value; `true` when it is already stale (a refresh follows).
    Served(Option<V>, bool),
    LoadAnyway,
}
