//! Priority task processing with retries, leases and a clear lifecycle: in memory for one
//! process, durable on PostgreSQL when several instances share a queue.
//!
//! - [`Task`]: a kind, a JSON payload, a [`Priority`], max attempts, a [`BackoffPolicy`], a
//!   timeout, a delay, an optional unique key and tags.
//! - [`TaskQueue`]: `submit` → [`TaskId`], `status`, `cancel`, `stats`.
//! - [`WorkerPool`]: handlers per kind ([`TaskHandler`], [`handler_fn`]), bounded concurrency,
//!   batched fetch and batched outcome writes, heartbeated leases with fencing tokens, panics
//!   caught, timeouts, graceful shutdown, the submitting `tracing` span as the task's parent.
//! - [`Backend`]: [`MemoryBackend`] (bounded, backpressure by waiting or refusing) and, with the
//!   `postgres` feature, `PostgresBackend` (migrations, `FOR UPDATE SKIP LOCKED` batches,
//!   LISTEN/NOTIFY for pickup and for prompt cancellation of running tasks, leases, enqueue
//!   inside the caller's transaction, an optional bound on pending tasks with the same
//!   [`WhenFull`] policy, retention), and
//!   `postgres::Periodic` for periodic tasks (fixed period or cron expression) with one leader.
//!
//! On an in-process backend a pool runs one worker loop per slot; on PostgreSQL one fetcher
//! leases batches for all slots and outcomes are written in batches.
//!
//! Ordering is priority **with aging** ([`Aging`]): a task's sort time is its ready time minus
//! one step per level, so a `Critical` flood can delay a `Low` task by at most four steps, never
//! starve it.
//!
//! Bad settings are refused, never a panic: a pool's settings are checked when it starts
//! ([`PoolConfig::validate`], [`QueueError::InvalidConfig`]); delays and retry delays longer
//! than [`MAX_DELAY`] (100 years) are clamped to it, and a timeout no clock can add is no
//! timeout; error and panic messages are stored without NUL bytes and cut at
//! [`MAX_ERROR_LEN`]. On PostgreSQL an outcome the database still refuses is split out of its
//! batch and its task dead-lettered with the reason, so it never fails the others.
//!
//! # Quick start
//!
//! ```
//! use perfstack_task_queue::{handler_fn, Priority, Task, TaskContext, TaskQueue, TaskState, WorkerPool};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let queue = TaskQueue::memory();
//! let pool = WorkerPool::builder(&queue)
//!     .concurrency(8)
//!     .handler("resize", handler_fn(|ctx: TaskContext, width: u32| async move {
//!         tracing::info!(id = %ctx.id(), width, "resizing");
//!         Ok(())
//!     }))
//!     .start()?;
//!
//! let id = queue.submit(Task::new("resize", &640)?.priority(Priority::High)).await?;
//! while queue.status(id).await?.map(|s| s.state) != Some(TaskState::Completed) {
//!     tokio::task::yield_now().await;
//! }
//! pool.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! # Feature flags
//!
//! - `postgres` (off by default): the durable [`Backend`] on PostgreSQL through
//!   `tokio-postgres` and `deadpool-postgres`, and periodic tasks with an advisory-lock leader.
//!
//! # Metrics
//!
//! | name | kind | labels |
//! |---|---|---|
//! | `perfstack_task_outcomes_total` | counter | `kind`, `outcome` (completed, retried, dead, cancelled, released) |
//! | `perfstack_task_duration_seconds` | histogram | `kind`, `outcome` |
//! | `perfstack_task_wait_seconds` | histogram | `priority` |
//! | `perfstack_task_queue_depth` | gauge (set by `stats()`) | `priority` |
//! | `perfstack_task_refused_total` | counter | — |
//! | `perfstack_task_stale_completions_total` | counter | — |
//! | `perfstack_task_rescued_total` | counter | — |
//! | `perfstack_task_periodic_submitted_total` | counter | `schedule` (`postgres` feature) |

mod aging;
pub mod backend;
mod backoff;
mod error;
mod handler;
mod id_hash;
mod limits;
mod pool;
mod priority;
mod queue;
mod stats;
mod status;
mod striped;
mod task;

#[cfg(feature = "postgres")]
pub mod postgres;

pub use aging::Aging;
pub use backend::memory::{MemoryBackend, MemoryConfig, WhenFull};
pub use backend::{Backend, Completion, HeartbeatReply, LeasedTask, Outcome};
pub use backoff::{Backoff, BackoffPolicy};
pub use error::{QueueError, TaskError};
pub use handler::{handler_fn, FnHandler, TaskContext, TaskHandler};
pub use limits::{MAX_DELAY, MAX_ERROR_LEN};
pub use pool::{PoolConfig, ShutdownReport, WorkerPool, WorkerPoolBuilder};
pub use priority::Priority;
pub use queue::{TaskQueue, DEFAULT_MAX_PAYLOAD_BYTES, MAX_KIND_LEN};
pub use stats::{DepthByPriority, LatencySummary, Stats};
pub use status::{CancelOutcome, TaskInfo, TaskState};
pub use task::{Task, TaskId};
