//! A timeout on tokio's timer.

use std::future::Future;
use std::time::Duration;

use crate::error::{check_nonzero_duration, ConfigError, Error};

/// Fails a call that takes longer than a fixed duration; the call is dropped (cancelled).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_resilience::{Error, Timeout};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)] async fn main() {
/// let t = Timeout::new(Duration::from_millis(50)).unwrap();
/// let slow = async { tokio::time::sleep(Duration::from_secs(1)).await; Ok::<_, ()>(1) };
/// assert!(matches!(t.call(slow).await, Err(Error::Timeout(_))));
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Timeout {
    duration: Duration,
}

impl Timeout {
    /// A timeout of `duration`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroDuration`] for a zero duration.
    pub fn new(duration: Duration) -> Result<Self, ConfigError> {
        Ok(Self { duration: check_nonzero_duration("timeout", duration)? })
    }

    /// The duration.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.duration
    }

    /// Runs `fut` with the timeout.
    ///
    /// # Errors
    ///
    /// [`Error::Timeout`] when it elapses, [`Error::Inner`] with the call's own error.
    pub async fn call<F, T, E>(&self, fut: F) -> Result<T, Error<E>>
    where
        F: Future<Output = Result<T, E>>,
    {
        match tokio::time::timeout(self.duration, fut).await {
            Ok(r) => r.map_err(Error::Inner),
            Err(_) => Err(elapsed(self.duration)),
        }
    }
}

/// The error of a call that ran out of `duration`, counted in `perfstack_timeout_elapsed_total`
/// (shared by [`Timeout::call`] and the tower layer).
pub(crate) fn elapsed<E>(duration: Duration) -> Error<E> {
    metrics::counter!("perfstack_timeout_elapsed_total").increment(1);
    Error::Timeout(duration)
}
