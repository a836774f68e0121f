use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Semaphore};

pub(crate) struct Job {
    pub(crate) service: Duration,
    pub(crate) done: oneshot::Sender<()>,
}

/// Starts the server: a FIFO queue dispatched to `workers` slots. Returns the queue's sender.
pub(crate) fn spawn(workers: usize) -> mpsc::UnboundedSender<Job> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    let slots = Arc::new(Semaphore::new(workers));
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            let Ok(slot) = Arc::clone(&slots).acquire_owned().await else { return };
            tokio::spawn(async move {
                tokio::time::sleep(job.service).await;
                let _ = job.done.send(());
                drop(slot);
            });
        }
    });
    tx
}
