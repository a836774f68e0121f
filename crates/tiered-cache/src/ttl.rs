//! TTL maths: jitter, remaining lifetimes, and the clock that ties tokio time to wall time.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// Wall-clock milliseconds derived from tokio's clock: read once at construction, then
/// advanced with `tokio::time::Instant`, so paused-time tests move it too. L2 headers carry
/// absolute times because several instances read them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Clock {
    anchor: Instant,
    anchor_unix_ms: u64,
}

impl Clock {
    pub(crate) fn new() -> Self {
        let anchor_unix_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(millis).unwrap_or(0);
        Clock { anchor: Instant::now(), anchor_unix_ms }
    }

    /// Current wall time in unix milliseconds.
    #[cfg(test)]
    pub(crate) fn now_ms(&self) -> u64 {
        self.ms_at(Instant::now())
    }

    /// Wall time in unix milliseconds at `now` (one clock read serves both).
    pub(crate) fn ms_at(&self, now: Instant) -> u64 {
        self.anchor_unix_ms.saturating_add(millis(now.saturating_duration_since(self.anchor)))
    }

    /// The tokio instant at which the unix-ms time `at_ms` falls, given `now` read together
    /// with `now_ms`.
    pub(crate) fn deadline(now: Instant, now_ms: u64, at_ms: u64) -> Instant {
        after(now, Duration::from_millis(at_ms.saturating_sub(now_ms)))
    }
}

/// The longest TTL a cache accepts (checked by the builder): 365 days.
pub(crate) const MAX_TTL: Duration = Duration::from_secs(365 * 24 * 3600);

/// Whole milliseconds of `d`, saturating at `u64::MAX`.
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// `now + d`, clamped to `now + MAX_TTL` so no deadline computation can overflow.
pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    let d = d.min(MAX_TTL);
    now.checked_add(d).unwrap_or(now)
}

/// Shortens `ttl` by a random fraction in `[0, fraction]`, so keys written together do not
/// expire together. Never lengthens it.
pub(crate) fn jitter(ttl: Duration, fraction: f64, unit: f64) -> Duration {
    let fraction = fraction.clamp(0.0, 1.0);
    let unit = unit.clamp(0.0, 1.0);
    // `mul_f64` panics when the f64 round trip exceeds `Duration::MAX`; never lengthen.
    Duration::try_from_secs_f64(ttl.as_secs_f64() * (1.0 - fraction * unit)).map_or(ttl, |d| d.min(ttl))
}

/// Lifetimes of one entry, in absolute unix milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Lifetimes {
    pub(crate) soft_ms: u64,
    pub(crate) hard_ms: u64,
}

impl Lifetimes {
    /// Lifetimes for a value written at `now_ms`; the soft TTL never exceeds the hard one.
    pub(crate) fn new(now_ms: u64, soft: Duration, hard: Duration) -> Self {
        let hard_ms = now_ms.saturating_add(millis(hard));
        let soft_ms = now_ms.saturating_add(millis(soft)).min(hard_ms);
        Lifetimes { soft_ms, hard_ms }
    }

    /// Milliseconds left until the hard expiry, `None` when it has passed.
    #[cfg(test)]
    pub(crate) fn remaining_hard(&self, now_ms: u64) -> Option<u64> {
        self.hard_ms.checked_sub(now_ms).filter(|ms| *ms > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn jitter_never_lengthens_and_stays_within_fraction(ms in 1u64..10_000_000, f in 0.0f64..1.0, u in 0.0f64..1.0) {
            let ttl = Duration::from_millis(ms);
            let j = jitter(ttl, f, u);
            prop_assert!(j <= ttl);
            prop_assert!(j.as_secs_f64() >= ttl.as_secs_f64() * (1.0 - f) - 1e-9);
        }

        #[test]
        fn soft_never_after_hard(now in 0u64..1u64 << 50, s in 0u64..1u64 << 30, h in 0u64..1u64 << 30) {
            let l = Lifetimes::new(now, Duration::from_millis(s), Duration::from_millis(h));
            prop_assert!(l.soft_ms <= l.hard_ms);
            prop_assert_eq!(l.remaining_hard(now), if h == 0 { None } else { Some(h) });
        }
    }

    #[test]
    fn absurd_durations_saturate_instead_of_panicking() {
        assert!(jitter(Duration::MAX, 0.1, 0.5) <= Duration::MAX);
        assert_eq!(jitter(Duration::MAX, 0.0, 0.0), Duration::MAX);
        let l = Lifetimes::new(u64::MAX - 5, Duration::MAX, Duration::MAX);
        assert_eq!((l.soft_ms, l.hard_ms), (u64::MAX, u64::MAX));
        let now = Instant::now();
        assert_eq!(after(now, Duration::MAX), now + MAX_TTL);
        assert_eq!(Clock::deadline(now, 0, u64::MAX), now + MAX_TTL);
    }

    #[tokio::test(start_paused = true)]
    async fn clock_follows_paused_tokio_time() {
        let clock = Clock::new();
        let t0 = clock.now_ms();
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(clock.now_ms() - t0, 5_000);
    }
}
