#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

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
mod status;
mod striped;
mod task;

pub use aging::Aging;
pub use backend::memory::{MemoryBackend, MemoryConfig};
#[cfg(feature = "postgres")]
pub use backend::postgres;
pub use backend::{Backend, Completion, HeartbeatReply, LeasedTask, Outcome, WhenFull};
pub use backoff::{Backoff, BackoffPolicy};
pub use error::{ConfigError, QueueError, TaskError};
pub use handler::{handler_fn, FnHandler, TaskContext, TaskHandler};
pub use limits::{DEFAULT_MAX_PAYLOAD_BYTES, MAX_DELAY, MAX_ERROR_LEN, MAX_KIND_LEN};
pub use pool::{PoolConfig, ShutdownReport, WorkerPool, WorkerPoolBuilder};
pub use priority::Priority;
pub use queue::{DepthByPriority, LatencySummary, QueueStats, TaskQueue, TaskQueueBuilder};
pub use status::{CancelOutcome, TaskInfo, TaskState};
pub use task::{Task, TaskId};
