//! [`Fuzz`]: runs a property's cases, drawn by proptest, each under the case bounds.

use std::cell::{Cell, RefCell};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use proptest::strategy::Strategy;
use proptest::test_runner::{Config, RngSeed, TestCaseError, TestError, TestRunner};

use super::case::{run_case, Bounds};
use super::echo::{announce, render, shorten, ECHO_MAX, REPORT_MAX};
use super::panics::HarnessThread;

/// Shrinking stops after this many steps, or this long: edge values are already small, and a
/// failing case may cost a full time bound.
const MAX_SHRINK_ITERS: u32 = 256;
const MAX_SHRINK_MILLIS: u32 = 10_000;

/// One fuzzed property: inputs drawn from a proptest strategy, each run by
/// [`run_case`](super::run_case) under a time bound and a memory bound. A failure panics with
/// the property, the failure, the (shrunk) input and the seed to replay it.
///
/// Environment: `PERFSTACK_FUZZ_SEED` fixes the seed (printed with every failure),
/// `PERFSTACK_FUZZ_CASES` overrides every property's case count (for a longer run),
/// `PERFSTACK_FUZZ_ECHO=0` stops echoing each input to stderr before it runs.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use perfstack_testkit::fuzz::{self, BoundedAlloc, Fuzz};
///
/// #[global_allocator]
/// static ALLOC: BoundedAlloc = BoundedAlloc::new();
///
/// /// The builder under test: refuses a zero timeout.
/// fn timeout(d: Duration) -> Result<Duration, &'static str> {
///     if d.is_zero() { Err("zero") } else { Ok(d) }
/// }
///
/// fn main() {
///     Fuzz::new("timeout").cases(16).run(fuzz::durations(), |d| {
///         if let Ok(t) = timeout(d) {
///             // One use: a deadline that does not overflow.
///             let _ = std::time::Instant::now().checked_add(t);
///         }
///     });
/// }
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Fuzz {
    property: String,
    cases: u32,
    bounds: Bounds,
}

impl Fuzz {
    /// A property named `property` (use the API it exercises: `"CircuitBreaker::builder"`), with
    /// 128 cases and the default [`Bounds`] (2 s, 256 MiB).
    pub fn new(property: impl Into<String>) -> Self {
        Self { property: property.into(), cases: 128, bounds: Bounds::default() }
    }

    /// How many inputs to draw.
    pub fn cases(mut self, n: u32) -> Self {
        self.cases = n;
        self
    }

    /// Real time a case may take before it counts as hung (a hang guard, not a timing claim).
    pub fn time_bound(mut self, bound: Duration) -> Self {
        self.bounds.time = bound;
        self
    }

    /// Live-heap growth a case may cause, and the size at which one allocation is refused.
    pub fn memory_bound(mut self, bytes: usize) -> Self {
        self.bounds.memory = bytes;
        self
    }

    /// Runs `case` on inputs drawn from `strategy`; a failing input is shrunk (unless its case
    /// left a thread behind) and reported.
    ///
    /// # Panics
    ///
    /// On the first failing property, with its report.
    pub fn run<S, F>(&self, strategy: S, case: F)
    where
        S: Strategy,
        S::Value: Debug + Send + 'static,
        F: Fn(S::Value) + Send + Sync + 'static,
    {
        let _harness = HarnessThread::enter();
        let seed = seed();
        let config = Config {
            cases: cases_override().unwrap_or(self.cases),
            max_shrink_iters: MAX_SHRINK_ITERS,
            max_shrink_time: MAX_SHRINK_MILLIS,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(seed),
            ..Config::default()
        };
        let case = Arc::new(case);
        let n = Cell::new(0_u64);
        // After a case leaves a thread behind, no further case runs: every later (shrunk) input
        // "passes", so proptest reports the one that failed.
        let stopped = Cell::new(false);
        let first = RefCell::new(None::<String>);
        let result = TestRunner::new(config).run(&strategy, |input| {
            if stopped.get() {
                return Ok(());
            }
            n.set(n.get() + 1);
            let label = format!("{} #{}", self.property, n.get());
            let rendered = render(&input, REPORT_MAX);
            announce(&label, &shorten(rendered.clone(), ECHO_MAX));
            let case = Arc::clone(&case);
            match run_case(&self.bounds, &label, input, move |i| (*case)(i)) {
                Ok(()) => Ok(()),
                Err(failure) => {
                    stopped.set(failure.leaves_thread_behind());
                    let reason = failure.to_string();
                    first.borrow_mut().get_or_insert_with(|| format!("{rendered}\n      {reason}"));
                    Err(TestCaseError::fail(reason))
                }
            }
        });
        match result {
            Ok(()) => {}
            Err(TestError::Fail(reason, input)) => panic!(
                "fuzz property `{}` failed: {reason}\n  input: {}\n  first failing input: {}\n  seed: {seed} \
                 (replay with PERFSTACK_FUZZ_SEED={seed})",
                self.property,
                render(&input, REPORT_MAX),
                first.borrow().as_deref().unwrap_or("(the same)"),
            ),
            Err(TestError::Abort(reason)) => panic!("fuzz property `{}` aborted: {reason}", self.property),
        }
    }

    /// Runs `case` on one given input (a regression, a known bad value) under the same bounds.
    ///
    /// # Panics
    ///
    /// When the case fails, with its report.
    pub fn check<I, F>(&self, input: I, case: F)
    where
        I: Debug + Send + 'static,
        F: FnOnce(I) + Send + 'static,
    {
        let _harness = HarnessThread::enter();
        let label = format!("{} (given input)", self.property);
        let rendered = render(&input, REPORT_MAX);
        announce(&label, &shorten(rendered.clone(), ECHO_MAX));
        if let Err(failure) = run_case(&self.bounds, &label, input, case) {
            panic!("fuzz property `{}` failed: {failure}\n  input: {rendered}", self.property);
        }
    }
}

fn seed() -> u64 {
    std::env::var("PERFSTACK_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(rand::random)
}

fn cases_override() -> Option<u32> {
    std::env::var("PERFSTACK_FUZZ_CASES").ok().and_then(|s| s.parse().ok())
}
