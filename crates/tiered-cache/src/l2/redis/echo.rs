//! Own writes echoed back as invalidations.
//!
//! Redis 7.0 ignores `NOLOOP` for keys a Lua script writes in `BCAST` mode (the script's
//! client, not ours, is recorded as the writer; redis/redis#11052 fixed only the non-BCAST
//! path). A load's conditional write is a script, so without this every load or refresh
//! came back as an invalidation that dropped the fresh value from the writer's own L1.
//!
//! An invalidation cannot simply be skipped as "ours": BCAST mode sends one message per key
//! per event-loop pass, naming only the last writer, so our echo and another client's write
//! of the same key can arrive as one message. So a scripted write remembers the bytes it
//! wrote (as a length and a seeded 64-bit hash, not a copy), and an invalidation of that key
//! is *verified*: the listener reads the key (after the message, so after every write it
//! reports) and keeps the L1 entry only if Redis still holds our bytes. Anything else —
//! another value, nothing, an error or a slow answer — drops it. The rule is sound whatever
//! the timing, coalescing or number of messages; registrations only decide whether a
//! message costs a read.
//!
//! Whether the server echoes is learned, not assumed: at each setup of the channel a script
//! writes and deletes a probe key named with a fresh nonce, then a barrier message follows on
//! the channel; only if the probe's invalidation arrives first do writes register (a server
//! that honours NOLOOP would otherwise collect registrations nobody takes).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

/// Registrations older than this are dropped when the map is pruned (their echo was lost).
const STALE: Duration = Duration::from_secs(1);
/// The map is pruned of stale registrations when it grows past this; if every registration
/// is recent it is cleared (that only turns skips into invalidations).
const PRUNE_AT: usize = 4_096;

/// What is kept of a write: its length and a hash of its bytes.
pub(crate) type Mark = (usize, u64);

/// The prefix of probe keys (after the values prefix); never a cache event, refused as a
/// user key.
pub(crate) const PROBE: &str = crate::l2::RESERVED_KEY_PREFIX;

/// The bytes this instance last wrote by script, per key, awaiting their echo.
#[derive(Debug, Default)]
pub(crate) struct Echoes {
    /// The server echoes scripted writes (learned from the probe of the current setup).
    on: AtomicBool,
    /// The probe nonce of the current setup.
    pub(super) nonce: Mutex<String>,
    pending: Mutex<HashMap<String, (Mark, Instant)>>,
    hasher: foldhash::quality::RandomState,
    /// The last barrier nonce the listener saw from this instance.
    barrier: tokio::sync::watch::Sender<String>,
}

impl Echoes {
    /// Before a scripted write of `value` to `key`: its echo will be verified. Kept until the
    /// next invalidation of the key (or a prune): a registration whose write wrote nothing is
    /// harmless, since verification compares with what Redis holds.
    pub(crate) fn writing(&self, key: &str, value: &[u8]) {
        if !self.on.load(Ordering::Acquire) {
            return;
        }
        let mark = self.mark(value);
        let mut p = self.pending.lock();
        if p.len() >= PRUNE_AT {
            p.retain(|_, (_, at)| at.elapsed() < STALE);
            if p.len() >= PRUNE_AT / 2 {
                p.clear();
            }
        }
        p.insert(key.to_owned(), (mark, Instant::now()));
    }

    /// What Redis must hold for a message about `key` to be only our echo, when this
    /// instance wrote the key by script and has not seen its echo yet.
    pub(crate) fn take(&self, key: &str) -> Option<Mark> {
        self.pending.lock().remove(key).map(|(m, _)| m)
    }

    /// The mark of `value`, to compare with a registration.
    pub(crate) fn mark(&self, value: &[u8]) -> Mark {
        (value.len(), self.hasher.hash_one(value))
    }

    /// Echoes may have been lost (the listener lagged): forget every registration.
    pub(crate) fn forget_pending(&self) {
        self.pending.lock().clear();
    }

    /// Whether `key` (after the values prefix) is the current setup's probe; learns from it.
    pub(crate) fn probe_seen(&self, key: &str) -> bool {
        let Some(nonce) = key.strip_prefix(PROBE) else { return false };
        if *self.nonce.lock() == nonce {
            self.on.store(true, Ordering::Release);
        }
        true
    }

    /// Watches the barrier nonces the listener sees (subscribe before sending one).
    pub(crate) fn barrier(&self) -> tokio::sync::watch::Receiver<String> {
        self.barrier.subscribe()
    }

    /// The listener saw this instance's barrier `nonce`.
    pub(crate) fn barrier_seen(&self, nonce: String) {
        self.barrier.send_replace(nonce);
    }

    /// A new setup of the channel: echoes may have been lost and the server may have
    /// changed; forget everything until this setup's probe (with a fresh `nonce`) answers.
    pub(crate) fn reset(&self, nonce: &str) {
        self.on.store(false, Ordering::Release);
        *self.nonce.lock() = nonce.to_owned();
        self.pending.lock().clear();
    }

    #[cfg(test)]
    pub(crate) fn is_on(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> &'static [u8] {
        s.as_bytes()
    }

    #[test]
    fn nothing_is_registered_until_this_setups_probe_answers() {
        let e = Echoes::default();
        e.reset("n1");
        e.writing("k", b("v"));
        assert_eq!(e.take("k"), None);
        assert!(e.probe_seen(&format!("{PROBE}old-nonce")), "a probe key is never an event");
        e.writing("k", b("v"));
        assert_eq!(e.take("k"), None, "an old setup's probe teaches nothing");
        assert!(e.probe_seen(&format!("{PROBE}n1")));
        e.writing("k", b("v"));
        assert_eq!(e.take("k"), Some(e.mark(b("v"))));
        assert_eq!(e.take("k"), None, "once");
        assert!(!e.probe_seen("k"));
    }

    #[test]
    fn the_last_write_of_a_key_is_the_one_verified() {
        let e = Echoes::default();
        e.reset("n");
        e.probe_seen(&format!("{PROBE}n"));
        e.writing("k", b("v1"));
        e.writing("k", b("v2"));
        assert_eq!(e.take("k"), Some(e.mark(b("v2"))));
    }

    #[test]
    fn the_map_stays_bounded_when_every_registration_is_recent() {
        let e = Echoes::default();
        e.reset("n");
        e.probe_seen(&format!("{PROBE}n"));
        for i in 0..3 * PRUNE_AT {
            e.writing(&format!("k{i}"), b("v"));
        }
        assert!(e.pending.lock().len() <= PRUNE_AT);
        e.forget_pending();
        assert!(e.pending.lock().is_empty());
    }

    #[test]
    fn reset_forgets_registrations_and_what_was_learned() {
        let e = Echoes::default();
        e.reset("n");
        e.probe_seen(&format!("{PROBE}n"));
        e.writing("k", b("v"));
        e.reset("m");
        assert!(!e.is_on());
        assert_eq!(e.take("k"), None);
    }
}
