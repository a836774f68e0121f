//! [`SchedulerDelay`]: tokio scheduling delay, measured by a probe task, as an overload signal.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::signal::check_threshold;
use super::OverloadSignal;
use crate::ConfigError;

/// Longest probe interval: a signal read once per control window gains nothing from a probe
/// that wakes less than once a minute (and `now + interval` must not overflow).
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// tokio scheduling delay: a probe task sleeps `interval` and measures how late it wakes; a
/// busy or blocked runtime wakes it late. Pressure is the smoothed lateness over a threshold.
/// The probe stops when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct SchedulerDelay {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    delay_ns: Arc<AtomicU64>,
    threshold: f64,
    task: tokio::task::AbortHandle,
}

impl Drop for Shared {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl SchedulerDelay {
    /// Spawns the probe on the current runtime. Pressure reaches 1 at `threshold` of delay.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Threshold`] for a zero threshold or interval,
    /// [`ConfigError::IntervalTooLong`] for an interval above one minute, and
    /// [`ConfigError::NoRuntime`] outside a tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use perfstack_admission::overload::SchedulerDelay;
    /// use perfstack_admission::ConfigError;
    /// use std::time::Duration;
    /// let ms = Duration::from_millis;
    /// // Outside a runtime: an error, not a panic.
    /// assert_eq!(SchedulerDelay::spawn(ms(10), ms(50)).unwrap_err(), ConfigError::NoRuntime);
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let delay = SchedulerDelay::spawn(ms(10), ms(50))?;
    /// assert!(SchedulerDelay::spawn(Duration::MAX, ms(50)).is_err());
    /// # drop(delay); Ok::<(), ConfigError>(()) }).unwrap();
    /// ```
    pub fn spawn(interval: Duration, threshold: Duration) -> Result<Self, ConfigError> {
        let threshold = check_threshold("scheduler_delay", threshold.as_secs_f64())?;
        check_threshold("scheduler_interval", interval.as_secs_f64())?;
        if interval > MAX_INTERVAL {
            return Err(ConfigError::IntervalTooLong { interval, max: MAX_INTERVAL });
        }
        let handle = tokio::runtime::Handle::try_current().map_err(|_| ConfigError::NoRuntime)?;
        let delay_ns = Arc::new(AtomicU64::new(0));
        let probe = Arc::clone(&delay_ns);
        let task = handle
            .spawn(async move {
                loop {
                    let due = tokio::time::Instant::now() + interval;
                    tokio::time::sleep_until(due).await;
                    let late = tokio::time::Instant::now().saturating_duration_since(due).as_nanos() as f64;
                    let old = probe.load(Ordering::Relaxed) as f64;
                    probe.store((old * 0.8 + late * 0.2) as u64, Ordering::Relaxed);
                }
            })
            .abort_handle();
        Ok(Self { shared: Arc::new(Shared { delay_ns, threshold, task }) })
    }

    /// The probe task's reference to the delay: gone once the task has stopped.
    #[cfg(test)]
    pub(crate) fn probe_alive(&self) -> std::sync::Weak<AtomicU64> {
        Arc::downgrade(&self.shared.delay_ns)
    }

    /// The smoothed scheduling delay.
    #[must_use]
    pub fn delay(&self) -> Duration {
        Duration::from_nanos(self.shared.delay_ns.load(Ordering::Relaxed))
    }
}

impl OverloadSignal for SchedulerDelay {
    fn pressure(&self) -> f64 {
        self.delay().as_secs_f64() / self.shared.threshold
    }
    fn name(&self) -> &'static str {
        "scheduler_delay"
    }
}
