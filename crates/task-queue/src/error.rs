//! Errors.

use crate::task::TaskId;

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
    /// A name (such as a schema) is not a plain identifier.
    #[error("invalid identifier {0:?}: use lower-case letters, digits and underscores")]
    InvalidIdentifier(String),
    /// A cron expression that does not parse.
    #[error("invalid cron expression {0:?}: expected `minute hour day-of-month month day-of-week`")]
    InvalidCron(String),
    /// A setting that cannot work (such as `max_pending` of 0, a `full_wait` over its limit, a
    /// pool's heartbeat not shorter than its lease, or a concurrency of 0), refused when the
    /// backend connects or the pool starts.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
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
