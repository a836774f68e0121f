//! What runs a task: the [`TaskHandler`] trait and the context it gets.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::backend::LeasedTask;
use crate::error::TaskError;
use crate::priority::Priority;
use crate::task::TaskId;

/// Everything a handler knows about the attempt it runs. Cheap to clone.
#[derive(Debug, Clone)]
pub struct TaskContext {
    inner: Arc<ContextInner>,
}

#[derive(Debug)]
struct ContextInner {
    id: TaskId,
    kind: Arc<str>,
    payload: Arc<[u8]>,
    priority: Priority,
    attempt: u32,
    max_attempts: u32,
    fence: i64,
    cancel: CancellationToken,
    /// Set when the handler already wrote the task's completion itself (in its transaction).
    settled: AtomicBool,
}

impl TaskContext {
    /// Takes the leased task's kind, payload and cancellation token by move: each clone of
    /// them is an atomic on a cache line every worker thread shares.
    pub(crate) fn new(task: LeasedTask) -> Self {
        Self {
            inner: Arc::new(ContextInner {
                id: task.id,
                kind: task.kind,
                payload: task.payload,
                priority: task.priority,
                attempt: task.attempt,
                max_attempts: task.max_attempts,
                fence: task.fence,
                cancel: task.cancel,
                settled: AtomicBool::new(false),
            }),
        }
    }

    pub(crate) fn is_settled(&self) -> bool {
        self.inner.settled.load(Ordering::Acquire)
    }

    /// The task.
    #[must_use]
    pub fn id(&self) -> TaskId {
        self.inner.id
    }

    /// Its kind.
    #[must_use]
    pub fn kind(&self) -> &str {
        &self.inner.kind
    }

    /// This attempt's number, from 1.
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    /// Maximum attempts.
    #[must_use]
    pub fn max_attempts(&self) -> u32 {
        self.inner.max_attempts
    }

    /// The task's priority.
    #[must_use]
    pub fn priority(&self) -> Priority {
        self.inner.priority
    }

    /// The lease's fencing token. A handler that commits an external effect can store it with
    /// the effect, or (PostgreSQL) complete the task inside its own transaction, which checks
    /// it: a worker whose lease was taken over can then never commit.
    #[must_use]
    pub fn fence(&self) -> i64 {
        self.inner.fence
    }

    /// Fires when the task is cancelled, its lease is lost, its timeout passes or the pool
    /// shuts down past its grace period.
    #[must_use]
    pub fn cancellation(&self) -> &CancellationToken {
        &self.inner.cancel
    }

    /// Marks the attempt as already completed by the handler itself (for example inside its own
    /// database transaction), so that the pool does not write the outcome again.
    pub fn mark_settled(&self) {
        self.inner.settled.store(true, Ordering::Release);
    }

    /// The raw JSON payload.
    #[must_use]
    pub fn payload_bytes(&self) -> &[u8] {
        &self.inner.payload
    }

    /// The payload decoded as `T`.
    ///
    /// # Errors
    ///
    /// [`TaskError::Permanent`] when it does not decode: retrying cannot help, so the task is
    /// dead-lettered with the decoder's message.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, TaskError> {
        serde_json::from_slice(&self.inner.payload)
            .map_err(|e| TaskError::Permanent(format!("payload does not deserialize: {e}")))
    }
}

/// Runs tasks of one kind.
///
/// # Examples
///
/// ```
/// use perfstack_task_queue::{TaskContext, TaskError, TaskHandler};
///
/// #[derive(Debug)]
/// struct SendEmail;
///
/// #[async_trait::async_trait]
/// impl TaskHandler for SendEmail {
///     async fn run(&self, ctx: TaskContext) -> Result<(), TaskError> {
///         let to: String = ctx.payload()?;
///         if to.is_empty() {
///             return Err(TaskError::permanent("no recipient"));
///         }
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait TaskHandler: Send + Sync + std::fmt::Debug + 'static {
    /// Runs one attempt.
    async fn run(&self, ctx: TaskContext) -> Result<(), TaskError>;
}

/// A handler made from an async function of the decoded payload; see [`handler_fn`].
pub struct FnHandler<T, F> {
    f: F,
    _payload: PhantomData<fn() -> T>,
}

impl<T, F> std::fmt::Debug for FnHandler<T, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FnHandler").field("payload", &std::any::type_name::<T>()).finish()
    }
}

/// Wraps `async fn(TaskContext, T) -> Result<(), TaskError>` as a [`TaskHandler`]; the payload
/// is decoded first, and a payload that does not decode dead-letters the task.
///
/// # Examples
///
/// ```
/// use perfstack_task_queue::{handler_fn, TaskContext, TaskError};
///
/// let h = handler_fn(|_ctx: TaskContext, n: u64| async move {
///     if n == 0 { Err(TaskError::retry("not yet")) } else { Ok(()) }
/// });
/// # let _ = h;
/// ```
pub fn handler_fn<T, F, Fut>(f: F) -> FnHandler<T, F>
where
    T: DeserializeOwned + Send + 'static,
    F: Fn(TaskContext, T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), TaskError>> + Send + 'static,
{
    FnHandler { f, _payload: PhantomData }
}

#[async_trait]
impl<T, F, Fut> TaskHandler for FnHandler<T, F>
where
    T: DeserializeOwned + Send + 'static,
    F: Fn(TaskContext, T) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), TaskError>> + Send + 'static,
{
    async fn run(&self, ctx: TaskContext) -> Result<(), TaskError> {
        let payload: T = ctx.payload()?;
        (self.f)(ctx, payload).await
    }
}
