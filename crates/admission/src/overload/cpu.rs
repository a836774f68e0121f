use std::time::Duration;

use parking_lot::Mutex;

use super::{check_threshold, OverloadSignal, ThresholdError};

/// Linux reports process CPU time in clock ticks of 1/100 s on every mainstream platform.
const TICKS_PER_SEC: f64 = 100.0;

/// Process CPU use from `/proc/self/stat` (user + system time) between two readings, as a
/// fraction of the machine's cores, divided by a threshold. Returns 0 where procfs is absent.
#[derive(Debug)]
pub struct ProcessCpu {
    threshold: f64,
    cores: f64,
    last: Mutex<Option<(f64, tokio::time::Instant)>>,
}

impl ProcessCpu {
    /// Pressure reaches 1 when the process uses `threshold` of all cores (0.9 = 90 %).
    ///
    /// # Errors
    ///
    /// A threshold that is NaN, infinite or not above zero.
    pub fn new(threshold: f64) -> Result<Self, ThresholdError> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        Ok(Self { threshold: check_threshold("cpu", threshold)?, cores, last: Mutex::new(None) })
    }

    /// CPU seconds used by this process so far.
    #[must_use]
    pub fn cpu_seconds() -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces) start at ')'.
        let rest = stat.rsplit_once(')')?.1;
        let mut f = rest.split_whitespace();
        let utime: f64 = f.nth(11)?.parse().ok()?;
        let stime: f64 = f.next()?.parse().ok()?;
        Some((utime + stime) / TICKS_PER_SEC)
    }
}

impl OverloadSignal for ProcessCpu {
    fn pressure(&self) -> f64 {
        let Some(cpu) = Self::cpu_seconds() else { return 0.0 };
        let now = tokio::time::Instant::now();
        let mut last = self.last.lock();
        let prev = last.replace((cpu, now));
        match prev {
            Some((c0, t0)) if now.duration_since(t0) >= Duration::from_millis(10) => {
                let used = (cpu - c0) / now.duration_since(t0).as_secs_f64() / self.cores;
                used / self.threshold
            }
            _ => 0.0,
        }
    }
    fn name(&self) -> &'static str {
        "cpu"
    }
}
