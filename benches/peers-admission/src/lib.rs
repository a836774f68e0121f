//! Bench-only package: see `benches/admission_peers.rs`. It has no library code; it exists so
//! that `tower_governor`'s governor features stay out of the `perfstack-benches` build.
