//! Tower middleware for the policies (feature `tower`).
//!
//! One folder per middleware, each in tower's own shape: `FooLayer` makes the service `Foo<S>`,
//! whose future is `foo::future::ResponseFuture`. The services are named like the policy they
//! wrap (`tower::Bulkhead<S>` puts a [`crate::Bulkhead`] in front of `S`), so they live only
//! here, not at the crate root.
//!
//! Every layer holds a policy *handle*: each service it makes, and every clone of those
//! services, shares one state. A "10 concurrent" bulkhead is 10 across all clones, and a
//! breaker opened through one clone is open for all (the classic bug of layers whose clones
//! each build their own state).

pub mod breaker;
pub mod bulkhead;
pub mod fallback;
pub mod hedge;
pub mod retry;
pub mod throttle;
pub mod timeout;

pub use breaker::{Breaker, BreakerLayer};
pub use bulkhead::{Bulkhead, BulkheadLayer};
pub use fallback::{Fallback, FallbackLayer};
pub use hedge::{Hedge, HedgeLayer};
pub use retry::{Retry, RetryLayer};
pub use throttle::{Throttle, ThrottleLayer};
pub use timeout::{Timeout, TimeoutLayer};
