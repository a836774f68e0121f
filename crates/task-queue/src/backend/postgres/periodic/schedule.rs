//! A schedule: its name, when it fires (a fixed period or a cron expression), the task it
//! makes for a slot, and which slot a moment of the wall clock is in.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::cron::Cron;
use crate::error::QueueError;
use crate::task::Task;

/// Makes a schedule's task for a slot.
pub(super) type MakeTask = Arc<dyn Fn(i64) -> Result<Task, QueueError> + Send + Sync>;
/// The wall clock the slots are computed from: time since the Unix epoch.
pub(super) type WallClock = Arc<dyn Fn() -> Duration + Send + Sync>;

pub(super) fn system_clock() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// One named schedule.
pub(super) struct Schedule {
    pub(super) name: String,
    pub(super) when: When,
    pub(super) make: MakeTask,
}

/// When a schedule fires.
#[derive(Debug, Clone)]
pub(super) enum When {
    /// Once per period; the slot is the number of whole periods since the epoch.
    Every(Duration),
    /// In each minute the expression matches; the slot is that minute since the epoch.
    Cron(Cron),
}

impl When {
    /// The slot this schedule is in at `now` (time since the Unix epoch), or `None` when a
    /// cron schedule does not match this minute.
    pub(super) fn slot(&self, now: Duration) -> Option<i64> {
        match self {
            Self::Every(period) => Some(i64::try_from(now.as_millis() / period.as_millis().max(1)).unwrap_or(i64::MAX)),
            Self::Cron(cron) => {
                let minute = now.as_secs() / 60;
                cron.matches_minute(minute).then(|| i64::try_from(minute).unwrap_or(i64::MAX))
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_slots_count_whole_periods_since_the_epoch() {
        let every = When::Every(Duration::from_secs(60));
        assert_eq!(every.slot(Duration::from_secs(0)), Some(0));
        assert_eq!(every.slot(Duration::from_millis(59_999)), Some(0));
        assert_eq!(every.slot(Duration::from_secs(60)), Some(1));
        assert_eq!(every.slot(Duration::from_secs(3_600)), Some(60));
    }

    #[test]
    fn cron_slots_are_matching_minutes_only() {
        // 1970-01-01 is a Thursday; "30 2 * * *" matches minute 150 of each day.
        let cron = When::Cron(Cron::parse("30 2 * * *").unwrap());
        assert_eq!(cron.slot(Duration::from_secs(150 * 60 + 59)), Some(150));
        assert_eq!(cron.slot(Duration::from_secs(151 * 60)), None);
        assert_eq!(cron.slot(Duration::from_secs((1_440 + 150) * 60)), Some(1_590));
    }
}
