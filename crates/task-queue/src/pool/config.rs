//! [`PoolConfig`]: the numbers that shape a worker pool, and the checks that refuse the ones
//! that cannot work.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::ConfigError;
use crate::limits::{is_name, MAX_KIND_LEN};

/// Numbers that shape a pool; every field has a documented default, also when deserialising
/// (a missing field takes its default). [`WorkerPoolBuilder::start`](super::WorkerPoolBuilder::start)
/// checks them with [`PoolConfig::validate`], whichever way they were set.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_task_queue::PoolConfig;
///
/// let cfg: PoolConfig = serde_json::from_str(r#"{"concurrency": 16}"#).unwrap();
/// assert_eq!((cfg.concurrency, cfg.lease), (16, Duration::from_secs(30)));
/// assert!(cfg.validate().is_ok());
///
/// let bad = PoolConfig { heartbeat: Duration::from_secs(30), ..cfg };
/// assert!(bad.validate().is_err(), "a heartbeat must be shorter than the lease");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PoolConfig {
    /// Tasks run at once, 1 to [`PoolConfig::MAX_CONCURRENCY`]. Default 8.
    pub concurrency: usize,
    /// Most tasks leased by one fetch, 1 to [`PoolConfig::MAX_BATCH`]. Default 64.
    pub fetch_batch: usize,
    /// How long a lease lasts without a heartbeat. Default 30 s.
    pub lease: Duration,
    /// How often leases are extended; must be shorter than the lease (else a running task's
    /// lease expires between heartbeats, and the task is rescued and run a second time while
    /// the first run goes on). Default 10 s (a third of the lease).
    pub heartbeat: Duration,
    /// How long an idle pool waits before polling again when no notification arrives, and how
    /// long it backs off after a failed fetch. Default 1 s.
    pub poll_interval: Duration,
    /// How often expired leases of dead workers are rescued. Default 5 s.
    pub rescue_interval: Duration,
    /// On shutdown, how long running tasks may take to finish before they are cancelled and
    /// handed back; any duration (`Duration::MAX` waits for them however long). Default 10 s.
    pub grace: Duration,
    /// Most outcomes written in one batch, 1 to [`PoolConfig::MAX_BATCH`]. Default 512.
    pub completion_batch: usize,
    /// This worker's name in leases: 1 to 200 bytes, no NUL. Default `worker-<pid>-<n>`.
    pub worker_id: String,
}

impl Default for PoolConfig {
    fn default() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Self {
            concurrency: 8,
            fetch_batch: 64,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            poll_interval: Duration::from_secs(1),
            rescue_interval: Duration::from_secs(5),
            grace: Duration::from_secs(10),
            completion_batch: 512,
            worker_id: format!("worker-{}-{n}", std::process::id()),
        }
    }
}

impl PoolConfig {
    /// Most tasks a pool runs at once.
    pub const MAX_CONCURRENCY: usize = 65_536;
    /// Most tasks per fetch and outcomes per write.
    pub const MAX_BATCH: usize = 65_536;
    /// Shortest `lease`, `heartbeat`, `poll_interval` and `rescue_interval` (the timer's
    /// resolution; zero would spin).
    pub const MIN_INTERVAL: Duration = Duration::from_millis(1);
    /// Longest `lease`, `heartbeat`, `poll_interval` and `rescue_interval`: one day.
    pub const MAX_INTERVAL: Duration = Duration::from_secs(24 * 3600);

    /// Checks the settings that cannot work: a concurrency, fetch batch or completion batch of
    /// 0 or over its maximum; a lease, heartbeat, poll interval or rescue interval under
    /// [`PoolConfig::MIN_INTERVAL`] or over [`PoolConfig::MAX_INTERVAL`]; a heartbeat not
    /// shorter than the lease; a worker id that is empty, over 200 bytes or has a NUL byte.
    ///
    /// # Errors
    ///
    /// The [`ConfigError`] naming the first setting that cannot work, and its value.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, n, max) in [
            ("concurrency", self.concurrency, Self::MAX_CONCURRENCY),
            ("fetch_batch", self.fetch_batch, Self::MAX_BATCH),
            ("completion_batch", self.completion_batch, Self::MAX_BATCH),
        ] {
            if n == 0 {
                return Err(ConfigError::Zero { name });
            }
            if n > max {
                return Err(ConfigError::TooLarge { name, value: n as u64, max: max as u64 });
            }
        }
        for (name, value) in [
            ("lease", self.lease),
            ("heartbeat", self.heartbeat),
            ("poll_interval", self.poll_interval),
            ("rescue_interval", self.rescue_interval),
        ] {
            if value < Self::MIN_INTERVAL || value > Self::MAX_INTERVAL {
                return Err(ConfigError::DurationOutOfRange {
                    name,
                    value,
                    min: Self::MIN_INTERVAL,
                    max: Self::MAX_INTERVAL,
                });
            }
        }
        if self.heartbeat >= self.lease {
            return Err(ConfigError::HeartbeatNotShorterThanLease { heartbeat: self.heartbeat, lease: self.lease });
        }
        check_name("worker_id", &self.worker_id)
    }
}

/// Refuses a name the queue could not store (a worker id, a handler's kind): empty, over
/// [`MAX_KIND_LEN`] bytes, or with a NUL byte.
pub(super) fn check_name(name: &'static str, value: &str) -> Result<(), ConfigError> {
    if is_name(value, MAX_KIND_LEN) {
        Ok(())
    } else {
        Err(ConfigError::InvalidName { name, value: value.chars().take(MAX_KIND_LEN).collect(), max: MAX_KIND_LEN })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(cfg: &PoolConfig, what: &str) {
        match cfg.validate() {
            Err(e) => assert!(e.to_string().contains(what), "{what}: {e}"),
            Ok(()) => panic!("{what}: accepted"),
        }
    }

    #[test]
    fn the_default_is_valid_and_each_bad_setting_is_named() {
        let ok = PoolConfig::default();
        assert!(ok.validate().is_ok());
        refused(&PoolConfig { concurrency: 0, ..ok.clone() }, "concurrency");
        refused(&PoolConfig { concurrency: usize::MAX, ..ok.clone() }, "concurrency");
        refused(&PoolConfig { fetch_batch: 0, ..ok.clone() }, "fetch_batch");
        refused(&PoolConfig { completion_batch: usize::MAX, ..ok.clone() }, "completion_batch");
        refused(&PoolConfig { lease: Duration::ZERO, heartbeat: Duration::ZERO, ..ok.clone() }, "lease");
        refused(&PoolConfig { lease: Duration::MAX, ..ok.clone() }, "lease");
        refused(&PoolConfig { heartbeat: ok.lease, ..ok.clone() }, "heartbeat");
        refused(&PoolConfig { heartbeat: Duration::from_secs(60), ..ok.clone() }, "heartbeat");
        refused(&PoolConfig { poll_interval: Duration::ZERO, ..ok.clone() }, "poll_interval");
        refused(&PoolConfig { poll_interval: Duration::MAX, ..ok.clone() }, "poll_interval");
        refused(&PoolConfig { rescue_interval: Duration::ZERO, ..ok.clone() }, "rescue_interval");
        refused(&PoolConfig { worker_id: String::new(), ..ok.clone() }, "worker_id");
        refused(&PoolConfig { worker_id: "a\0b".into(), ..ok.clone() }, "worker_id");
        assert!(PoolConfig { grace: Duration::MAX, ..ok.clone() }.validate().is_ok());
        assert!(PoolConfig { grace: Duration::ZERO, ..ok }.validate().is_ok());
    }

    #[test]
    fn a_deserialised_config_is_checked_like_any_other() {
        let cfg: PoolConfig =
            serde_json::from_str(r#"{"lease": {"secs": 5, "nanos": 0}, "heartbeat": {"secs": 5, "nanos": 0}}"#)
                .unwrap_or_default();
        assert_eq!(cfg.lease, Duration::from_secs(5));
        refused(&cfg, "heartbeat");
    }
}
