//! The degradation builder: levels, watched breakers, the clock, callbacks.

use std::collections::HashSet;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

use super::config::check_levels;
use super::events::{ChangeListener, LevelChange};
use super::handle::{DegradationManager, Inner, LevelSpec, Signals};
use crate::breaker::CircuitBreaker;
use crate::clock::{default_clock, duration_nanos, Clock, SharedClock};
use crate::error::ConfigError;

/// Builds a [`DegradationManager`]. Level 0 is `"normal"` (everything enabled); add levels
/// from mild to severe.
#[must_use]
pub struct DegradationBuilder {
    name: Option<Arc<str>>,
    levels: Vec<LevelSpec>,
    min_dwell: Duration,
    breakers: Vec<CircuitBreaker>,
    clock: Option<SharedClock>,
    listeners: Vec<ChangeListener>,
}

impl std::fmt::Debug for DegradationBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DegradationBuilder")
            .field("name", &self.name)
            .field("levels", &self.levels)
            .field("min_dwell", &self.min_dwell)
            .finish_non_exhaustive()
    }
}

impl Default for DegradationBuilder {
    fn default() -> Self {
        Self {
            name: None,
            levels: vec![LevelSpec { name: "normal".into(), enter_at: 0.0, exit_below: 0.0, disabled: HashSet::new() }],
            min_dwell: Duration::from_secs(10),
            breakers: Vec::new(),
            clock: None,
            listeners: Vec::new(),
        }
    }
}

impl DegradationBuilder {
    /// The name in metric labels (`name="..."`) and events; default `"default"`.
    pub fn name(mut self, name: impl Into<Arc<str>>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Adds a level entered when the pressure (the largest signal, in `[0, 1]`) reaches
    /// `enter_at`, and left only when it falls below `exit_below` (hysteresis); `disabled`
    /// lists the features turned off at this level.
    pub fn level<I, S>(mut self, name: impl Into<String>, enter_at: f64, exit_below: f64, disabled: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.levels.push(LevelSpec {
            name: name.into(),
            enter_at,
            exit_below,
            disabled: disabled.into_iter().map(Into::into).collect(),
        });
        self
    }

    /// The shortest time at a level before stepping down (default 10 s). Stepping up is
    /// immediate.
    pub fn min_dwell(mut self, d: Duration) -> Self {
        self.min_dwell = d;
        self
    }

    /// An open breaker counts as pressure 1.0, a half-open one as 0.5. The manager re-evaluates
    /// on every state change of the breaker (it subscribes to its events, weakly: dropping the
    /// manager unsubscribes it).
    pub fn watch_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breakers.push(breaker);
        self
    }

    /// The clock.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// A callback for every level change.
    pub fn on_change(mut self, f: impl Fn(&LevelChange) + Send + Sync + 'static) -> Self {
        self.listeners.push(Arc::new(f));
        self
    }

    /// Checks the levels and builds the manager.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a threshold is NaN or outside `[0, 1]`, a level's `exit_below` is
    /// above its `enter_at`, or the `enter_at` values do not increase.
    pub fn build(self) -> Result<DegradationManager, ConfigError> {
        check_levels(self.levels[1..].iter().map(|l| (l.enter_at, l.exit_below)))?;
        let clock = self.clock.unwrap_or_else(default_clock);
        let now = clock.now_nanos();
        let inner = Arc::new_cyclic(|me: &std::sync::Weak<Inner>| {
            // Every watched breaker re-evaluates the manager on each state change.
            let watch = (!self.breakers.is_empty()).then(|| {
                let me = me.clone();
                let l: crate::breaker::Listener = Arc::new(move |_: &crate::breaker::StateChange| {
                    if let Some(inner) = me.upgrade() {
                        DegradationManager { inner }.evaluate();
                    }
                });
                for b in &self.breakers {
                    b.watch(Arc::downgrade(&l));
                }
                l
            });
            Inner {
                name: self.name.unwrap_or_else(|| Arc::from("default")),
                levels: self.levels,
                current: AtomicUsize::new(0),
                signals: Mutex::new(Signals { values: Default::default(), since: now }),
                breakers: self.breakers,
                min_dwell: duration_nanos(self.min_dwell),
                clock,
                listeners: self.listeners,
                _breaker_watch: watch,
            }
        });
        Ok(DegradationManager { inner })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use crate::{CircuitBreaker, DegradationManager, ManualClock};

    /// The listener a manager registers with its breakers is owned by the manager alone:
    /// dropping the manager frees it, and the breaker forgets it on its next state change.
    #[test]
    fn the_registered_listener_dies_with_the_manager() {
        let b = CircuitBreaker::builder("db").clock(ManualClock::new()).build().unwrap();
        let d =
            DegradationManager::builder().level("degraded", 0.5, 0.3, ["x"]).watch_breaker(b.clone()).build().unwrap();
        let registered = Arc::downgrade(d.inner._breaker_watch.as_ref().unwrap());
        assert_eq!(b.inner.watchers.lock().len(), 1);
        b.force_open();
        assert_eq!(d.level(), 1, "the registered listener re-evaluates the manager");
        assert!(registered.upgrade().is_some());
        drop(d);
        assert!(registered.upgrade().is_none(), "the breaker kept the dropped manager's listener");
        b.reset();
        assert!(b.inner.watchers.lock().is_empty(), "a dead listener is pruned on the next change");
    }
}
