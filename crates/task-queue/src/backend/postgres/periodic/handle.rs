//! [`PeriodicHandle`]: a running scheduler, to ask whether it leads and to stop it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// A running scheduler.
#[derive(Debug)]
pub struct PeriodicHandle {
    pub(super) leader: Arc<AtomicBool>,
    pub(super) stop: CancellationToken,
    pub(super) join: JoinHandle<()>,
}

impl PeriodicHandle {
    /// True while this instance holds the leader lock.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.leader.load(Ordering::Acquire)
    }

    /// Stops scheduling and releases the lock (its connection closes).
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.join.await;
    }
}
