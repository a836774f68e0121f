//! Shared plumbing for perfstack's runnable examples: which services are reachable, and the
//! demo tour that shows one section per crate.
//!
//! Every example binary accepts `--quick` (also `PERFSTACK_QUICK=1`), which CI uses to run it
//! in a few seconds.
#![allow(clippy::print_stdout)]

pub mod services;

/// The README's code samples, compiled and run as doc tests so they cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
pub mod tour;

/// True when the example was started with `--quick` or `PERFSTACK_QUICK=1`.
#[must_use]
pub fn quick_mode() -> bool {
    std::env::args().any(|a| a == "--quick") || std::env::var("PERFSTACK_QUICK").is_ok_and(|v| v == "1")
}
