//! Settings of the PostgreSQL backend.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::aging::Aging;
use crate::backend::WhenFull;
use crate::error::ConfigError;
use crate::limits::DEFAULT_MAX_PAYLOAD_BYTES;

/// Longest accepted [`PostgresConfig::full_wait`]: one day.
pub const MAX_FULL_WAIT: Duration = Duration::from_secs(24 * 3600);

/// Settings of [`super::PostgresBackend`]; every field has a documented default, also when
/// deserialising (a missing field takes its default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PostgresConfig {
    /// Schema of the queue's tables (created if missing). Default `perfstack_tasks`.
    pub schema: String,
    /// Priority aging; must be the same in every process sharing the schema. Default 1 s per level.
    pub aging: Aging,
    /// Connections in the pool: at most [`PostgresConfig::MAX_POOL_SIZE`] (a larger one is
    /// refused by [`PostgresConfig::validate`]); below 2 is taken as 2. Default 8.
    pub pool_size: usize,
    /// LISTEN for new-task notifications. Default true.
    pub listen: bool,
    /// Largest payload accepted by [`super::PostgresBackend::submit_in`]. Default 256 KiB.
    pub max_payload_bytes: usize,
    /// Most tasks pending or running (including failed tasks waiting for a retry) in this
    /// schema; `None` (the default) for no bound. Checked by `submit` and
    /// [`super::PostgresBackend::submit_in`] (not by `submit_many`).
    ///
    /// Must be at least 1 when set ([`PostgresConfig::validate`] refuses `Some(0)`).
    ///
    /// Exactness within one process: submits are admitted on an estimate (the last exact count,
    /// at most a second old, plus this process's admissions since, in flight ones included)
    /// while it is below 90% of the bound, and on an exact count near it; `submit` of one
    /// process alone never exceeds the bound.
    ///
    /// Across N processes the bound is not exact, because a process does not see the others'
    /// admissions until they are committed and it counts again: each process may admit, without
    /// a query, up to 90% of the bound above the count it last saw, for up to a second. In the
    /// worst case (all N count the same nearly empty table within the same second) the table
    /// can reach about `N × 90%` of the bound before their next counts see each other's rows
    /// and stop admitting. Near the bound each submit counts, and only submits of other
    /// processes racing that count (inserts in flight) slip through: at most one per such
    /// insert. Tasks added by `submit_in` in transactions not yet committed are invisible to
    /// other transactions' counts, so each can take a place already taken. Completions and
    /// retries never add to the count. For a strict bound across processes, submit from one
    /// process (or leave headroom of `(N − 1) × 90%`).
    pub max_pending: Option<usize>,
    /// What `submit` does when `max_pending` is reached: wait for room (up to
    /// [`PostgresConfig::full_wait`]) or fail at once with
    /// [`QueueError::Full`](crate::QueueError::Full). Default: wait.
    pub when_full: WhenFull,
    /// Longest wait for room before [`QueueError::Full`](crate::QueueError::Full). Default 30 s, at most
    /// [`MAX_FULL_WAIT`] (a longer one is refused by [`PostgresConfig::validate`]). A waiting submit is
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
    /// Most connections in the pool.
    pub const MAX_POOL_SIZE: usize = 10_000;

    /// The default settings in `schema`.
    #[must_use]
    pub fn in_schema(schema: impl Into<String>) -> Self {
        Self { schema: schema.into(), ..Self::default() }
    }

    /// Checks the settings that cannot work: `max_pending` of `Some(0)` (no task could ever
    /// be submitted; use `None` for no bound), a `full_wait` over [`MAX_FULL_WAIT`] and a
    /// `pool_size` over [`PostgresConfig::MAX_POOL_SIZE`]. (An aging step longer than
    /// [`MAX_DELAY`](crate::MAX_DELAY) is used as that.)
    /// [`super::PostgresBackend::connect`] calls it.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] naming the setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_pending == Some(0) {
            return Err(ConfigError::Zero { name: "max_pending" });
        }
        if self.pool_size > Self::MAX_POOL_SIZE {
            return Err(ConfigError::TooLarge {
                name: "pool_size",
                value: self.pool_size as u64,
                max: Self::MAX_POOL_SIZE as u64,
            });
        }
        if self.full_wait > MAX_FULL_WAIT {
            return Err(ConfigError::DurationOutOfRange {
                name: "full_wait",
                value: self.full_wait,
                min: Duration::ZERO,
                max: MAX_FULL_WAIT,
            });
        }
        Ok(())
    }

    pub(super) fn checked_schema(&self) -> Result<&str, ConfigError> {
        let s = self.schema.as_str();
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !s.starts_with(|c: char| c.is_ascii_digit());
        if ok {
            Ok(s)
        } else {
            Err(ConfigError::InvalidIdentifier(s.to_string()))
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
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn a_bound_of_zero_is_refused_not_turned_into_one() {
        let cfg = PostgresConfig { max_pending: Some(0), ..PostgresConfig::default() };
        let err = cfg.validate().unwrap_err();
        assert_eq!(err, ConfigError::Zero { name: "max_pending" });
    }

    #[test]
    fn a_huge_deserialised_full_wait_is_refused_also_in_reject_mode() {
        let cfg: PostgresConfig = serde_json::from_str(
            r#"{"max_pending": 5, "when_full": "reject", "full_wait": {"secs": 18446744073709551615, "nanos": 0}}"#,
        )
        .unwrap();
        let err = cfg.validate().unwrap_err();
        assert!(matches!(&err, ConfigError::DurationOutOfRange { name: "full_wait", .. }), "{err:?}");
        let at_limit = PostgresConfig { full_wait: MAX_FULL_WAIT, ..cfg };
        assert!(at_limit.validate().is_ok());
    }
}
