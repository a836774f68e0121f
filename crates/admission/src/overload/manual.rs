//! [`ManualPressure`]: a pressure set by hand.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::OverloadSignal;

/// A pressure set by hand (tests, or a host's own detector); clones share it.
///
/// # Examples
///
/// ```
/// use perfstack_admission::overload::{ManualPressure, OverloadSignal};
/// let p = ManualPressure::default();
/// p.set(1.25);
/// assert_eq!(p.pressure(), 1.25);
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualPressure(Arc<AtomicU64>);

impl ManualPressure {
    /// Sets the pressure.
    pub fn set(&self, pressure: f64) {
        self.0.store(pressure.to_bits(), Ordering::Relaxed);
    }
}

impl OverloadSignal for ManualPressure {
    fn pressure(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
    fn name(&self) -> &'static str {
        "manual"
    }
}
