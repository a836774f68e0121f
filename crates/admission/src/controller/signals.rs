//! The overload signals of a controller: when they are read, and how their pressure turns
//! into shed priority levels.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::inner::Inner;

impl Inner {
    /// Reads the overload signals again if the last reading is at least a shortest window
    /// (`window.min`) old at `now`; only the caller that wins the compare-exchange reads them.
    /// Returns whether it read them.
    #[inline]
    pub(crate) fn refresh_overload_if_due(&self, now: u64) -> bool {
        let last = self.overload_read_at.load(Ordering::Relaxed);
        if now.saturating_sub(last) < duration_nanos(self.window.min) {
            return false;
        }
        if self.overload_read_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_err() {
            return false; // another caller is reading them
        }
        self.read_signals();
        true
    }

    /// Whether `level`, shed at the last reading, is admitted after reading the signals again
    /// (if that reading is due). The overload-refusal path: without it, a controller whose
    /// shed levels are all its traffic would never close a window and never lift shedding.
    #[cold]
    #[inline(never)]
    pub(crate) fn overload_lifted(&self, level: usize) -> bool {
        !self.signals.is_empty()
            && self.refresh_overload_if_due(self.clock.now_nanos())
            && level >= self.shed_levels.load(Ordering::Relaxed)
    }

    /// Reads every overload signal now (and restarts the refresh interval).
    pub(crate) fn refresh_overload(&self) -> usize {
        self.overload_read_at.fetch_max(self.clock.now_nanos(), Ordering::Relaxed);
        self.read_signals()
    }

    /// Reads every overload signal and sets how many levels to shed: none below pressure 1,
    /// then one more level for every 10 % above it; `Critical` is never shed by a signal.
    #[inline(never)]
    fn read_signals(&self) -> usize {
        // NaN says nothing and is skipped; +inf is fully overloaded; below 0 counts as 0.
        let pressure = self.signals.iter().map(|s| s.pressure()).filter(|p| !p.is_nan()).fold(0.0_f64, f64::max);
        // Capped before the cast: a huge or infinite pressure sheds every level but Critical.
        let shed = if pressure < 1.0 { 0 } else { 1 + ((pressure - 1.0) / 0.1).min(3.0) as usize };
        let before = self.shed_levels.swap(shed, Ordering::Relaxed);
        if before != shed {
            tracing::info!(controller = %self.name, pressure, shed_levels = shed, "overload shedding changed");
            self.metrics.shed_levels.set(shed as f64);
        }
        shed
    }
}

fn duration_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
