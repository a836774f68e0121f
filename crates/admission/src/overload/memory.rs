use super::{check_threshold, OverloadSignal, ThresholdError};

const PAGE: f64 = 4096.0;

/// Resident set size from `/proc/self/statm` divided by a byte limit. Returns 0 where procfs is
/// absent.
#[derive(Debug, Clone)]
pub struct ResidentMemory {
    limit_bytes: f64,
}

impl ResidentMemory {
    /// Pressure reaches 1 at `limit_bytes` of RSS.
    ///
    /// # Errors
    ///
    /// A zero limit.
    pub fn new(limit_bytes: u64) -> Result<Self, ThresholdError> {
        Ok(Self { limit_bytes: check_threshold("memory", limit_bytes as f64)? })
    }

    /// This process's RSS in bytes.
    #[must_use]
    pub fn rss_bytes() -> Option<u64> {
        let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
        let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
        Some((pages * PAGE) as u64)
    }
}

impl OverloadSignal for ResidentMemory {
    fn pressure(&self) -> f64 {
        Self::rss_bytes().map_or(0.0, |b| b as f64 / self.limit_bytes)
    }
    fn name(&self) -> &'static str {
        "memory"
    }
}
