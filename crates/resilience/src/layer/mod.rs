//! Tower layers for the policies (feature `tower`).
//!
//! Every layer holds a policy *handle*: each service it makes, and every clone of those
//! services, shares one state. A "10 concurrent" bulkhead is 10 across all clones, and a
//! breaker opened through one clone is open for all (the classic bug of layers whose clones
//! each build their own state).

mod breaker;
mod bulkhead;
mod fallback;
mod hedge;
mod retry;
mod throttle;
mod timeout;

pub use breaker::{BreakerFuture, BreakerLayer, BreakerService};
pub use bulkhead::{BulkheadFuture, BulkheadLayer, BulkheadService};
pub use fallback::{FallbackFuture, FallbackLayer, FallbackService};
pub use hedge::{HedgeLayer, HedgeService};
pub use retry::{RetryLayer, RetryService};
pub use throttle::{ThrottleFuture, ThrottleLayer, ThrottleService};
pub use timeout::{TimeoutFuture, TimeoutLayer, TimeoutService};

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable response future.
pub type BoxResponseFuture<T, E> = Pin<Box<dyn Future<Output = Result<T, E>> + Send>>;
