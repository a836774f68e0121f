//! Settings of the PostgreSQL backend.

use serde::{Deserialize, Serialize};

use crate::aging::Aging;
use crate::error::QueueError;
use crate::queue::DEFAULT_MAX_PAYLOAD_BYTES;

/// Settings of [`super::PostgresBackend`]; every field has a documented default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
}

impl Default for PostgresConfig {
    fn default() -> Self {
        Self {
            schema: "perfstack_tasks".into(),
            aging: Aging::default(),
            pool_size: 8,
            listen: true,
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
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
