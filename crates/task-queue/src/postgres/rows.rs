//! Rows to values.

use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::Row;
use tokio_util::sync::CancellationToken;

use crate::backend::{LeasedTask, Outcome};
use crate::backoff::BackoffPolicy;
use crate::priority::from_level;
use crate::status::{TaskInfo, TaskState};
use crate::task::TaskId;

pub(super) fn leased(row: &Row) -> LeasedTask {
    let cancel = CancellationToken::new();
    if row.get::<_, bool>(9) {
        cancel.cancel();
    }
    let backoff: String = row.get(6);
    let waited: f64 = row.get::<_, Option<f64>>(10).unwrap_or(0.0);
    LeasedTask {
        id: TaskId(row.get(0)),
        kind: Arc::from(row.get::<_, &str>(1)),
        payload: Arc::from(row.get::<_, &str>(2).as_bytes()),
        priority: from_level(i64::from(row.get::<_, i16>(3))),
        attempt: u32::try_from(row.get::<_, i32>(4)).unwrap_or(1),
        max_attempts: u32::try_from(row.get::<_, i32>(5)).unwrap_or(1),
        backoff: serde_json::from_str(&backoff).unwrap_or_else(|_| BackoffPolicy::default()),
        timeout: row.get::<_, Option<i64>>(7).and_then(|ms| u64::try_from(ms).ok()).map(Duration::from_millis),
        fence: row.get(8),
        cancel,
        span: None,
        waited: Duration::try_from_secs_f64(waited.max(0.0)).unwrap_or_default(),
    }
}

pub(super) fn info(row: &Row) -> TaskInfo {
    TaskInfo {
        id: TaskId(row.get(0)),
        kind: row.get(1),
        priority: from_level(i64::from(row.get::<_, i16>(2))),
        state: TaskState::from_code(row.get(3)),
        attempts: u32::try_from(row.get::<_, i32>(4)).unwrap_or(0),
        max_attempts: u32::try_from(row.get::<_, i32>(5)).unwrap_or(0),
        last_error: row.get(6),
    }
}

/// `(state code, delay seconds, error)` for the batched outcome statement.
pub(super) fn outcome_columns(o: &Outcome) -> (i16, f64, Option<String>) {
    match o {
        Outcome::Released => (0, 0.0, None),
        Outcome::Retry { delay, error } => (1, delay.as_secs_f64(), Some(error.clone())),
        Outcome::Completed => (TaskState::Completed.code(), 0.0, None),
        Outcome::Dead { error } => (TaskState::Dead.code(), 0.0, Some(error.clone())),
        Outcome::Cancelled => (TaskState::Cancelled.code(), 0.0, None),
    }
}
