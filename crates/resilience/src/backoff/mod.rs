//! Delay schedules for retries: the [`Backoff`] trait and its four built-in schedules.
//!
//! The schedules are stateless (`delay(attempt)`), so one schedule value is shared by every
//! retry loop and by durable task queues that only store the attempt number. [`Delays`] turns a
//! schedule into an iterator that is also a [`backon::Backoff`], and [`BackonSchedule`] turns
//! any `backon` builder into a [`Backoff`].

mod adapter;
mod api;
mod constant;
mod decorrelated;
mod exponential;
mod fibonacci;
mod jitter;

pub use adapter::BackonSchedule;
pub use api::{Backoff, Delays};
pub use constant::Constant;
pub use decorrelated::DecorrelatedJitter;
pub use exponential::Exponential;
pub use fibonacci::Fibonacci;
pub use jitter::Jitter;
