//! [`ResidentMemory`]: resident set size from `/proc/self/statm` as an overload signal.

use super::signal::check_threshold;
use super::OverloadSignal;
use crate::ConfigError;

/// Resident set size (the resident pages of `/proc/self/statm` times the kernel's page size)
/// divided by a byte limit. Linux only: elsewhere [`rss_bytes`](Self::rss_bytes) is `None`
/// and the pressure stays 0.
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
    pub fn new(limit_bytes: u64) -> Result<Self, ConfigError> {
        let limit_bytes = check_threshold("memory", limit_bytes as f64)?;
        if Self::rss_bytes().is_none() {
            tracing::warn!(
                "resident memory overload signal unsupported here (needs Linux procfs): its pressure stays 0"
            );
        }
        Ok(Self { limit_bytes })
    }

    /// This process's RSS in bytes; `None` where unsupported.
    #[must_use]
    pub fn rss_bytes() -> Option<u64> {
        // `statm` is one short line whatever the process (unlike `status`, which grows with
        // supplementary groups and CPU masks); read without allocating (see `OverloadSignal`).
        let mut buf = [0_u8; 256];
        statm_rss_bytes(super::procfs::read_small("/proc/self/statm", &mut buf)?, page_size())
    }
}

#[cfg(target_os = "linux")]
fn page_size() -> u64 {
    rustix::param::page_size() as u64
}

#[cfg(not(target_os = "linux"))]
fn page_size() -> u64 {
    0
}

/// Resident bytes from the text of `/proc/<pid>/statm` (`size resident shared ...`, in pages).
pub(crate) fn statm_rss_bytes(statm: &str, page_size: u64) -> Option<u64> {
    if page_size == 0 {
        return None;
    }
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    pages.checked_mul(page_size)
}

impl OverloadSignal for ResidentMemory {
    fn pressure(&self) -> f64 {
        Self::rss_bytes().map_or(0.0, |b| b as f64 / self.limit_bytes)
    }
    fn name(&self) -> &'static str {
        "memory"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_pages_times_the_page_size() {
        assert_eq!(statm_rss_bytes("200000 12345 3000 400 0 9000 0\n", 4096), Some(12345 * 4096));
        assert_eq!(statm_rss_bytes("200000 12345 3000 400 0 9000 0\n", 65536), Some(12345 * 65536));
    }

    #[test]
    fn missing_or_odd_statm_gives_none() {
        for bad in ["", "200000", "200000 x 3\n", "1 -5 3\n"] {
            assert_eq!(statm_rss_bytes(bad, 4096), None, "{bad:?}");
        }
        assert_eq!(statm_rss_bytes("1 2 3\n", 0), None);
        assert_eq!(statm_rss_bytes("1 18446744073709551615 3\n", 4096), None, "overflow");
    }
}
