//! What counts as a failure.

use super::core::Outcome;

/// Decides how a call's result counts for the breaker (and for retries in a pipeline).
///
/// Closures `Fn(&Result<T, E>) -> Outcome` are classifiers.
///
/// # Examples
///
/// ```
/// use perfstack_resilience::{Classifier, Outcome};
///
/// // An HTTP-like status: 5xx is a failure, 4xx is the caller's fault and not recorded.
/// let by_status = |r: &Result<u16, std::io::Error>| match r {
///     Ok(s) if *s >= 500 => Outcome::Failure,
///     Ok(s) if *s >= 400 => Outcome::Ignore,
///     Ok(_) => Outcome::Success,
///     Err(_) => Outcome::Failure,
/// };
/// assert_eq!(by_status.classify(&Ok(503)), Outcome::Failure);
/// assert_eq!(by_status.classify(&Ok(404)), Outcome::Ignore);
/// ```
pub trait Classifier<T, E>: Send + Sync {
    /// The outcome of `result`.
    fn classify(&self, result: &Result<T, E>) -> Outcome;
}

impl<T, E, F> Classifier<T, E> for F
where
    F: Fn(&Result<T, E>) -> Outcome + Send + Sync,
{
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        self(result)
    }
}

/// The default classifier: `Ok` is a success, `Err` a failure.
#[derive(Debug, Clone, Copy, Default)]
pub struct ErrIsFailure;

impl<T, E> Classifier<T, E> for ErrIsFailure {
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        if result.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }
}
