//! Worker-loop mode, for in-process backends (ADR 0043): one loop per concurrency slot, each
//! holding its slot's permit for its whole life, leasing one task at a time and running it
//! inline; an attempt's outcome is written together with the next lease.

use std::sync::Arc;

use tokio::task::JoinSet;
use tokio::time::Instant;

use super::runner::{Attempting, KindCache};
use super::shared::Shared;
use crate::backend::memory::{Leased, MemoryBackend};
use crate::backend::Completion;
use crate::handler::TaskContext;

/// Starts one loop per slot and keeps them running until the pool stops: a loop that panics
/// (a backend bug; attempts catch their own panics) is replaced, so the pool never quietly
/// runs with fewer loops, or none.
pub(super) async fn worker_loops(shared: Arc<Shared>) {
    let mut loops = JoinSet::new();
    for _ in 0..shared.cfg.concurrency {
        spawn_loop(&shared, &mut loops);
    }
    loop {
        tokio::select! {
            biased;
            () = shared.stop.cancelled() => break,
            Some(ended) = loops.join_next() => {
                if ended.is_err_and(|e| e.is_panic()) && !shared.stop.is_cancelled() {
                    tracing::error!("a task-queue worker loop panicked; starting another in its place");
                    spawn_loop(&shared, &mut loops);
                }
            }
        }
    }
    // Returns once every loop has stopped fetching (running attempts may still be finishing
    // inside them; shutdown waits for their permits).
    loops.detach_all();
}

fn spawn_loop(shared: &Arc<Shared>, loops: &mut JoinSet<()>) {
    // A panicked loop's permit was released when its future was dropped.
    let Ok(permit) = Arc::clone(&shared.slots).try_acquire_owned() else { return };
    let shared = Arc::clone(shared);
    loops.spawn(async move {
        match shared.queue.inner.memory.clone() {
            Some(memory) => memory_loop(&shared, &memory).await,
            None => backend_loop(&shared).await,
        }
        drop(permit);
    });
}

/// The loop on a [`MemoryBackend`], called directly: no boxed future, no vector per step, and
/// one clock reading per attempt (the end of one attempt is the lease time of the next).
async fn memory_loop(shared: &Shared, memory: &MemoryBackend) {
    let mut cache = KindCache::new();
    let mut done = None;
    let mut next = None;
    // Made outside the backend's lock (two allocations), filled by the next lease.
    let mut blank = None;
    let mut now = Instant::now();
    loop {
        if shared.stop.is_cancelled() {
            // Written on its own: no lease after the stop.
            if memory.step(done.take(), now, &mut blank, None) {
                shared.count_rejected(1);
            }
            return;
        }
        if blank.is_none() {
            blank = Some(TaskContext::blank());
        }
        if memory.step(done.take(), now, &mut blank, Some(&mut next)) {
            shared.count_rejected(1);
        }
        match next.take() {
            Some(Leased { ctx, span, waited }) => {
                let attempt = Attempting::begin(shared, ctx, span, waited, now, &mut cache);
                let (completion, payload, end) = attempt.run(shared).await;
                done = completion.map(|c| (c, payload));
                now = end;
            }
            None => {
                tokio::select! {
                    () = shared.stop.cancelled() => return,
                    () = memory.wait_for_task(shared.cfg.poll_interval) => {}
                }
                now = Instant::now();
            }
        }
    }
}

/// The loop on any other in-process backend, through the [`Backend`](crate::Backend) trait.
async fn backend_loop(shared: &Shared) {
    let backend = Arc::clone(shared.queue.backend());
    let mut cache = KindCache::new();
    let mut done: Option<Completion> = None;
    loop {
        if shared.stop.is_cancelled() {
            write_last(shared, done).await;
            return;
        }
        let fetched = match done.take() {
            None => backend.fetch(&shared.cfg.worker_id, 1, shared.cfg.lease).await,
            Some(c) => match backend.complete_and_fetch(c, &shared.cfg.worker_id, 1, shared.cfg.lease).await {
                Ok((rejected, tasks)) => {
                    shared.count_rejected(rejected.len());
                    Ok(tasks)
                }
                Err(e) => Err(e),
            },
        };
        match fetched {
            Ok(tasks) if tasks.is_empty() => {
                tokio::select! {
                    () = shared.stop.cancelled() => return,
                    () = backend.wait_for_work(shared.cfg.poll_interval) => {}
                }
            }
            Ok(tasks) => {
                for task in tasks {
                    let (c, ..) = Attempting::start(shared, task, Instant::now(), &mut cache).run(shared).await;
                    if let Some(old) = std::mem::replace(&mut done, c) {
                        // Only with a backend that returned more than asked for.
                        write_last(shared, Some(old)).await;
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "fetching tasks failed; backing off");
                tokio::select! {
                    () = shared.stop.cancelled() => return,
                    () = tokio::time::sleep(shared.cfg.poll_interval) => {}
                }
            }
        }
    }
}

/// Writes an outcome on its own (at stop, or one a loop could not pair with a lease).
async fn write_last(shared: &Shared, done: Option<Completion>) {
    let Some(c) = done else { return };
    match shared.queue.backend().complete(vec![c]).await {
        Ok(rejected) => shared.count_rejected(rejected.len()),
        Err(e) => tracing::warn!(error = %e, "writing a task outcome failed"),
    }
}
