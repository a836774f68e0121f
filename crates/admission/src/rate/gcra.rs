//! [`Gcra`]: the Generic Cell Rate Algorithm as pure maths, shared by every rate limit.

use std::time::Duration;

use crate::ConfigError;

/// Highest burst accepted: above this a bucket is a misconfiguration, not a limit.
pub(crate) const MAX_BURST: u64 = 100_000_000;
const MAX_INTERVAL: Duration = Duration::from_secs(365 * 24 * 3600);

/// The Generic Cell Rate Algorithm as pure maths over a theoretical arrival time (TAT) in
/// nanoseconds. `t` is the emission interval (one cell), `tau` the tolerance
/// (`t × (burst − 1)`), exactly as in `governor`.
///
/// # Examples
///
/// ```
/// use perfstack_admission::rate::Gcra;
/// let g = Gcra::per_second(10.0, 2)?; // 10/s, burst 2
/// let tat = g.decide(None, 0).unwrap();
/// let tat = g.decide(Some(tat), 0).unwrap();
/// assert!(g.decide(Some(tat), 0).is_err()); // burst used up
/// assert!(g.decide(Some(tat), 100_000_000).is_ok()); // one interval later
/// # Ok::<(), perfstack_admission::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gcra {
    t: u64,
    tau: u64,
}

impl Gcra {
    /// `rate` cells per second with a burst of `burst` cells.
    ///
    /// # Errors
    ///
    /// A rate that is zero, negative, NaN or infinite, a zero or absurd burst, an interval
    /// outside [1 ns, 365 days].
    pub fn per_second(rate: f64, burst: u64) -> Result<Self, ConfigError> {
        if !rate.is_finite() || rate <= 0.0 {
            return Err(ConfigError::NotPositive { name: "rate", value: rate });
        }
        let interval = Duration::try_from_secs_f64(1.0 / rate)
            .map_err(|_| ConfigError::NotPositive { name: "rate", value: rate })?;
        Self::with_interval(interval, burst)
    }

    /// One cell every `interval`, with a burst of `burst` cells.
    ///
    /// # Errors
    ///
    /// As [`per_second`](Self::per_second).
    pub fn with_interval(interval: Duration, burst: u64) -> Result<Self, ConfigError> {
        if burst == 0 {
            return Err(ConfigError::NotPositive { name: "burst", value: 0.0 });
        }
        if burst > MAX_BURST {
            return Err(ConfigError::AbsurdBurst { burst, max: MAX_BURST });
        }
        if interval < Duration::from_nanos(1) || interval > MAX_INTERVAL {
            return Err(ConfigError::Interval(interval));
        }
        let t = u64::try_from(interval.as_nanos()).map_err(|_| ConfigError::Interval(interval))?;
        let tau = t.checked_mul(burst - 1).ok_or(ConfigError::AbsurdBurst { burst, max: MAX_BURST })?;
        Ok(Self { t, tau })
    }

    /// The same parameters as a `governor` quota.
    ///
    /// # Errors
    ///
    /// As [`with_interval`](Self::with_interval).
    pub fn from_quota(quota: governor::Quota) -> Result<Self, ConfigError> {
        Self::with_interval(quota.replenish_interval(), u64::from(quota.burst_size().get()))
    }

    /// Emission interval in nanoseconds.
    #[must_use]
    pub fn interval_nanos(&self) -> u64 {
        self.t
    }

    /// Burst size in cells.
    #[must_use]
    pub fn burst(&self) -> u64 {
        self.tau / self.t + 1
    }

    /// Decides one cell at `now` (ns) against the stored TAT (`None` for a fresh bucket):
    /// `Ok(new_tat)` to admit, `Err(wait_ns)` to refuse.
    #[inline]
    pub fn decide(&self, tat: Option<u64>, now: u64) -> Result<u64, u64> {
        let tat = tat.unwrap_or(now);
        let earliest = tat.saturating_sub(self.tau);
        if now < earliest {
            Err(earliest - now)
        } else {
            Ok(tat.max(now).saturating_add(self.t))
        }
    }

    /// True when a stored TAT is indistinguishable from a fresh bucket at `now`, so the state
    /// can be forgotten.
    #[inline]
    #[must_use]
    pub fn is_fresh(&self, tat: u64, now: u64) -> bool {
        tat <= now
    }
}
