//! A hot-key expiry storm in virtual time (paused tokio clock): loader calls of naive
//! cache-aside against the tiered cache.
//!
//! Lives in `perfstack-sims`, apart from the criterion micro-benches, because a paused clock
//! needs tokio's `test-util`, which makes every `tokio::time::Instant::now()` slower.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout, missing_docs)]

mod storm;

use perfstack_benches::{quick, record, Figure, Goal, Measure};

const KRATE: &str = "tiered-cache";

fn main() {
    let r = storm::run(quick());
    record(&Figure {
        krate: KRATE.into(),
        figure: "loader calls in the peak 100 ms of a hot-key expiry storm: naive cache-aside / tiered cache".into(),
        unit: "ratio".into(),
        value: Measure::Value(r.naive_peak as f64 / r.tiered_peak.max(1) as f64),
        baseline: None,
        goal: Goal::AtLeast(13.0),
        note: format!(
            "{} hot keys, {} req/s each, {} s virtual time, loader 50 ms: peak naive {} vs tiered {}; total loader calls {} vs {}",
            r.keys, r.rate_per_key, r.secs, r.naive_peak, r.tiered_peak, r.naive_total, r.tiered_total
        ),
    });
    let _ = perfstack_benches::write_section(KRATE, "20-storm", &r.markdown());
}
