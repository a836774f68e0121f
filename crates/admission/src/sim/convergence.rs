//! [`Convergence`]: how fast a limit settles after a load step, and recovers after it.

use serde::Serialize;

use super::SimReport;

/// How a limit reacts to a load step up at window `step` and back down at window `drop`
/// (Breakwater's scenario), from [`SimReport::convergence`].
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Convergence {
    /// Windows after the step until the limit stays within ±`tolerance` of its mean over the
    /// second half of the loaded phase.
    pub settle: usize,
    /// The unloaded level: median limit over the 10 windows before the step.
    pub before: f64,
    /// Windows after the drop until the limit is back to at least `(1 − tolerance) × before`
    /// (counting the window it gets there; `usize::MAX` if it never does). One-sided: the
    /// question is whether a limit that fell under overload has climbed back; one that rose
    /// while loaded and keeps that level has lost nothing (decisions 0034, 0038).
    pub recover: usize,
}

impl SimReport {
    /// Settling and recovery of the limit around a load step (windows of 100 ms).
    /// Out-of-range windows give `settle = drop - step` and `recover = usize::MAX`.
    #[must_use]
    pub fn convergence(&self, step: usize, drop: usize, tolerance: f64) -> Convergence {
        let limits: Vec<f64> = self.windows.iter().map(|w| w.limit as f64).collect();
        let loaded = limits.get(step..drop).unwrap_or(&[]);
        let tail = &loaded[loaded.len() / 2..];
        let level = if tail.is_empty() { 0.0 } else { tail.iter().sum::<f64>() / tail.len() as f64 };
        let settle = (0..loaded.len())
            .find(|&i| loaded[i..].iter().all(|l| (l - level).abs() <= tolerance * level))
            .unwrap_or(loaded.len());
        let mut pre: Vec<f64> = limits.get(step.saturating_sub(10)..step).unwrap_or(&[]).to_vec();
        pre.sort_by(f64::total_cmp);
        let before = pre.get(pre.len() / 2).copied().unwrap_or(0.0);
        let recover = limits
            .get(drop..)
            .unwrap_or(&[])
            .iter()
            .position(|l| *l >= (1.0 - tolerance) * before)
            .map_or(usize::MAX, |i| i + 1);
        Convergence { settle, before, recover }
    }
}
