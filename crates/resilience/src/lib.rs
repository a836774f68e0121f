//! Resilience policies for async Rust: a lock-free circuit breaker, retries with backoff and a
//! shared retry budget, timeout, bulkhead, hedging, fallback, client-side adaptive throttling
//! and degradation levels, usable one by one, stacked in a [`Pipeline`], or as tower layers.
//!
//! # Quick start
//!
//! ```
//! use std::time::Duration;
//! use perfstack_resilience::backoff::Exponential;
//! use perfstack_resilience::{CircuitBreaker, Fallback, Pipeline, Retry, RetryBudget, Timeout};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let budget = RetryBudget::builder().ratio(0.1).min_per_second(10).build()?; // share it
//! let pipeline = Pipeline::builder()
//!     .retry(Retry::builder("inventory").max_attempts(3)
//!         .backoff(Exponential::new(Duration::from_millis(50), Duration::from_secs(2)))
//!         .budget(budget.clone()).build()?)
//!     .breaker(CircuitBreaker::builder("inventory").count_window(100).minimum_calls(20).build()?)
//!     .timeout(Timeout::new(Duration::from_millis(300))?)
//!     .build();
//! let fallback = Fallback::value(Vec::<u32>::new());
//! let stock = fallback.call(pipeline.call(|| async { Ok::<_, std::io::Error>(vec![1, 2, 3]) })).await?;
//! assert_eq!(stock, vec![1, 2, 3]);
//! # Ok(()) }
//! ```
//!
//! The breaker alone, without async: `breaker.try_acquire()` gives a [`Permit`]; report with
//! `permit.success()` / `permit.failure()`. In the closed state that is one atomic load and
//! one ring-slot swap (no lock, no allocation).
//!
//! # What each part guarantees
//!
//! - [`CircuitBreaker`]: count- or time-based sliding window with O(1) aggregation,
//!   failure-rate and slow-call-rate thresholds, minimum calls, fixed or backoff open duration,
//!   **exactly N half-open probes** under any contention, outcomes of an earlier generation
//!   ignored (a call that started before the breaker opened cannot close it), manual
//!   force-open / force-closed / disable / reset, events, a [`Classifier`].
//! - [`Retry`]: any [`Backoff`] schedule (exponential with full jitter, decorrelated jitter,
//!   constant, fibonacci, or any `backon` builder), max attempts, max elapsed time, a retry-if
//!   [`Verdict`] with Retry-After hints.
//! - [`RetryBudget`]: retries and hedges as a ratio of recent requests plus a minimum per
//!   second; a retry takes its token when it is *decided*, before its backoff sleep.
//! - [`Timeout`], [`Bulkhead`] (cap + bounded queue + max wait), [`Hedge`] (fixed or
//!   observed-quantile delay, loser cancelled, budgeted), [`Fallback`], [`AdaptiveThrottle`]
//!   (Google SRE client-side throttling), [`DegradationManager`] (levels with hysteresis).
//! - [`Pipeline`]: one fixed order, **hedge → retry → throttle → breaker → bulkhead → timeout
//!   → call**; a hedge backup is a whole new run of the inner stack, and retries and backups
//!   draw from one budget with one deposit per call.
//! - Invalid settings are refused by `build()` with a [`ConfigError`], never a panic later;
//!   sizes have documented limits (a count window of at most 100 000 calls, at most 4 096
//!   buckets or slots in a time window, the throttle and the budget), so no setting makes
//!   `build()` allocate without bound, and every built-in backoff schedule answers any attempt
//!   number in O(1) or O(log n).
//!
//! # Feature flags
//!
//! - `tower` (off by default): the `layer` module has `BreakerLayer`, `BulkheadLayer`, `RetryLayer`,
//!   `TimeoutLayer`, `ThrottleLayer`, `HedgeLayer` and `FallbackLayer` (outermost: it answers the
//!   `Error<E>` of the layers under it); every clone of a layer or service shares one policy
//!   state.
//!
//! # Metrics
//!
//! Through the `metrics` facade (names `perfstack_<what>_<unit>`); nothing is emitted per call
//! on a closed breaker's hot path.
//!
//! | metric | kind | labels |
//! |---|---|---|
//! | `perfstack_breaker_state` | gauge (0 closed, 1 open, 2 half-open, 3 forced open, 4 forced closed, 5 disabled) | `name` |
//! | `perfstack_breaker_transitions_total` | counter | `name`, `from`, `to` |
//! | `perfstack_breaker_rejected_total` | counter | `name` |
//! | `perfstack_retry_attempts_total` | counter (retries, not first tries) | `name` |
//! | `perfstack_retry_budget_exhausted_total` | counter | `name` (builder `.name(..)`, default `"default"`) |
//! | `perfstack_bulkhead_rejected_total` | counter | `name` |
//! | `perfstack_timeout_elapsed_total` | counter | |
//! | `perfstack_hedge_backups_total` | counter | `name` (builder `.name(..)`, default `"default"`) |
//! | `perfstack_throttle_rejected_total` | counter | |
//! | `perfstack_fallback_used_total` | counter | |
//! | `perfstack_degradation_level` | gauge (level index, 0 = normal) | |
//!
//! The rejection counters register their handle on the first rejection (so a refused call
//! builds no metric key); install the recorder before traffic. Every policy also has a serde
//! `stats()` snapshot, and state changes are `tracing` events.
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
