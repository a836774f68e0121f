//! Retries the invalidations L2 has not confirmed (see `pending`) until it does.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::handle::Inner;
use crate::l2::Guarded;

/// Pause between attempts while something is pending (an open breaker answers at once).
const RETRY: Duration = Duration::from_millis(50);
/// Keys invalidated per L2 call.
const BATCH: usize = 100;
/// How long one pending prefix invalidation (a scan of the keyspace) may take.
const PREFIX_TIMEOUT: Duration = Duration::from_secs(30);

/// The drain task of one cache: sleeps until something is pending, then retries every
/// [`RETRY`] until L2 confirms everything. Holds the cache only while it works, so dropping
/// the cache ends it.
pub(crate) async fn run<V: Clone + Send + Sync + 'static>(inner: Weak<Inner<V>>, added: Arc<Notify>) {
    loop {
        let notified = added.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let Some(cache) = inner.upgrade() else { return };
        let left = cache.drain_once().await;
        drop(cache);
        if left == 0 {
            notified.await;
        } else {
            tokio::time::sleep(RETRY).await;
        }
    }
}

impl<V: Clone + Send + Sync + 'static> Inner<V> {
    /// One attempt: one batch of keys through the guard (it doubles as the breaker's probe
    /// when the breaker waits for one), then, if Redis answered, every pending prefix. Returns
    /// how many remain.
    pub(crate) async fn drain_once(&self) -> usize {
        let Some(l2) = &self.l2 else { return 0 };
        let batch = self.pending.batch(BATCH);
        let answered = if batch.keys.is_empty() {
            // A cheap read of a reserved key: is Redis there?
            let probe = crate::l2::RESERVED_KEY_PREFIX;
            matches!(l2.call("write_token", |t| t.write_token(probe)).await, Guarded::Done(_))
        } else {
            let keys: Vec<String> = batch.keys.iter().map(|(k, _)| k.clone()).collect();
            let done = matches!(l2.call("invalidate", |t| t.invalidate(&keys)).await, Guarded::Done(()));
            if done {
                self.pending.confirmed_keys(&batch.keys);
                self.counters.pending_confirmed.add_n(batch.keys.len() as u64);
            }
            done
        };
        if answered {
            for (prefix, seq) in &batch.prefixes {
                // A prefix scans the whole keyspace: not within `l2_timeout`, and not a
                // breaker failure when slow, or a large keyspace would never recover.
                let scan = tokio::time::timeout(PREFIX_TIMEOUT, l2.tier.invalidate_prefix(prefix)).await;
                if matches!(scan, Ok(Ok(_))) {
                    self.pending.confirmed_prefix(prefix, *seq);
                    self.counters.pending_confirmed.add();
                } else {
                    break;
                }
            }
        }
        let left = self.pending.len();
        self.counters.pending_gauge.set(left as f64);
        left
    }
}
