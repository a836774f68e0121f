//! Invalidations that L2 has not confirmed yet ("applied locally, pending remotely").
//!
//! A `set`, `invalidate` or `invalidate_prefix` whose L2 call failed (Redis down, paused, a
//! blip, the breaker open) is applied to this instance's L1 and kept here. A background task
//! ([`crate::cache`]'s drain) retries each as an invalidation of L2 until Redis confirms it:
//! deleting is always safe, whatever was written since. Until then this instance reads a
//! pending key from the loader, never from L2, which may still hold the value from before.
//! The set is bounded: past [`MAX_KEYS`] keys it becomes one invalidation of the whole
//! cache.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::Notify;

/// Pending keys kept one by one; beyond this the whole cache is invalidated on recovery.
pub(crate) const MAX_KEYS: usize = 10_000;
/// Pending prefixes kept one by one (each costs a scan on every L2 read while pending);
/// beyond this, too, the whole cache is invalidated on recovery.
pub(crate) const MAX_PREFIXES: usize = 64;

#[derive(Debug, Default)]
struct Set {
    /// Key → sequence number of its latest registration.
    keys: HashMap<String, u64>,
    prefixes: HashMap<String, u64>,
    seq: u64,
}

impl Set {
    fn len(&self) -> usize {
        self.keys.len() + self.prefixes.len()
    }
}

/// A batch taken for one drain attempt; confirmed entries are removed only if not
/// registered again meanwhile.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) keys: Vec<(String, u64)>,
    pub(crate) prefixes: Vec<(String, u64)>,
}

#[derive(Debug, Default)]
pub(crate) struct Pending {
    /// Entries pending; read without the lock on every L2 read.
    count: AtomicUsize,
    set: Mutex<Set>,
    /// Woken when something is added (shared with the drain task, which holds no cache).
    pub(crate) added: Arc<Notify>,
}

impl Pending {
    pub(crate) fn add_key(&self, key: &str) {
        let mut s = self.set.lock();
        s.seq += 1;
        let seq = s.seq;
        if s.keys.len() >= MAX_KEYS && !s.keys.contains_key(key) {
            // Too many to track one by one: invalidate everything instead.
            s.keys.clear();
            s.prefixes.clear();
            s.prefixes.insert(String::new(), seq);
        } else if !s.prefixes.contains_key("") {
            s.keys.insert(key.to_owned(), seq);
        }
        self.count.store(s.len(), Ordering::Release);
        drop(s);
        self.added.notify_one();
    }

    pub(crate) fn add_prefix(&self, prefix: &str) {
        let mut s = self.set.lock();
        s.seq += 1;
        let seq = s.seq;
        if s.prefixes.len() >= MAX_PREFIXES && !s.prefixes.contains_key(prefix) {
            s.keys.clear();
            s.prefixes.clear();
            s.prefixes.insert(String::new(), seq);
        } else if !s.prefixes.contains_key("") {
            s.keys.retain(|k, _| !k.starts_with(prefix));
            s.prefixes.insert(prefix.to_owned(), seq);
        }
        self.count.store(s.len(), Ordering::Release);
        drop(s);
        self.added.notify_one();
    }

    /// Whether reads of `key` must bypass L2.
    #[inline]
    pub(crate) fn covers(&self, key: &str) -> bool {
        if self.count.load(Ordering::Acquire) == 0 {
            return false;
        }
        let s = self.set.lock();
        s.keys.contains_key(key) || s.prefixes.keys().any(|p| key.starts_with(p.as_str()))
    }

    pub(crate) fn len(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Up to `max` keys and every prefix, for one drain attempt.
    pub(crate) fn batch(&self, max: usize) -> Batch {
        let s = self.set.lock();
        Batch {
            keys: s.keys.iter().take(max).map(|(k, n)| (k.clone(), *n)).collect(),
            prefixes: s.prefixes.iter().map(|(k, n)| (k.clone(), *n)).collect(),
        }
    }

    /// L2 confirmed these keys' invalidation.
    pub(crate) fn confirmed_keys(&self, keys: &[(String, u64)]) {
        let mut s = self.set.lock();
        for (k, n) in keys {
            if s.keys.get(k) == Some(n) {
                s.keys.remove(k);
            }
        }
        self.count.store(s.len(), Ordering::Release);
    }

    /// L2 confirmed this prefix invalidation.
    pub(crate) fn confirmed_prefix(&self, prefix: &str, seq: u64) {
        let mut s = self.set.lock();
        if s.prefixes.get(prefix) == Some(&seq) {
            s.prefixes.remove(prefix);
        }
        self.count.store(s.len(), Ordering::Release);
    }

    /// A later write of `key` reached L2: its pending invalidation is superseded.
    pub(crate) fn superseded(&self, key: &str) {
        if self.count.load(Ordering::Acquire) == 0 {
            return;
        }
        let mut s = self.set.lock();
        s.keys.remove(key);
        self.count.store(s.len(), Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_prefixes_cover_reads_until_confirmed() {
        let p = Pending::default();
        assert!(!p.covers("a"));
        p.add_key("a");
        p.add_prefix("user:");
        assert!(p.covers("a") && p.covers("user:7") && !p.covers("b"));
        let b = p.batch(10);
        p.add_key("a"); // registered again while the batch ran: stays pending
        p.confirmed_keys(&b.keys);
        assert!(p.covers("a"));
        let (prefix, seq) = b.prefixes[0].clone();
        p.confirmed_prefix(&prefix, seq);
        assert!(!p.covers("user:7"));
        p.confirmed_keys(&p.batch(10).keys);
        assert!(!p.covers("a"));
        assert_eq!(p.len(), 0);
    }

    #[test]
    fn too_many_keys_become_one_invalidation_of_everything() {
        let p = Pending::default();
        for i in 0..=MAX_KEYS {
            p.add_key(&format!("k{i}"));
        }
        assert_eq!(p.len(), 1);
        assert!(p.covers("anything"));
        let b = p.batch(10);
        assert_eq!(b.prefixes.len(), 1);
        assert!(b.prefixes[0].0.is_empty());
    }

    #[test]
    fn a_prefix_absorbs_its_keys_and_a_later_write_supersedes_a_key() {
        let p = Pending::default();
        p.add_key("user:1");
        p.add_key("x");
        p.add_prefix("user:");
        assert_eq!(p.len(), 2);
        p.superseded("x");
        assert!(!p.covers("x"));
        assert!(p.covers("user:1"));
    }
}
