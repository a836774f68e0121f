//! [`FixedLimit`]: a hand-tuned limit that never moves.

use super::{Limit, Sample};

/// A hand-tuned limit that never moves.
///
/// # Examples
///
/// ```
/// use perfstack_admission::limit::{FixedLimit, Limit, Sample};
/// use std::time::Duration;
/// let mut l = FixedLimit::new(10);
/// assert_eq!(l.update(&Sample::new(Duration::ZERO, Duration::from_millis(5), 10)), 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedLimit(usize);

impl FixedLimit {
    /// A fixed limit; 0 is raised to 1 so a limit always admits something.
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Self(limit.max(1))
    }
}

impl Limit for FixedLimit {
    fn limit(&self) -> usize {
        self.0
    }
    fn update(&mut self, _sample: &Sample) -> usize {
        self.0
    }
    fn name(&self) -> &'static str {
        "static"
    }
}
