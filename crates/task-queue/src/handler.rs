//! What runs a task: the [`TaskHandler`] trait and the context it gets.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use tokio_util::sync::CancellationToken;

use crate::backend::LeasedTask;
use crate::backoff::BackoffPolicy;
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
    /// `None` only in a blank context (see [`TaskContext::blank`]), never in one a handler sees.
    kind: Option<Arc<str>>,
    payload: Option<Arc<[u8]>>,
    priority: Priority,
    attempt: u32,
    max_attempts: u32,
    fence: i64,
    cancel: CancellationToken,
    /// What the runner needs once the attempt ends, kept here so that the future carrying the
    /// attempt stays small.
    backoff: BackoffPolicy,
    timeout: Option<Duration>,
    /// Set when the handler already wrote the task's completion itself (in its transaction).
    settled: AtomicBool,
}

/// The fields of a lease, as a backend hands them out: a [`LeasedTask`] without its
/// cancellation token (which the taker of the lease provides).
#[derive(Debug)]
pub(crate) struct Lease {
    pub(crate) id: TaskId,
    pub(crate) kind: Arc<str>,
    pub(crate) payload: Arc<[u8]>,
    pub(crate) priority: Priority,
    pub(crate) attempt: u32,
    pub(crate) max_attempts: u32,
    pub(crate) backoff: BackoffPolicy,
    pub(crate) timeout: Option<Duration>,
    pub(crate) fence: i64,
    pub(crate) span: Option<tracing::Span>,
    pub(crate) waited: Duration,
}

impl Lease {
    /// The lease as a [`LeasedTask`] with `cancel` as its token.
    pub(crate) fn into_task(self, cancel: CancellationToken) -> LeasedTask {
        let Self { id, kind, payload, priority, attempt, max_attempts, backoff, timeout, fence, span, waited } = self;
        LeasedTask { id, kind, payload, priority, attempt, max_attempts, backoff, timeout, fence, cancel, span, waited }
    }
}

impl TaskContext {
    /// Takes the leased task's kind, payload and cancellation token by move: each clone of
    /// them is an atomic on a cache line every worker thread shares.
    pub(crate) fn new(task: LeasedTask) -> Self {
        Self {
            inner: Arc::new(ContextInner {
                id: task.id,
                kind: Some(task.kind),
                payload: Some(task.payload),
                priority: task.priority,
                attempt: task.attempt,
                max_attempts: task.max_attempts,
                fence: task.fence,
                cancel: task.cancel,
                backoff: task.backoff,
                timeout: task.timeout,
                settled: AtomicBool::new(false),
            }),
        }
    }

    /// A context with its own cancellation token and nothing else yet: made before a backend's
    /// lock is taken (the allocations happen outside it), then [filled](Self::fill) under it.
    pub(crate) fn blank() -> Self {
        Self {
            inner: Arc::new(ContextInner {
                id: TaskId(0),
                kind: None,
                payload: None,
                priority: Priority::Normal,
                attempt: 0,
                max_attempts: 0,
                fence: 0,
                cancel: CancellationToken::new(),
                backoff: BackoffPolicy::default(),
                timeout: None,
                settled: AtomicBool::new(false),
            }),
        }
    }

    /// This blank context (or a new one, should it be shared already) with `lease`'s fields;
    /// returns it with the lease's span and wait, which the context does not keep.
    pub(crate) fn fill(mut self, lease: Lease) -> (Self, Option<tracing::Span>, Duration) {
        let Lease { id, kind, payload, priority, attempt, max_attempts, backoff, timeout, fence, span, waited } = lease;
        let Some(inner) = Arc::get_mut(&mut self.inner) else {
            let task = LeasedTask {
                id,
                kind,
                payload,
                priority,
                attempt,
                max_attempts,
                backoff,
                timeout,
                fence,
                cancel: CancellationToken::new(),
                span: None,
                waited,
            };
            return (Self::new(task), span, waited);
        };
        inner.id = id;
        inner.kind = Some(kind);
        inner.payload = Some(payload);
        inner.priority = priority;
        inner.attempt = attempt;
        inner.max_attempts = max_attempts;
        inner.fence = fence;
        inner.backoff = backoff;
        inner.timeout = timeout;
        (self, span, waited)
    }

    pub(crate) fn is_settled(&self) -> bool {
        self.inner.settled.load(Ordering::Acquire)
    }

    /// The kind itself (shared), to compare with a cached one by pointer.
    pub(crate) fn kind_arc(&self) -> Option<&Arc<str>> {
        self.inner.kind.as_ref()
    }

    /// The payload itself (shared), for handing it back to the backend with a retry.
    pub(crate) fn payload_arc(&self) -> Option<Arc<[u8]>> {
        self.inner.payload.clone()
    }

    pub(crate) fn backoff(&self) -> &BackoffPolicy {
        &self.inner.backoff
    }

    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.inner.timeout
    }

    /// The task.
    #[must_use]
    pub fn id(&self) -> TaskId {
        self.inner.id
    }

    /// Its kind.
    #[must_use]
    pub fn kind(&self) -> &str {
        self.inner.kind.as_deref().unwrap_or_default()
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
        self.inner.payload.as_deref().unwrap_or_default()
    }

    /// The payload decoded as `T`.
    ///
    /// # Errors
    ///
    /// [`TaskError::Permanent`] when it does not decode: retrying cannot help, so the task is
    /// dead-lettered with the decoder's message.
    pub fn payload<T: DeserializeOwned>(&self) -> Result<T, TaskError> {
        serde_json::from_slice(self.payload_bytes())
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
