//! The heartbeat loop: extends the leases of running tasks, passes on cancellation requests
//! and lost leases to their handlers, and rescues the expired leases of dead workers.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use super::shared::Shared;
use crate::task::TaskId;

/// Extends leases, passes on cancellation requests (pushed by the backend at once, or learnt by
/// the heartbeat) and lost leases, and rescues expired leases of dead workers.
pub(super) async fn run(shared: Arc<Shared>, mut cancels: Option<broadcast::Receiver<TaskId>>) {
    let backend = Arc::clone(shared.queue.backend());
    let mut beat = tokio::time::interval(shared.cfg.heartbeat.max(Duration::from_millis(1)));
    let mut rescue = tokio::time::interval(shared.cfg.rescue_interval.max(Duration::from_millis(1)));
    beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    rescue.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = shared.kill.cancelled() => return,
            id = next_cancel(&mut cancels) => {
                if let Some((_, token)) = shared.running.lock().get(&id) {
                    token.cancel();
                }
            }
            _ = beat.tick() => {
                let leases: Vec<_> = shared.running.lock().iter().map(|(id, (f, _))| (*id, *f)).collect();
                if leases.is_empty() {
                    continue;
                }
                match backend.heartbeat(&leases, shared.cfg.lease).await {
                    Ok(reply) => {
                        let running = shared.running.lock();
                        for id in reply.lost.iter().chain(&reply.cancel_requested) {
                            if let Some((_, token)) = running.get(id) {
                                token.cancel();
                            }
                        }
                        if !reply.lost.is_empty() {
                            tracing::warn!(n = reply.lost.len(), "leases lost; their handlers are cancelled");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                }
            }
            _ = rescue.tick() => {
                match backend.rescue_expired().await {
                    Ok(0) => {}
                    Ok(n) => {
                        shared.metrics.rescued.increment(n);
                        tracing::info!(n, "rescued tasks whose lease expired");
                    }
                    Err(e) => tracing::warn!(error = %e, "rescuing expired leases failed"),
                }
            }
        }
    }
}

/// The next pushed cancel request; never resolves without a stream. A lagging receiver skips
/// what it missed (the heartbeat catches those).
async fn next_cancel(cancels: &mut Option<broadcast::Receiver<TaskId>>) -> TaskId {
    while let Some(rx) = cancels {
        match rx.recv().await {
            Ok(id) => return id,
            Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => *cancels = None,
        }
    }
    std::future::pending().await
}
