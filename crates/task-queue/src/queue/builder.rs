//! Construction of a task queue: its backend, its name and its payload limit.

use std::sync::Arc;

use super::handle::TaskQueue;
use crate::backend::Backend;
use crate::limits::DEFAULT_MAX_PAYLOAD_BYTES;

/// Builds a [`TaskQueue`].
///
/// # Examples
///
/// ```
/// use perfstack_task_queue::{MemoryBackend, TaskQueue};
///
/// let queue = TaskQueue::builder(MemoryBackend::default()).name("emails").max_payload_bytes(64 * 1024).build();
/// assert_eq!(queue.name(), "emails");
/// ```
#[must_use]
#[derive(Debug)]
pub struct TaskQueueBuilder {
    backend: Arc<dyn Backend>,
    name: Arc<str>,
    max_payload_bytes: usize,
}

impl TaskQueueBuilder {
    pub(super) fn new(backend: Arc<dyn Backend>) -> Self {
        Self { backend, name: Arc::from("default"), max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES }
    }

    /// The queue's name: the label `name` on its metrics and on the metrics of the pools that
    /// run its tasks. Default `"default"`.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Refuses payloads larger than this many bytes at submit
    /// ([`QueueError::PayloadTooLarge`](crate::QueueError::PayloadTooLarge)). Default
    /// [`DEFAULT_MAX_PAYLOAD_BYTES`] (256 KiB).
    pub fn max_payload_bytes(mut self, n: usize) -> Self {
        self.max_payload_bytes = n;
        self
    }

    /// The queue. Nothing here can fail: any name and any limit work.
    pub fn build(self) -> TaskQueue {
        TaskQueue::assemble(self.backend, self.name, self.max_payload_bytes)
    }
}
