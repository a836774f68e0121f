//! Jepsen-style histories: record every operation of a fault test, then check what the docs
//! promise (TESTING.md §2).
//!
//! A test records each operation with its instance, key, start and end time and result into a
//! [`History`] (a cheap, shareable handle), then a [`Checker`] judges the whole history at once
//! and returns a [`Report`]. All times are [`tokio::time::Instant`]s, so paused-time tests work.
//!
//! # What is checked
//!
//! - **Versions are per key.** Write a counter per key into the values so reads can say which
//!   write they saw. Version 0 is the initial value that precedes every write. Writes of one key
//!   may overlap in time.
//! - **Stale read.** A read `R` of a key that returned version `r` is stale iff some write `W'`
//!   of the same key has `W'.end + bound(R, W') <= R.start` while the write `W_r` that produced
//!   `r` ended before `W'` started (`W_r.end < W'.start`: `r` cannot be linearised after `W'`).
//!   For `r = 0`, `W_r` ends before everything. The violation names the largest such `W'`
//!   ([`Violation::expected_at_least`]).
//! - **Bounds.** `bound(R, W')` is 0 when `R` and `W'` ran on the same instance
//!   (read-your-writes), else the propagation bound ([`Checker::propagation`]), or the largest
//!   bound of a relaxed window ([`Checker::relaxed`]) whose `[from, to)` contains `R.start`, if
//!   that is larger.
//! - **Pending writes.** A write recorded with [`History::write_pending`] (it returned Ok but
//!   is applied on its own instance only until the shared tier confirms it) produces its
//!   version like any write and is judged like one, with one exception: if it *ended* inside a
//!   grace window `[from, to)` ([`Checker::pending_grace`]), reads of *other* instances that
//!   start before the window's `until` are not judged against it (of several windows holding
//!   its end, the latest `until` counts). Put differently, for other instances its bound is
//!   `max(bound(R, W'), until - W'.end)`. Reads on its own instance are always judged against it
//!   (bound 0), and so is every read starting at or after `until`.
//! - **Impossible read.** A read that returned a version (other than 0) that no recorded write
//!   produced, or whose writes all started after the read ended, saw a value from the future or
//!   one never written.
//! - Reads of `None` (nothing cached) are never stale. Errors are counted, not judged: the test
//!   asserts on [`Report::errors`].
//!
//! If several recorded writes produced the same version of a key, a read of it is judged
//! against the ones that started before the read ended, and the latest of their ends: the most
//! lenient reading. A write that failed with an ambiguous error (a timeout) may still have
//! taken effect, but it is not a recorded write: a read returning its version is impossible.
//! Give such writes versions that reads will not return, or record them with [`History::write`]
//! once their effect is known.
//!
//! The check takes O(i · (g + 1) · n log n) for n operations on i instances with g grace
//! windows (one sweep per key, instance and grace deadline), fine for a few hundred thousand
//! operations.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use perfstack_testkit::history::{Checker, History};
//! use tokio::time::Instant;
//!
//! let t0 = Instant::now();
//! let ms = |n| t0 + Duration::from_millis(n);
//! let history = History::new();
//! history.write(0, "user:1", 1, ms(0), ms(5));
//! history.read(0, "user:1", Some(1), ms(6), ms(7)); // the writer sees its write at once
//! history.read(1, "user:1", Some(0), ms(8), ms(9)); // others within the 10 ms bound: fine
//! history.read(1, "user:1", Some(0), ms(20), ms(21)); // past it: stale
//!
//! let report = Checker::new().propagation(Duration::from_millis(10)).check(&history);
//! assert_eq!(report.stale.len(), 1, "{report}");
//! assert_eq!(report.stale[0].expected_at_least, 1);
//! assert!(!report.is_ok());
//! ```

mod checker;
mod handle;
mod index;
mod report;
#[cfg(test)]
mod tests;

pub use checker::Checker;
pub use handle::{History, Op, OpKind};
pub use report::{Report, Violation};
