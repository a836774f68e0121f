//! The fetch loop (lease as many tasks as there are free slots) and the heartbeat loop.

use std::sync::Arc;

use tokio::sync::broadcast;

use super::runner;
use super::shared::Shared;
use crate::task::TaskId;

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
                            let _ = tx.send(crate::backend::Completion {
                                id: task.id,
                                fence: task.fence,
                                outcome: crate::backend::Outcome::Released,
                            });
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

/// Extends leases, passes on cancellation requests (pushed by the backend at once, or learnt by
/// the heartbeat) and lost leases, and rescues expired leases of dead workers.
pub(super) async fn heartbeat_loop(shared: Arc<Shared>, mut cancels: Option<broadcast::Receiver<TaskId>>) {
    let backend = Arc::clone(shared.queue.backend());
    let mut beat = tokio::time::interval(shared.cfg.heartbeat.max(std::time::Duration::from_millis(1)));
    let mut rescue = tokio::time::interval(shared.cfg.rescue_interval.max(std::time::Duration::from_millis(1)));
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
                        metrics::counter!("perfstack_task_rescued_total").increment(n);
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
