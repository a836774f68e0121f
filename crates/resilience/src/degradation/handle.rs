//! The degradation manager handle: signals in, the current level and its disabled features out.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use super::builder::DegradationBuilder;
use super::events::{ChangeListener, LevelChange};
use super::stats::DegradationStats;
use crate::breaker::{CircuitBreaker, State};
use crate::clock::SharedClock;

/// Named degradation levels driven by signals (breaker states, error rates, an overload flag),
/// with hysteresis so the level does not flap. Hosts ask
/// [`is_enabled`](Self::is_enabled) before optional work. Cheap to clone.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_resilience::{DegradationManager, ManualClock};
///
/// let clock = ManualClock::new();
/// let levels = DegradationManager::builder()
///     .level("degraded", 0.5, 0.3, ["recommendations"])
///     .level("critical", 0.9, 0.7, ["recommendations", "search"])
///     .min_dwell(Duration::from_secs(5))
///     .clock(clock.clone())
///     .build()
///     .unwrap();
/// levels.set_signal("error_rate", 0.6);
/// assert_eq!(levels.level_name(), "degraded");
/// assert!(!levels.is_enabled("recommendations"));
/// assert!(levels.is_enabled("search"));
/// levels.set_overloaded(true);
/// assert_eq!(levels.level_name(), "critical");
/// levels.set_overloaded(false);
/// levels.set_signal("error_rate", 0.0);
/// assert_eq!(levels.level_name(), "critical", "held for the minimum dwell time");
/// clock.advance(Duration::from_secs(5));
/// levels.evaluate();
/// assert_eq!(levels.level_name(), "normal");
/// ```
#[derive(Debug, Clone)]
pub struct DegradationManager {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug, Clone)]
pub(crate) struct LevelSpec {
    pub(crate) name: String,
    pub(crate) enter_at: f64,
    pub(crate) exit_below: f64,
    pub(crate) disabled: HashSet<String>,
}

#[derive(Debug)]
pub(crate) struct Signals {
    pub(crate) values: HashMap<String, f64>,
    /// When the current level was entered.
    pub(crate) since: u64,
}

pub(crate) struct Inner {
    pub(crate) name: Arc<str>,
    pub(crate) levels: Vec<LevelSpec>,
    pub(crate) current: AtomicUsize,
    pub(crate) signals: Mutex<Signals>,
    pub(crate) breakers: Vec<CircuitBreaker>,
    pub(crate) min_dwell: u64,
    pub(crate) clock: SharedClock,
    pub(crate) listeners: Vec<ChangeListener>,
    /// The state-change listener every watched breaker holds weakly (re-evaluates this
    /// manager); kept alive here, so it lives exactly as long as the manager.
    pub(crate) _breaker_watch: Option<crate::breaker::Listener>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DegradationManager")
            .field("name", &self.name)
            .field("levels", &self.levels)
            .field("current", &self.current)
            .finish_non_exhaustive()
    }
}

const OVERLOAD: &str = "overload";

impl DegradationManager {
    /// A builder.
    pub fn builder() -> DegradationBuilder {
        DegradationBuilder::default()
    }

    /// Sets a named signal in `[0, 1]` (clamped; NaN counts as 0) and re-evaluates.
    pub fn set_signal(&self, name: &str, value: f64) {
        let v = if value.is_nan() { 0.0 } else { value.clamp(0.0, 1.0) };
        self.inner.signals.lock().values.insert(name.to_owned(), v);
        self.evaluate();
    }

    /// Sets the overload flag (a host or the admission crate) and re-evaluates.
    pub fn set_overloaded(&self, overloaded: bool) {
        self.set_signal(OVERLOAD, if overloaded { 1.0 } else { 0.0 });
    }

    /// The current pressure: the largest signal or breaker state.
    #[must_use]
    pub fn pressure(&self) -> f64 {
        self.inner.pressure(&self.inner.signals.lock())
    }

    /// Re-computes the level from the signals and breaker states. Watched breakers call this on
    /// every state change, and so do [`set_signal`](Self::set_signal) and
    /// [`set_overloaded`](Self::set_overloaded); call it yourself only to end a minimum dwell.
    ///
    /// The pressure is read and the level decided under one lock, so concurrent evaluations
    /// apply their levels in the order they read the pressure: the last one always reflects
    /// the latest signals and breaker states.
    pub fn evaluate(&self) {
        let inner = &*self.inner;
        let mut sig = inner.signals.lock();
        let pressure = inner.pressure(&sig);
        let now = inner.clock.now_nanos();
        let cur = inner.current.load(Ordering::Acquire);
        let up = (cur + 1..inner.levels.len()).rev().find(|&i| pressure >= inner.levels[i].enter_at);
        let target = match up {
            Some(i) => i,
            None if cur > 0
                && pressure < inner.levels[cur].exit_below
                && now.saturating_sub(sig.since) >= inner.min_dwell =>
            {
                // Step down to the highest lower level whose own exit threshold still holds.
                (1..cur).rev().find(|&j| pressure >= inner.levels[j].exit_below).unwrap_or(0)
            }
            None => cur,
        };
        if target == cur {
            return;
        }
        inner.current.store(target, Ordering::Release);
        sig.since = now;
        drop(sig);
        let change = LevelChange {
            from: inner.levels[cur].name.clone(),
            to: inner.levels[target].name.clone(),
            to_index: target,
            pressure,
        };
        metrics::gauge!("perfstack_resilience_degradation_level", "name" => inner.name.clone()).set(target as f64);
        tracing::warn!(name = %inner.name, from = %change.from, to = %change.to, pressure, "degradation level change");
        for l in &inner.listeners {
            l(&change);
        }
    }

    /// Whether `feature` runs at the current level.
    #[must_use]
    pub fn is_enabled(&self, feature: &str) -> bool {
        let cur = self.inner.current.load(Ordering::Acquire);
        !self.inner.levels[cur].disabled.contains(feature)
    }

    /// The current level index (0 = normal).
    #[must_use]
    pub fn level(&self) -> usize {
        self.inner.current.load(Ordering::Acquire)
    }

    /// The current level name.
    #[must_use]
    pub fn level_name(&self) -> &str {
        &self.inner.levels[self.level()].name
    }

    /// A snapshot.
    #[must_use]
    pub fn stats(&self) -> DegradationStats {
        let i = self.level();
        let mut disabled: Vec<String> = self.inner.levels[i].disabled.iter().cloned().collect();
        disabled.sort();
        DegradationStats { level: self.inner.levels[i].name.clone(), index: i, pressure: self.pressure(), disabled }
    }
}

impl Inner {
    fn pressure(&self, sig: &Signals) -> f64 {
        let s = sig.values.values().copied().fold(0.0, f64::max);
        self.breakers.iter().map(breaker_pressure).fold(s, f64::max)
    }
}

fn breaker_pressure(b: &CircuitBreaker) -> f64 {
    match b.state() {
        State::Open | State::ForcedOpen => 1.0,
        State::HalfOpen => 0.5,
        _ => 0.0,
    }
}
