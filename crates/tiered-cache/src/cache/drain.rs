//! Retries the invalidations L2 has not confirmed (see `pending`) until it does.

use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::Inner;
use crate::guard::Guarded;

/// Pause between attempts while something is pending (an open breaker answers at once).
const RETRY: Duration = Duration::from_millis(50);
/// Keys invalidated per L2 call.
const BATCH: usize = 100;

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
    /// One attempt: every pending prefix, then one batch of keys. Returns how many remain.
    pub(crate) async fn drain_once(&self) -> usize {
        let Some(l2) = &self.l2 else { return 0 };
        let batch = self.pending.batch(BATCH);
        let mut failed = false;
        for (prefix, seq) in &batch.prefixes {
            match l2.call("invalidate_prefix", |t| t.invalidate_prefix(prefix)).await {
                Guarded::Done(_) => {
                    self.pending.confirmed_prefix(prefix, *seq);
                    self.counters.pending_confirmed.add();
                }
                _ => {
                    failed = true;
                    break;
                }
            }
        }
        if !failed && !batch.keys.is_empty() {
            let keys: Vec<String> = batch.keys.iter().map(|(k, _)| k.clone()).collect();
            if let Guarded::Done(()) = l2.call("invalidate", |t| t.invalidate(&keys)).await {
                self.pending.confirmed_keys(&batch.keys);
                self.counters.pending_confirmed.add_n(batch.keys.len() as u64);
            }
        }
        let left = self.pending.len();
        self.counters.pending_gauge.set(left as f64);
        left
    }
}
