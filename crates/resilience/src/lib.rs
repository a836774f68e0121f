//! Resilience policies for async Rust: a lock-free circuit breaker, retries with backoff and a
//! shared retry budget, timeout, bulkhead, hedging, fallback, client-side adaptive throttling
//! and degradation levels.
//!
//! # Quick start
//!
//! ```
//! use std::time::Duration;
//! use perfstack_resilience::{CircuitBreaker, Priority};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let breaker = CircuitBreaker::builder("inventory").count_window(50).minimum_calls(10).build().unwrap();
//! let answer = breaker.call(async { Ok::<_, std::io::Error>(42) }).await;
//! assert_eq!(answer.unwrap(), 42);
//! assert!(Priority::Critical > Priority::Normal);
//! # }
//! ```
//!
//! # Feature flags
//!
//! - `tower`: tower `Layer`s / `Service`s for the policies; every clone shares one state.
//!
//! # Metrics
//!
//! - `perfstack_breaker_state{name}` gauge (0 closed, 1 open, 2 half-open, 3 forced open,
//!   4 forced closed, 5 disabled)
//! - `perfstack_breaker_transitions_total{name, from, to}` counter
//! - `perfstack_breaker_rejected_total{name}` counter
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

pub mod backoff;
mod breaker;
mod budget;
mod bulkhead;
mod clock;
mod degradation;
mod error;
mod fallback;
mod hedge;
#[cfg(feature = "tower")]
pub mod layer;
mod pipeline;
mod priority;
mod retry;
mod throttle;
mod timeout;

pub use backoff::Backoff;
pub use breaker::{
    BreakerBuilder, BreakerConfig, BreakerStats, CircuitBreaker, CircuitOpen, Classifier, ErrIsFailure, Outcome,
    OwnedPermit, Permit, Reason, State, StateChange, WindowConfig,
};
pub use budget::{BudgetBuilder, BudgetConfig, BudgetStats, RetryBudget};
pub use bulkhead::{Bulkhead, BulkheadBuilder, BulkheadConfig, BulkheadFull, BulkheadPermit, BulkheadStats};
pub use clock::{Clock, CoarseClock, ManualClock, TokioClock};
pub use degradation::{DegradationBuilder, DegradationManager, DegradationStats, LevelChange};
pub use error::{ConfigError, Error};
pub use fallback::Fallback;
pub use hedge::{Hedge, HedgeBuilder, HedgeDelay, HedgeStats};
pub use pipeline::{Pipeline, PipelineBuilder};
pub use priority::{ParsePriorityError, Priority};
pub use retry::{BackoffConfig, Retry, RetryBuilder, RetryConfig, RetryStats, Verdict};
pub use throttle::{AdaptiveThrottle, ThrottleBuilder, ThrottleStats};
pub use timeout::Timeout;
