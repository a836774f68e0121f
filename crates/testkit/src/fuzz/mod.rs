//! Config and input fuzzing (TESTING.md §3): every public builder and every setter that takes
//! a duration, size, ratio or name gets the values users pass by mistake, and each input must
//! give a build error or a working object that survives one use.
//!
//! - Strategies: [`durations`], [`u32s`], [`u64s`], [`usizes`], [`f64s`], [`ratios`],
//!   [`names`], and JSON fragments for serde configurations ([`json_integers`],
//!   [`json_floats`], [`json_durations`], [`json_string`]).
//! - [`Fuzz`] draws inputs with proptest and runs each with [`run_case`]: on a thread of its
//!   own, one case at a time, failed on a **panic** (on any thread during the case, tokio tasks
//!   included), a **hang** (no return within 2 s of real time: a hang guard, not a timing
//!   claim), an **allocation** of 256 MiB or more at once (stopped before the system allocator
//!   sees it), or a live heap that **grew** by more than 256 MiB. An **abort** cannot be caught,
//!   so each input is written to stderr before its case runs (`PERFSTACK_FUZZ_ECHO=0` turns
//!   that off); the allocator's own abort path and the case thread's name
//!   (`fuzz <property> #<n>`, shown by Rust's stack-overflow and panic messages) repeat it. A
//!   failure is shrunk and reported with the seed that replays it (`PERFSTACK_FUZZ_SEED`).
//! - [`BoundedAlloc`] is the global allocator a fuzz test binary installs for the memory
//!   bound (decision 0005); [`block_on`] runs async uses on a fresh real-time runtime.
//!
//! ```
//! use perfstack_testkit::fuzz::{self, BoundedAlloc, Fuzz};
//!
//! #[global_allocator]
//! static ALLOC: BoundedAlloc = BoundedAlloc::new();
//!
//! fn main() {
//!     Fuzz::new("u32::checked_mul").cases(8).run((fuzz::u32s(), fuzz::u32s()), |(a, b)| {
//!         let _ = a.checked_mul(b); // a build error (None) or a value: never a panic
//!     });
//! }
//! ```

mod alloc;
mod case;
mod echo;
mod error;
mod json;
mod panics;
mod runner;
mod runtime;
#[cfg(test)]
mod tests;
mod values;

pub use alloc::BoundedAlloc;
pub use case::{run_case, Bounds};
pub use error::CaseFailure;
pub use json::{json_durations, json_floats, json_integers, json_string};
pub use runner::Fuzz;
pub use runtime::block_on;
pub use values::{durations, f64s, names, ratios, u32s, u64s, usizes, MIB};
