//! [`RateLimitStore`]: a rate limit whose state lives elsewhere (Redis) and needs I/O.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

/// Why a [`RateLimitStore`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreRefusal {
    /// Over the limit; retry after this long.
    Limited(Duration),
    /// The store cannot be reached and its policy is to refuse (fail closed).
    Unavailable,
}

/// The future a [`RateLimitStore`] returns.
pub type StoreFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StoreRefusal>> + Send + 'a>>;

/// A rate limit whose state lives elsewhere (Redis) and needs I/O to check. The controller
/// checks it in [`acquire`](crate::AdmissionController::acquire) and
/// [`acquire_now`](crate::AdmissionController::acquire_now) only once the request is admitted
/// locally (it holds its concurrency slot while the store answers, and gives it back if the
/// store refuses), so a request refused locally spends no distributed cell;
/// [`try_acquire`](crate::AdmissionController::try_acquire) never does I/O and skips it.
pub trait RateLimitStore: Send + Sync + Debug + 'static {
    /// Takes one cell for `key` (or the store's own key when `None`).
    fn check<'a>(&'a self, key: Option<&'a str>) -> StoreFuture<'a>;
}
