//! A bounded, open-loop load generator.
//!
//! Requests start on a schedule whether or not earlier ones have finished, and each latency is
//! measured from the request's *scheduled* start, so a server that stalls cannot hide its
//! queueing by slowing the generator down (coordinated omission). Every run is bounded in
//! count and in time. It uses `tokio::time`, so under a paused clock it is deterministic.

mod error;
mod open_loop;
mod report;
mod schedule;

pub use error::LoadError;
pub use open_loop::OpenLoop;
pub use report::LoadReport;
pub use schedule::Arrivals;
