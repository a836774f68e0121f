//! Heartbeats through client tracking: the proof that this instance's L1 is current.
//!
//! A separate connection writes a key under `{ns}hb:{instance}:` every quarter of the
//! coherence bound. The command connection tracks that prefix (BCAST, next to the value
//! prefix), so Redis sends the write's invalidation to this instance's listener on the same
//! stream as every other invalidation, after the invalidations of every write that executed
//! before it. So a heartbeat heard proves two things at once: the tracking registration is
//! live (a command connection that reconnected has none until it is set up again), and every
//! invalidation of a write that returned before the heartbeat was sent has been received.
//! The cache applies it in order with them (`TierEvent::CaughtUp`).
//!
//! Heartbeats carry the setup epoch: when either connection reconnects, the epoch moves and
//! heartbeats are not accepted until tracking is on again and the flush of L1 (invalidations
//! may have been lost meanwhile) is queued ahead of them.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;

/// Heartbeats remembered (their send times); older ones heard late vouch for nothing new.
const REMEMBERED: usize = 64;

#[derive(Debug)]
pub(crate) struct Beats {
    /// `{ns}hb:{instance}:`, tracked by this instance only.
    pub(crate) prefix: String,
    epoch: AtomicU64,
    accepting: AtomicBool,
    sent: Mutex<VecDeque<(u64, u64, Instant)>>,
    /// When a heartbeat was last accepted (for the watchdog).
    last_heard: Mutex<Option<Instant>>,
    /// Woken by the heartbeat task when heartbeats are written but none is heard.
    pub(crate) stalled: Notify,
}

impl Beats {
    pub(crate) fn new(prefix: String) -> Self {
        Beats {
            prefix,
            epoch: AtomicU64::new(1),
            accepting: AtomicBool::new(false),
            sent: Mutex::new(VecDeque::with_capacity(REMEMBERED)),
            last_heard: Mutex::new(None),
            stalled: Notify::new(),
        }
    }

    /// The key of heartbeat `seq` of the current epoch, remembering when it was sent.
    pub(crate) fn next(&self, seq: u64, sent: Instant) -> String {
        let epoch = self.epoch.load(Ordering::Acquire);
        let mut s = self.sent.lock();
        if s.len() == REMEMBERED {
            s.pop_front();
        }
        s.push_back((epoch, seq, sent));
        format!("{}{epoch}:{seq}", self.prefix)
    }

    /// For a tracked key: `None` when it is not one of this instance's heartbeats; `Some(None)`
    /// for a heartbeat that vouches for nothing (another epoch, not accepting, forgotten);
    /// `Some(Some(sent))` for one that proves the channel current as of `sent`.
    pub(crate) fn heard(&self, key: &str) -> Option<Option<Instant>> {
        let rest = key.strip_prefix(self.prefix.as_str())?;
        let mut parts = rest.splitn(2, ':');
        let parsed = match (parts.next().map(str::parse::<u64>), parts.next().map(str::parse::<u64>)) {
            (Some(Ok(e)), Some(Ok(n))) => Some((e, n)),
            _ => None,
        };
        let Some((epoch, seq)) = parsed else { return Some(None) };
        if !self.accepting.load(Ordering::Acquire) || epoch != self.epoch.load(Ordering::Acquire) {
            return Some(None);
        }
        let sent = self.sent.lock().iter().find(|(e, n, _)| *e == epoch && *n == seq).map(|(_, _, at)| *at);
        if let Some(at) = sent {
            *self.last_heard.lock() = Some(at);
        }
        Some(sent)
    }

    /// A connection reconnected: heartbeats vouch for nothing until [`Beats::accept`].
    pub(crate) fn begin_setup(&self) {
        self.accepting.store(false, Ordering::Release);
        self.epoch.fetch_add(1, Ordering::AcqRel);
    }

    /// Tracking is on again and the flush of L1 is queued: heartbeats count again (and the
    /// watchdog's quiet period starts afresh).
    pub(crate) fn accept(&self) {
        *self.last_heard.lock() = Some(Instant::now());
        self.accepting.store(true, Ordering::Release);
    }

    /// Whether no heartbeat was heard for `quiet` although the last ones were written.
    pub(crate) fn silent_for(&self, quiet: std::time::Duration, now: Instant) -> bool {
        self.accepting.load(Ordering::Acquire)
            && self.last_heard.lock().is_none_or(|at| now.saturating_duration_since(at) >= quiet)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn only_heartbeats_of_the_accepted_epoch_vouch() {
        let b = Beats::new("ns:hb:me:".into());
        let t0 = Instant::now();
        let k1 = b.next(1, t0);
        assert_eq!(b.heard(&k1), Some(None), "not accepting before the setup completes");
        b.accept();
        assert_eq!(b.heard(&k1), Some(Some(t0)));
        assert_eq!(b.heard("ns:v:user"), None, "not a heartbeat");
        assert_eq!(b.heard("ns:hb:me:junk"), Some(None));
        b.begin_setup();
        let k2 = b.next(2, t0);
        b.accept();
        assert_eq!(b.heard(&k1), Some(None), "an old epoch's heartbeat vouches for nothing");
        assert_eq!(b.heard(&k2), Some(Some(t0)));
    }
}
