//! Settings of the PostgreSQL backend.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::aging::Aging;
use crate::backend::memory::WhenFull;
use crate::error::QueueError;
use crate::queue::DEFAULT_MAX_PAYLOAD_BYTES;

/// Settings of [`super::PostgresBackend`]; every field has a documented default, also when
/// deserialising (a missing field takes its default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostgresConfig {
    /// Schema of the queue's tables (created if missing). Default `perfstack_tasks`.
    pub schema: String,
    /// Priority aging; must be the same in every process sharing the schema. Default 1 s per level.
    pub aging: Aging,
    /// Connections in the pool. Default 8.
    pub pool_size: usize,
    /// LISTEN for new-task notifications. Default true.
    pub listen: bool,
    /// Largest payload accepted by [`super::PostgresBackend::submit_in`]. Default 256 KiB.
    pub max_payload_bytes: usize,
    /// Most tasks pending or running (including failed tasks waiting for a retry) in this
    /// schema; `None` (the default) for no bound. Checked by `submit` and
    /// [`super::PostgresBackend::submit_in`] (not by `submit_many`).
    ///
    /// Exactness: a process counts exactly when its estimate is within 10% of the bound (or
    /// older than a second) and serialises its own submits there, so one process submitting
    /// with `submit` never exceeds the bound. Several processes submitting at once near the
    /// bound, or `submit_in` transactions not yet committed (invisible to other counts), can
    /// each pass the same last free place: the overshoot is at most the number of such
    /// concurrent submits. A pool's retries never count against the bound (the task is
    /// already counted).
    pub max_pending: Option<usize>,
    /// What `submit` does when `max_pending` is reached: wait for room (up to
    /// [`PostgresConfig::full_wait`]) or fail at once with [`QueueError::Full`]. Default: wait.
    pub when_full: WhenFull,
    /// Longest wait for room before [`QueueError::Full`]. Default 30 s. A waiting submit is
    /// woken by completions written in this process and counts again every 50 ms for the
    /// others'. Inside `submit_in` the caller's transaction must be READ COMMITTED (the
    /// default) to see room appear.
    pub full_wait: Duration,
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            schema: "perfstack_tasks".into(),
            aging: Aging::default(),
            pool_size: 8,
            listen: true,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            max_pending: None,
            when_full: WhenFull::Wait,
            full_wait: Duration::from_secs(30),
        }
    }
}

impl PostgresConfig {
    /// The default settings in `schema`.
    #[must_use]
    pub fn in_schema(schema: impl Into<String>) -> Self {
        Self { schema: schema.into(), ..Self::default() }
    }

    pub(super) fn checked_schema(&self) -> Result<&str, QueueError> {
        let s = self.schema.as_str();
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit());
        if ok {
            Ok(s)
        } else {
            Err(QueueError::InvalidIdentifier(s.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_take_their_defaults_when_deserialised() {
        let cfg: PostgresConfig = serde_json::from_str(r#"{"schema": "jobs", "max_pending": 100}"#).unwrap();
        assert_eq!(cfg, PostgresConfig { max_pending: Some(100), ..PostgresConfig::in_schema("jobs") });
    }
}
