#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod backoff;
mod breaker;
mod budget;
mod bulkhead;
mod clock;
mod counter;
mod degradation;
mod error;
mod fallback;
mod hedge;
mod pipeline;
mod priority;
mod retry;
mod throttle;
mod timeout;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;

pub use backoff::Backoff;
pub use breaker::{
    BreakerBuilder, BreakerConfig, BreakerStats, CircuitBreaker, CircuitOpen, Classifier, ErrIsFailure, Outcome,
    OwnedPermit, Permit, Reason, State, StateChange, WindowConfig,
};
pub use budget::{BudgetBuilder, BudgetConfig, BudgetStats, RetryBudget};
pub use bulkhead::{Bulkhead, BulkheadBuilder, BulkheadConfig, BulkheadFull, BulkheadPermit, BulkheadStats};
pub use clock::{Clock, CoarseClock, ManualClock, TokioClock, TscClock};
pub use degradation::{
    DegradationBuilder, DegradationConfig, DegradationManager, DegradationStats, LevelChange, LevelConfig,
};
pub use error::{ConfigError, Error};
pub use fallback::Fallback;
pub use hedge::{Hedge, HedgeBuilder, HedgeDelay, HedgeStats};
pub use pipeline::{Pipeline, PipelineBuilder};
pub use priority::{ParsePriorityError, Priority};
pub use retry::{BackoffConfig, Retry, RetryBuilder, RetryConfig, RetryStats, Verdict};
pub use throttle::{AdaptiveThrottle, ThrottleBuilder, ThrottleConfig, ThrottleStats};
pub use timeout::Timeout;
