//! A timeout on tokio's timer.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::counter::LazyCounter;
use crate::error::{check_nonzero_duration, ConfigError, Error};

/// Fails a call that takes longer than a fixed duration; the call is dropped (cancelled).
/// Cheap to clone; clones share the name and the elapsed-timeouts counter.
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
#[derive(Debug, Clone)]
pub struct Timeout {
    duration: Duration,
    /// `perfstack_resilience_timeout_elapsed_total{name}`.
    elapsed: Arc<LazyCounter>,
}

impl Timeout {
    /// A timeout of `duration`, named `"default"` in metric labels.
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroDuration`] for a zero duration.
    pub fn new(duration: Duration) -> Result<Self, ConfigError> {
        Ok(Self { duration: check_nonzero_duration("timeout", duration)?, elapsed: counter(Arc::from("default")) })
    }

    /// The same timeout under `name` in metric labels (`name="..."`).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use perfstack_resilience::Timeout;
    ///
    /// let t = Timeout::new(Duration::from_millis(300)).unwrap().with_name("inventory");
    /// assert_eq!(t.name(), "inventory");
    /// ```
    #[must_use]
    pub fn with_name(self, name: impl Into<Arc<str>>) -> Self {
        Self { duration: self.duration, elapsed: counter(name.into()) }
    }

    /// The name in metric labels.
    #[must_use]
    pub fn name(&self) -> &str {
        self.elapsed.name()
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
            Err(_) => Err(self.elapsed()),
        }
    }

    /// The error of a call that ran out of time, counted in
    /// `perfstack_resilience_timeout_elapsed_total` (shared by [`call`](Self::call) and the
    /// tower layer).
    pub(crate) fn elapsed<E>(&self) -> Error<E> {
        self.elapsed.increment();
        Error::Timeout(self.duration)
    }
}

fn counter(name: Arc<str>) -> Arc<LazyCounter> {
    Arc::new(LazyCounter::new("perfstack_resilience_timeout_elapsed_total", name))
}
