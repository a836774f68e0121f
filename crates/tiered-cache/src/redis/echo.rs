//! Own writes echoed back as invalidations.
//!
//! Redis 7.0 ignores `NOLOOP` for keys a Lua script writes in `BCAST` mode (the script's
//! client, not ours, is recorded as the writer; redis/redis#11052 fixed only the non-BCAST
//! path). A load's conditional write is a script, so without this every load or refresh
//! came back as an invalidation that dropped the fresh value from the writer's own L1.
//!
//! Whether the server does this is learned, not assumed: each time the invalidation channel
//! is set up, a script writes a probe key; if its invalidation arrives, the server echoes.
//! Only then does a conditional write register the echo it expects, and the listener skips
//! one invalidation of that key per registration. Skipping is safe in either order: if
//! another instance's invalidation of the key arrives first and is skipped, our own echo
//! (sent after it, as Redis sends in write order) still drops the entry. Registrations are
//! cleared whenever the channel is set up again (echoes may have been lost) and ignored
//! once older than [`STALE`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// An expected echo older than this is not used: its write's echo was lost.
const STALE: Duration = Duration::from_secs(1);

/// The prefix of probe keys (after the values prefix); never a cache event.
pub(crate) const PROBE: &str = "\u{0}echo-probe:";

/// Expected echoes of this instance's scripted writes.
#[derive(Debug, Default)]
pub(crate) struct Echoes {
    /// The server echoes scripted writes (learned from the probe).
    on: AtomicBool,
    pending: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Echoes {
    /// Before a scripted write of `key`: registers the echo it will cause, when the server
    /// echoes. Returns whether it registered (pass it to [`Echoes::done`]).
    pub(crate) fn expect(&self, key: &str) -> bool {
        if !self.on.load(Ordering::Acquire) {
            return false;
        }
        let mut p = self.pending.lock();
        let e = p.entry(key.to_owned()).or_insert((0, Instant::now()));
        e.0 += 1;
        e.1 = Instant::now();
        true
    }

    /// After the write: when it wrote nothing (or failed), no echo comes; take the
    /// registration back.
    pub(crate) fn done(&self, key: &str, registered: bool, wrote: bool) {
        if registered && !wrote {
            self.take(key);
        }
    }

    /// On an invalidation of `key`: `true` when it is an expected echo (skip it).
    pub(crate) fn take(&self, key: &str) -> bool {
        let mut p = self.pending.lock();
        let Some(e) = p.get_mut(key) else { return false };
        let fresh = e.1.elapsed() < STALE;
        e.0 -= 1;
        if e.0 == 0 {
            p.remove(key);
        }
        fresh
    }

    /// The probe's echo arrived: the server echoes scripted writes.
    pub(crate) fn learned(&self) {
        self.on.store(true, Ordering::Release);
    }

    /// The channel is being set up again: echoes may have been lost, and the server may
    /// have changed; forget everything until the next probe answers.
    pub(crate) fn reset(&self) {
        self.on.store(false, Ordering::Release);
        self.pending.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_skipped_until_the_probe_answers() {
        let e = Echoes::default();
        assert!(!e.expect("k"));
        assert!(!e.take("k"));
        e.learned();
        assert!(e.expect("k"));
        assert!(e.take("k"), "the expected echo is skipped");
        assert!(!e.take("k"), "once");
    }

    #[test]
    fn a_write_that_wrote_nothing_takes_its_registration_back() {
        let e = Echoes::default();
        e.learned();
        let r = e.expect("k");
        e.done("k", r, false);
        assert!(!e.take("k"), "another instance's invalidation is not swallowed");
        let r = e.expect("k");
        e.done("k", r, true);
        assert!(e.take("k"));
    }

    #[test]
    fn reset_forgets_registrations_and_what_was_learned() {
        let e = Echoes::default();
        e.learned();
        assert!(e.expect("k"));
        e.reset();
        assert!(!e.take("k"));
        assert!(!e.expect("k"));
    }
}
