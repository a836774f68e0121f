//! Deterministic simulations of perfstack under load, run as bench targets by
//! `scripts/bench.sh`. They report through [`perfstack_benches`](../perfstack_benches/index.html)
//! like the criterion benches, but build separately, with tokio's paused clock.
