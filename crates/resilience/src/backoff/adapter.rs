//! Any `backon` builder as a [`Backoff`](super::Backoff) schedule.

use std::fmt;
use std::time::Duration;

use super::api::Backoff;

/// Any `backon` builder (exponential, fibonacci, constant, with backon's own jitter and
/// limits) used as a [`Backoff`] schedule.
///
/// `delay(attempt)` builds a fresh backon iterator and takes its `attempt`-th item, so the
/// cost grows with the attempt number (fine for retry loops, which sleep between attempts), up
/// to [`MAX_STEPS`](Self::MAX_STEPS): a later attempt gets the delay of step `MAX_STEPS` (or
/// `None` if the schedule ended before). Backon's builders have long stopped growing by then
/// (their delays saturate at the max delay), so only a `with_max_times` above `MAX_STEPS`
/// changes meaning: it acts as no limit.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_resilience::backoff::{BackonSchedule, Backoff};
///
/// let s = BackonSchedule::new(
///     backon::ConstantBuilder::default().with_delay(Duration::from_millis(7)).with_max_times(2),
/// );
/// assert_eq!(s.delay(2), Some(Duration::from_millis(7)));
/// assert_eq!(s.delay(3), None);
/// ```
#[derive(Clone)]
pub struct BackonSchedule<B> {
    builder: B,
}

impl<B> BackonSchedule<B> {
    /// The most items of the backon iterator one `delay` call reads: 4 096.
    pub const MAX_STEPS: u32 = 4_096;

    /// Wraps a backon builder.
    #[must_use]
    pub fn new(builder: B) -> Self {
        Self { builder }
    }
}

impl<B> fmt::Debug for BackonSchedule<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackonSchedule").field("builder", &std::any::type_name::<B>()).finish()
    }
}

impl<B> Backoff for BackonSchedule<B>
where
    B: backon::BackoffBuilder + Clone,
{
    fn delay(&self, attempt: u32) -> Option<Duration> {
        let n = usize::try_from(attempt.min(Self::MAX_STEPS).checked_sub(1)?).ok()?;
        self.builder.clone().build().nth(n)
    }
}
