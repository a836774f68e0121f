//! Coarse timeouts for L2 calls without one tokio timer per call.
//!
//! `tokio::time::timeout` registers a timer entry on every call; when the runtime's timer
//! driver is parked with no earlier timer, registering one wakes the parked thread. On an L2
//! hit that was about 3.5 µs of CPU per call, nearly as much as fred's own GET. Here one
//! ticker task per cache advances a tick counter every `period` and wakes every waiting call
//! through a [`Notify`]; a call times out at the first tick at or after its deadline. A call
//! therefore costs two uncontended lock operations and no syscall, and a timeout fires between
//! `timeout` and `timeout + period` after the call started (`period` is a quarter of the
//! timeout).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// Ticks per timeout: the timeout's granularity is a quarter of it.
const TICKS: u64 = 4;

/// A shared coarse clock for the timeouts of one cache's L2 calls.
#[derive(Debug)]
pub(crate) struct Deadlines {
    ticks: AtomicU64,
    notify: Notify,
}

impl Deadlines {
    /// A clock for calls that time out after `timeout`; the ticker task it returns stops once
    /// the `Deadlines` is dropped (or when aborted).
    pub(crate) fn start(timeout: Duration) -> (Arc<Self>, JoinHandle<()>) {
        let period = (timeout / TICKS as u32).max(Duration::from_millis(1));
        let d = Arc::new(Deadlines { ticks: AtomicU64::new(0), notify: Notify::new() });
        let handle = tokio::spawn(tick(Arc::downgrade(&d), period));
        (d, handle)
    }

    /// Runs `fut`; `None` when it did not finish within the timeout.
    pub(crate) async fn within<F: Future>(&self, fut: F) -> Option<F::Output> {
        // +1: the tick that is running now is already partly gone.
        let deadline = self.ticks.load(Ordering::Acquire) + TICKS + 1;
        let mut fut = std::pin::pin!(fut);
        loop {
            // Created before the check below: a `Notified` sees every `notify_waiters` made
            // after its creation, even before its first poll, so no tick is missed.
            let tick = self.notify.notified();
            tokio::select! {
                biased;
                out = &mut fut => return Some(out),
                () = tick => {
                    if self.ticks.load(Ordering::Acquire) >= deadline {
                        return None;
                    }
                }
            }
        }
    }
}

async fn tick(d: Weak<Deadlines>, period: Duration) {
    let mut every = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let Some(d) = d.upgrade() else { return };
        d.ticks.fetch_add(1, Ordering::AcqRel);
        d.notify.notify_waiters();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_call_that_finishes_in_time_returns_its_output() {
        let (d, _t) = Deadlines::start(Duration::from_millis(200));
        let out = d.within(async {
            tokio::time::sleep(Duration::from_millis(150)).await;
            7
        });
        assert_eq!(out.await, Some(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_call_times_out_between_the_timeout_and_one_period_later() {
        let (d, _t) = Deadlines::start(Duration::from_millis(200));
        // Start at an arbitrary point between two ticks.
        tokio::time::sleep(Duration::from_millis(1_030)).await;
        let start = tokio::time::Instant::now();
        let out = d.within(std::future::pending::<()>()).await;
        let took = start.elapsed();
        assert_eq!(out, None);
        assert!(took >= Duration::from_millis(200), "fired early: {took:?}");
        assert!(took <= Duration::from_millis(250), "fired late: {took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn many_concurrent_calls_each_get_their_own_deadline() {
        let (d, _t) = Deadlines::start(Duration::from_millis(100));
        let calls = (0..50u64).map(|i| {
            let d = d.clone();
            tokio::spawn(async move {
                // Even calls finish after 60 ms, odd ones hang.
                d.within(async move {
                    if i % 2 == 0 {
                        tokio::time::sleep(Duration::from_millis(60)).await;
                    } else {
                        std::future::pending::<()>().await;
                    }
                    i
                })
                .await
            })
        });
        let outs = futures::future::join_all(calls).await;
        for (i, out) in outs.into_iter().enumerate() {
            let out = out.unwrap();
            if i % 2 == 0 {
                assert_eq!(out, Some(i as u64));
            } else {
                assert_eq!(out, None);
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_ticker_stops_when_the_deadlines_are_dropped() {
        let (d, t) = Deadlines::start(Duration::from_millis(100));
        drop(d);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(t.is_finished());
    }
}
