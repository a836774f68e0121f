//! Errors: a setting that cannot work ([`ConfigError`]), what can go wrong when talking to the
//! queue ([`QueueError`]), and how a handler reports a failed attempt ([`TaskError`]).

use std::time::Duration;

use crate::task::TaskId;

/// A setting that cannot work, refused when a pool starts
/// ([`WorkerPoolBuilder::start`](crate::WorkerPoolBuilder::start),
/// [`PoolConfig::validate`](crate::PoolConfig::validate)), when a PostgreSQL backend connects
/// (`PostgresConfig::validate`, wrapped in [`QueueError::Config`]) or when a cron expression is
/// parsed. The message names the setting.
///
/// # Examples
///
/// ```
/// use perfstack_task_queue::{ConfigError, PoolConfig};
///
/// let err = PoolConfig { concurrency: 0, ..PoolConfig::default() }.validate().unwrap_err();
/// assert_eq!(err, ConfigError::Zero { name: "concurrency" });
/// assert_eq!(err.to_string(), "concurrency must be at least 1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A count that must be at least 1 is 0 (a concurrency, a batch size, `max_pending`, which
    /// is `None` for no bound).
    #[error("{name} must be at least 1")]
    Zero {
        /// The setting.
        name: &'static str,
    },
    /// A count over its documented limit.
    #[error("{name} must be at most {max} (got {value})")]
    TooLarge {
        /// The setting.
        name: &'static str,
        /// The refused value.
        value: u64,
        /// The limit.
        max: u64,
    },
    /// A duration outside its documented range.
    #[error("{name} must be between {min:?} and {max:?} (got {value:?})")]
    DurationOutOfRange {
        /// The setting.
        name: &'static str,
        /// The refused value.
        value: Duration,
        /// The shortest allowed.
        min: Duration,
        /// The longest allowed.
        max: Duration,
    },
    /// A pool's heartbeat is not shorter than its lease: a lease that expires between
    /// heartbeats lets its task be rescued and run again while it still runs.
    #[error(
        "heartbeat ({heartbeat:?}) must be shorter than the lease ({lease:?}): a lease that expires between \
         heartbeats lets its task be rescued and run again while it still runs (the default heartbeat is a \
         third of the lease)"
    )]
    HeartbeatNotShorterThanLease {
        /// The heartbeat interval.
        heartbeat: Duration,
        /// The lease.
        lease: Duration,
    },
    /// A name the queue stores (a worker id, the kind a handler is registered for) that is
    /// empty, longer than `max` bytes or has a NUL byte.
    #[error("{name} {value:?} must be 1 to {max} bytes without NUL")]
    InvalidName {
        /// The setting.
        name: &'static str,
        /// The refused value (its first `max` characters).
        value: String,
        /// The longest allowed, in bytes.
        max: usize,
    },
    /// A name (such as a schema) is not a plain identifier.
    #[error("invalid identifier {0:?}: use lower-case letters, digits and underscores")]
    InvalidIdentifier(String),
    /// A cron expression that does not parse.
    #[error("invalid cron expression {0:?}: expected `minute hour day-of-month month day-of-week`")]
    InvalidCron(String),
}

/// What can go wrong when talking to the queue.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The payload is larger than the configured limit.
    #[error("payload of {size} bytes exceeds the limit of {limit} bytes")]
    PayloadTooLarge {
        /// Payload size.
        size: usize,
        /// Configured limit.
        limit: usize,
    },
    /// The payload could not be serialised.
    #[error("payload does not serialise: {0}")]
    Payload(String),
    /// The kind is empty, too long, or contains a NUL byte.
    #[error("invalid task kind: {0:?}")]
    InvalidKind(String),
    /// A task with the same unique key is pending or running.
    #[error("a task with the same unique key is already pending or running: {existing}")]
    Duplicate {
        /// The task that holds the key.
        existing: TaskId,
    },
    /// The bounded queue is full and the pool is configured to refuse rather than wait.
    #[error("queue is full ({capacity} pending tasks)")]
    Full {
        /// Capacity.
        capacity: usize,
    },
    /// The queue was closed.
    #[error("queue is closed")]
    Closed,
    /// The lease this write was made under is no longer current (the task was rescued and
    /// leased again, cancelled, or already finished): the write was rejected.
    #[error("stale lease for task {id}: the fencing token no longer matches")]
    StaleLease {
        /// The task.
        id: TaskId,
    },
    /// A setting that cannot work (such as `max_pending` of 0, a `full_wait` over its limit or
    /// a schema name that is not an identifier), refused when a PostgreSQL backend connects.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database failed.
    #[error("database error: {0}")]
    Database(String),
    /// A row from the database does not have the expected shape (a column is missing or has
    /// another type): the schema does not match this version of the crate.
    #[error("unexpected row shape at column {column}: {reason} (schema mismatch?)")]
    RowMismatch {
        /// Zero-based column index.
        column: usize,
        /// What the driver reported.
        reason: String,
    },
}

#[cfg(feature = "postgres")]
impl From<tokio_postgres::Error> for QueueError {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => Self::Database(format!("{} ({})", db.message(), db.code().code())),
            None => Self::Database(e.to_string()),
        }
    }
}

#[cfg(feature = "postgres")]
impl From<deadpool_postgres::PoolError> for QueueError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Database(e.to_string())
    }
}

/// How a handler reports a failed attempt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// A transient failure: retried after the backoff delay while attempts remain.
    #[error("{0}")]
    Retry(String),
    /// A failure that retrying cannot fix (bad input): the task goes to dead-letter at once.
    #[error("permanent: {0}")]
    Permanent(String),
}

impl TaskError {
    /// A transient failure.
    pub fn retry(e: impl std::fmt::Display) -> Self {
        Self::Retry(e.to_string())
    }

    /// A permanent failure.
    pub fn permanent(e: impl std::fmt::Display) -> Self {
        Self::Permanent(e.to_string())
    }
}
