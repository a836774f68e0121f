//! Rows to values.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Row;
use tokio_util::sync::CancellationToken;

use crate::backend::{LeasedTask, Outcome};
use crate::backoff::BackoffPolicy;
use crate::error::QueueError;
use crate::limits::{clamp_delay, error_text};
use crate::priority::from_level;
use crate::status::{TaskInfo, TaskState};
use crate::task::TaskId;

/// Reads column `idx` as `T`; a schema mismatch is a typed error, never a panic.
fn col<'a, T: tokio_postgres::types::FromSql<'a>>(row: &'a Row, idx: usize) -> Result<T, QueueError> {
    row.try_get(idx).map_err(|e| QueueError::RowMismatch { column: idx, reason: e.to_string() })
}

pub(super) fn leased(row: &Row) -> Result<LeasedTask, QueueError> {
    let cancel = CancellationToken::new();
    if col::<bool>(row, 9)? {
        cancel.cancel();
    }
    let backoff: &str = col(row, 6)?;
    let waited: f64 = col::<Option<f64>>(row, 10)?.unwrap_or(0.0);
    Ok(LeasedTask {
        id: TaskId(col(row, 0)?),
        kind: Arc::from(col::<&str>(row, 1)?),
        payload: Arc::from(col::<&str>(row, 2)?.as_bytes()),
        priority: from_level(i64::from(col::<i16>(row, 3)?)),
        attempt: u32::try_from(col::<i32>(row, 4)?).unwrap_or(1),
        max_attempts: u32::try_from(col::<i32>(row, 5)?).unwrap_or(1),
        backoff: serde_json::from_str(backoff).unwrap_or_else(|_| BackoffPolicy::default()),
        timeout: col::<Option<i64>>(row, 7)?.and_then(|ms| u64::try_from(ms).ok()).map(Duration::from_millis),
        fence: col(row, 8)?,
        cancel,
        span: None,
        waited: Duration::try_from_secs_f64(waited.max(0.0)).unwrap_or_default(),
    })
}

pub(super) fn info(row: &Row) -> Result<TaskInfo, QueueError> {
    Ok(TaskInfo {
        id: TaskId(col(row, 0)?),
        kind: col(row, 1)?,
        priority: from_level(i64::from(col::<i16>(row, 2)?)),
        state: TaskState::from_code(col(row, 3)?),
        attempts: u32::try_from(col::<i32>(row, 4)?).unwrap_or(0),
        max_attempts: u32::try_from(col::<i32>(row, 5)?).unwrap_or(0),
        last_error: col(row, 6)?,
    })
}

/// `(state code, delay seconds, error)` for the batched outcome statement: the delay at most
/// [`MAX_DELAY`](crate::MAX_DELAY) (so `now() + delay` is a valid `timestamptz`), the error
/// without NUL bytes (which `text` refuses) and at most [`MAX_ERROR_LEN`](crate::MAX_ERROR_LEN).
pub(super) fn outcome_columns(o: &Outcome) -> (i16, f64, Option<String>) {
    let text = |e: &String| Some(error_text(e.clone()));
    match o {
        Outcome::Released => (0, 0.0, None),
        Outcome::Retry { delay, error } => (1, clamp_delay(*delay).as_secs_f64(), text(error)),
        Outcome::Completed => (TaskState::Completed.code(), 0.0, None),
        Outcome::Dead { error } => (TaskState::Dead.code(), 0.0, text(error)),
        Outcome::Cancelled => (TaskState::Cancelled.code(), 0.0, None),
    }
}

/// A short name of the outcome, for messages.
pub(super) fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Released => "released",
        Outcome::Retry { .. } => "retry",
        Outcome::Completed => "completed",
        Outcome::Dead { .. } => "dead",
        Outcome::Cancelled => "cancelled",
    }
}
