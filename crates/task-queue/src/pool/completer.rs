//! Writes outcomes in batches, so that a busy pool does one write per batch, not per task.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::shared::Shared;
use crate::backend::Completion;

/// Runs until every sender is gone and the channel is drained.
pub(super) async fn run(shared: Arc<Shared>, mut rx: mpsc::UnboundedReceiver<Completion>) {
    let max = shared.cfg.completion_batch.max(1);
    let mut buf = Vec::with_capacity(max);
    while rx.recv_many(&mut buf, max).await > 0 {
        let batch = std::mem::replace(&mut buf, Vec::with_capacity(max));
        write(&shared, batch).await;
    }
}

async fn write(shared: &Shared, batch: Vec<Completion>) {
    let backend = shared.queue.backend();
    let mut delay = Duration::from_millis(50);
    for attempt in 0..8 {
        match backend.complete(batch.clone()).await {
            Ok(rejected) => {
                shared.count_rejected(rejected.len());
                if !rejected.is_empty() {
                    tracing::info!(n = rejected.len(), "outcome writes rejected: the lease moved on (fencing token)");
                }
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, attempt, "writing task outcomes failed; retrying");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(2));
            }
        }
    }
    // The leases will expire and the tasks will be rescued: at-least-once, never lost.
    tracing::error!(n = batch.len(), "giving up writing task outcomes; their leases will expire");
}
