//! Priority with aging: the rule both backends use to order ready tasks.
//!
//! Every ready task gets a *sort time* `run_at - level × step` (`Low` = 0 … `Critical` = 4) and
//! the queue always picks the smallest sort time. A `Critical` task therefore jumps ahead of a
//! `Low` task that became ready up to `4 × step` earlier, but no further: a `Low` task that has
//! waited longer than `4 × step` is picked before any `Critical` task that arrives after it.
//! Strict priority (which starves low levels under a flood) is the limit `step → ∞`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::priority::{level, Priority};

/// How much head start one priority level buys. Default: one second per level, so a `Low` task
/// waits at most four seconds behind a continuous `Critical` flood (plus the time to run the
/// tasks that were already ahead of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Aging {
    /// Head start per level.
    pub step: Duration,
}

impl Default for Aging {
    fn default() -> Self {
        Self { step: Duration::from_secs(1) }
    }
}

impl Aging {
    /// Aging with `step` per level.
    #[must_use]
    pub fn per_level(step: Duration) -> Self {
        Self { step }
    }

    /// The sort key of a task that became ready at `ready_ns` (nanoseconds on any monotonic
    /// scale): smaller runs first.
    #[must_use]
    pub fn sort_key(&self, ready_ns: i64, priority: Priority) -> i64 {
        let step = i64::try_from(self.step.as_nanos()).unwrap_or(i64::MAX / 8);
        ready_ns.saturating_sub(step.saturating_mul(i64::from(level(priority))))
    }

    /// Head start of `priority` in milliseconds (used by the PostgreSQL backend).
    #[must_use]
    pub fn head_start_ms(&self, priority: Priority) -> i64 {
        let step = i64::try_from(self.step.as_millis()).unwrap_or(i64::MAX / 8);
        step.saturating_mul(i64::from(level(priority)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn prio() -> impl Strategy<Value = Priority> {
        (0i64..5).prop_map(crate::priority::from_level)
    }

    proptest! {
        /// The bound that makes starvation impossible: a task is never overtaken by a task that
        /// became ready more than `4 × step` after it, whatever the two priorities.
        #[test]
        fn never_overtaken_by_a_task_arriving_later_than_four_steps(
            step_ms in 1u64..10_000, t0 in 0i64..1_000_000_000_000, gap in 0i64..1_000_000_000_000,
            p_old in prio(), p_new in prio(),
        ) {
            let aging = Aging::per_level(Duration::from_millis(step_ms));
            let step_ns = i64::try_from(step_ms).unwrap() * 1_000_000;
            let t1 = t0 + 4 * step_ns + 1 + gap;
            prop_assert!(aging.sort_key(t0, p_old) < aging.sort_key(t1, p_new));
        }

        /// At the same ready time, a higher level always sorts first.
        #[test]
        fn higher_level_first_at_equal_ready_time(t in 0i64..1_000_000_000_000, a in prio(), b in prio()) {
            let aging = Aging::default();
            if a > b { prop_assert!(aging.sort_key(t, a) < aging.sort_key(t, b)); }
        }
    }
}
