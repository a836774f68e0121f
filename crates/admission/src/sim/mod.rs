//! A deterministic, open-loop overload simulation in virtual time, and the same run in real time.
//!
//! Requests arrive as a Poisson process (a seeded generator, so every run is the same) into a
//! server model with `workers` slots and a FIFO queue in front of them, each served for a time
//! drawn from a [`ServiceTime`] (narrow, bimodal, lognormal or Pareto); the server does not
//! know about client deadlines, so work for a client that gave up is still done (what makes an
//! uncontrolled server collapse). A client waits at most its deadline (1 s by default); latency
//! counts from the *scheduled* arrival, so queueing is never hidden. The real
//! [`AdmissionController`] sits in front of the server.
//!
//! For a simulation, call [`run`] inside a current-thread tokio runtime *started* paused
//! (`#[tokio::test(start_paused = true)]`, or `Builder::start_paused(true)`): a minute of
//! traffic then runs in well under a second. Pausing later (`tokio::time::pause()`) leaves
//! virtual time misaligned with the timer's 1 ms ticks, which adds up to 1 ms to every
//! service time and lowers the server's real capacity by about 10 %.
//!
//! On a runtime with the real clock the same [`run`] is a bounded real-time load run: the
//! server's handler really sleeps, in-process, for the scenario's length (the benches use it
//! beside the simulation; decision 0038). Real sleeps wake on the timer's 1 ms ticks, so measure
//! the server's capacity in the same run rather than trusting [`ServerModel::capacity`].
//!
//! [`AdmissionController`]: crate::AdmissionController

mod convergence;
mod error;
mod report;
mod rng;
mod run;
mod scenario;
mod server;
mod service;

pub use convergence::Convergence;
pub use error::ScenarioError;
pub use report::{ClassReport, SimReport, WindowPoint};
pub use rng::SplitMix64;
pub use run::run;
pub use scenario::{Phase, Scenario, ServerModel, Strategy};
pub use service::ServiceTime;
