//! Periodic tasks: one leader (a PostgreSQL advisory lock held on a dedicated connection)
//! submits each schedule's task once per time slot.
//!
//! The leader lock keeps the work on one instance; the slot table (`tq_periodic`) makes each
//! slot's submit happen at most once even if two instances briefly both believe they lead
//! (the slot is claimed in the same transaction as the insert).

mod builder;
mod cron;
mod handle;
mod leader;
mod schedule;

pub use builder::Periodic;
pub use cron::Cron;
pub use handle::PeriodicHandle;
