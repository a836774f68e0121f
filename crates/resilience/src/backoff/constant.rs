//! The constant schedule: the same delay before every retry.

use std::time::Duration;

use super::api::{within_limit, Backoff};

/// The same delay before every retry.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_resilience::backoff::{Backoff, Constant};
///
/// let s = Constant::new(Duration::from_millis(20)).max_retries(2);
/// assert_eq!(s.delays().collect::<Vec<_>>(), vec![Duration::from_millis(20); 2]);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Constant {
    delay: Duration,
    max_retries: Option<u32>,
}

impl Constant {
    /// `delay` before every retry, no retry limit of its own.
    #[must_use]
    pub fn new(delay: Duration) -> Self {
        Self { delay, max_retries: None }
    }

    /// Stop after this many retries.
    #[must_use]
    pub fn max_retries(mut self, n: u32) -> Self {
        self.max_retries = Some(n);
        self
    }
}

impl Backoff for Constant {
    fn delay(&self, attempt: u32) -> Option<Duration> {
        within_limit(attempt, self.max_retries).then_some(self.delay)
    }
}
