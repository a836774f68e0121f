//! The simulated server: a FIFO queue dispatched to `workers` slots.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

pub(crate) struct Job {
    pub(crate) service: Duration,
    /// Whether the job's time counts in [`Busy`] (its request arrived after the warm-up).
    pub(crate) counted: bool,
    pub(crate) done: oneshot::Sender<()>,
}

/// What the server's slots did for counted jobs: jobs run and the time they took, measured
/// around the handler (in real time a sleep wakes on the timer's next tick, so this is more
/// than the drawn service time).
#[derive(Debug, Default)]
pub(crate) struct Busy {
    pub(crate) jobs: AtomicU64,
    pub(crate) nanos: AtomicU64,
}

/// Starts the server: a FIFO queue dispatched to `workers` slots. Returns the queue's sender.
pub(crate) fn spawn(workers: usize, busy: Arc<Busy>) -> mpsc::UnboundedSender<Job> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    let slots = Arc::new(Semaphore::new(workers));
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else { return };
            let busy = Arc::clone(&busy);
            tokio::spawn(async move {
                let start = Instant::now();
                tokio::time::sleep(job.service).await;
                if job.counted {
                    let took = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    busy.nanos.fetch_add(took, Ordering::Relaxed);
                    busy.jobs.fetch_add(1, Ordering::Relaxed);
                }
                let _ = job.done.send(());
                drop(slot);
            });
        }
    });
    tx
}
