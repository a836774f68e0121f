use super::{check_threshold, OverloadSignal, ThresholdError};

/// Resident set size (`VmRSS` of `/proc/self/status`, in kB, so no page-size assumption)
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
    pub fn new(limit_bytes: u64) -> Result<Self, ThresholdError> {
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
        // About 1.5 kB on current kernels; read without allocating (see `OverloadSignal`).
        let mut buf = [0_u8; 8192];
        status_vm_rss_bytes(super::procfs::read_small("/proc/self/status", &mut buf)?)
    }
}

/// `VmRSS` from the text of `/proc/<pid>/status` (`VmRSS:\t  12345 kB`), in bytes.
pub(crate) fn status_vm_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?;
    let mut f = line.split_whitespace();
    let kib: u64 = f.next()?.parse().ok()?;
    // The kernel always writes kB (KiB); anything else is not a format we know.
    (f.next()? == "kB").then_some(())?;
    kib.checked_mul(1024)
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

    const STATUS: &str = "Name:\tperfstack\nUmask:\t0022\nState:\tS (sleeping)\nVmPeak:\t  900000 kB\n\
                          VmSize:\t  800000 kB\nVmHWM:\t   20000 kB\nVmRSS:\t   12345 kB\nRssAnon:\t    8000 kB\n";

    #[test]
    fn vm_rss_is_read_in_kib() {
        assert_eq!(status_vm_rss_bytes(STATUS), Some(12345 * 1024));
    }

    #[test]
    fn missing_or_odd_vm_rss_gives_none() {
        for bad in ["", "Name:\tx\n", "VmRSS:\n", "VmRSS:\t 12 MB\n", "VmRSS:\t x kB\n"] {
            assert_eq!(status_vm_rss_bytes(bad), None, "{bad:?}");
        }
    }
}
