//! The task model: what a caller submits.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backoff::BackoffPolicy;
use crate::error::QueueError;
use crate::limits::{is_name, MAX_KIND_LEN};
use crate::priority::Priority;

/// Identifies a task within its backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TaskId(pub i64);

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A unit of work to submit: a kind (which handler runs it), a JSON payload and the policy that
/// governs its retries.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_task_queue::{Priority, Task};
///
/// let task = Task::new("email.send", &serde_json::json!({ "to": "a@example.com" }))
///     .unwrap()
///     .priority(Priority::High)
///     .max_attempts(5)
///     .timeout(Duration::from_secs(30))
///     .delay(Duration::from_secs(10))
///     .unique_key("welcome:a@example.com")
///     .tag("onboarding");
/// assert_eq!(task.kind(), "email.send");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct Task {
    pub(crate) kind: Arc<str>,
    pub(crate) payload: Arc<[u8]>,
    pub(crate) priority: Priority,
    pub(crate) max_attempts: u32,
    pub(crate) backoff: BackoffPolicy,
    pub(crate) timeout: Option<Duration>,
    pub(crate) delay: Duration,
    pub(crate) unique_key: Option<String>,
    pub(crate) tags: Vec<String>,
}

impl Task {
    /// A task of `kind` whose payload is `payload` serialised as JSON. Defaults: `Normal`
    /// priority, 3 attempts, exponential backoff from 1 s to 10 min, no timeout, ready now.
    ///
    /// # Errors
    ///
    /// [`QueueError::Payload`] when the payload does not serialise.
    pub fn new<T: Serialize + ?Sized>(kind: impl Into<String>, payload: &T) -> Result<Self, QueueError> {
        let payload = serde_json::to_vec(payload).map_err(|e| QueueError::Payload(e.to_string()))?;
        Ok(Self::from_json_bytes(kind, payload))
    }

    /// A task whose payload is already JSON text. The queue checks its size at submit; a
    /// payload that is not valid JSON is dead-lettered by the handler that cannot read it.
    pub fn from_json_bytes(kind: impl Into<String>, payload: Vec<u8>) -> Self {
        Self {
            kind: Arc::from(kind.into()),
            payload: Arc::from(payload),
            priority: Priority::Normal,
            max_attempts: 3,
            backoff: BackoffPolicy::default(),
            timeout: None,
            delay: Duration::ZERO,
            unique_key: None,
            tags: Vec::new(),
        }
    }

    /// Sets the priority.
    pub fn priority(mut self, p: Priority) -> Self {
        self.priority = p;
        self
    }

    /// How many times the task may run in total (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The retry schedule.
    pub fn backoff(mut self, b: BackoffPolicy) -> Self {
        self.backoff = b;
        self
    }

    /// Each attempt is cancelled and counted as failed after `t`. A timeout too long for the
    /// clock to represent (such as `Duration::MAX`) means no timeout.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = Some(t);
        self
    }

    /// Not before `d` from now (a delayed task). At most [`MAX_DELAY`](crate::MAX_DELAY)
    /// (100 years): a longer delay, up to `Duration::MAX`, is clamped to it.
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = crate::limits::clamp_delay(d);
        self
    }

    /// While a task with this key is pending or running, another submit with the same key is
    /// refused with [`QueueError::Duplicate`].
    pub fn unique_key(mut self, key: impl Into<String>) -> Self {
        self.unique_key = Some(key.into());
        self
    }

    /// Adds a free-form tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tags.push(tag.into());
        self
    }

    /// The kind.
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// The payload as JSON bytes.
    #[must_use]
    pub fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }

    /// The priority.
    #[must_use]
    pub fn get_priority(&self) -> Priority {
        self.priority
    }

    /// The submit-time checks, the same in every backend: the kind (1 to
    /// [`MAX_KIND_LEN`](crate::MAX_KIND_LEN) bytes, no NUL, the rule of a pool's handler kinds)
    /// and the payload's size.
    pub(crate) fn check(&self, max_payload: usize) -> Result<(), QueueError> {
        if !is_name(&self.kind, MAX_KIND_LEN) {
            return Err(QueueError::InvalidKind(self.kind.chars().take(MAX_KIND_LEN).collect()));
        }
        if self.payload.len() > max_payload {
            return Err(QueueError::PayloadTooLarge { size: self.payload.len(), limit: max_payload });
        }
        Ok(())
    }
}
