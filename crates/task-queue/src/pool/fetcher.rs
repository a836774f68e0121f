//! The fetch loop: lease as many tasks as there are free slots, and run each in its own task.

use std::sync::Arc;

use super::runner;
use super::shared::Shared;
use crate::backend::{Completion, Outcome};

/// Leases tasks while there is room, until the pool is told to stop.
pub(super) async fn fetch_loop(shared: Arc<Shared>) {
    let backend = Arc::clone(shared.queue.backend());
    loop {
        let first = tokio::select! {
            biased;
            () = shared.stop.cancelled() => return,
            p = Arc::clone(&shared.slots).acquire_owned() => match p { Ok(p) => p, Err(_) => return },
        };
        let mut permits = vec![first];
        while permits.len() < shared.cfg.fetch_batch {
            match Arc::clone(&shared.slots).try_acquire_owned() {
                Ok(p) => permits.push(p),
                Err(_) => break,
            }
        }
        match backend.fetch(&shared.cfg.worker_id, permits.len(), shared.cfg.lease).await {
            Ok(tasks) if tasks.is_empty() => {
                drop(permits);
                tokio::select! {
                    () = shared.stop.cancelled() => return,
                    () = backend.wait_for_work(shared.cfg.poll_interval) => {}
                }
            }
            Ok(tasks) => {
                for (task, permit) in tasks.into_iter().zip(permits) {
                    if shared.stop.is_cancelled() {
                        // Leased after the stop: hand it back without running it.
                        if let Some(tx) = shared.sender() {
                            let _ = tx.send(Completion { id: task.id, fence: task.fence, outcome: Outcome::Released });
                        }
                        continue;
                    }
                    runner::spawn(&shared, task, permit);
                }
            }
            Err(e) => {
                drop(permits);
                tracing::warn!(error = %e, "fetching tasks failed; backing off");
                tokio::select! {
                    () = shared.stop.cancelled() => return,
                    () = tokio::time::sleep(shared.cfg.poll_interval) => {}
                }
            }
        }
    }
}
