//! The durable backend on PostgreSQL (feature `postgres`).
//!
//! - Versioned migrations, applied by [`PostgresBackend::connect`] under an advisory lock, in a
//!   configurable schema ([`PostgresConfig::schema`]).
//! - Batched fetch with `FOR UPDATE SKIP LOCKED`, ordered by the aged sort time and run-at.
//! - LISTEN/NOTIFY for fast pickup (the notification is sent by the insert, so it is delivered
//!   only if the inserting transaction commits); polling is the fallback.
//! - Leases with heartbeats and a fencing token per lease: a task whose worker died is rescued
//!   after its lease expires, and the old worker's late writes are rejected.
//! - Batched outcome writes (one `UPDATE … FROM unnest(…)` per batch); an outcome the
//!   database refuses is isolated by splitting the batch and its task dead-lettered with the
//!   reason, so it never fails the others.
//! - [`PostgresBackend::submit_in`]: enqueue inside the caller's transaction;
//!   [`PostgresBackend::complete_in`]: complete inside the handler's transaction, checked
//!   against the fencing token, for exactly-once effects.
//! - [`PostgresBackend::cleanup`](crate::Backend::cleanup): retention of finished tasks.
//! - A bound on pending + running tasks ([`PostgresConfig::max_pending`]): `submit` waits or
//!   fails with [`QueueError::Full`](crate::QueueError::Full), as the memory backend does
//!   ([`WhenFull`](crate::WhenFull)).
//! - Prompt cancellation of running tasks: `cancel` sends a NOTIFY that the owning pool turns
//!   into the task's token firing; the heartbeat remains the fallback.
//! - [`Periodic`]: periodic tasks (fixed period or [`Cron`] expression) scheduled by one leader
//!   (advisory lock), each slot at most once.

mod capacity;
mod config;
mod handle;
mod listen;
mod migrations;
mod outcomes;
mod periodic;
mod rows;
mod sql;

pub use config::{PostgresConfig, MAX_FULL_WAIT};
pub use handle::PostgresBackend;
pub use migrations::MIGRATIONS;
pub use periodic::{Cron, Periodic, PeriodicHandle};
