//! [`ProcessCpu`]: process CPU use from `/proc/self/stat` as an overload signal.

use std::time::Duration;

use parking_lot::Mutex;

use super::signal::check_threshold;
use super::OverloadSignal;
use crate::ConfigError;

/// Process CPU use from `/proc/self/stat` (user + system time) between two readings, as a
/// fraction of the machine's cores, divided by a threshold.
///
/// Linux only: elsewhere (no procfs) [`supported`](Self::supported) is false, construction
/// logs a warning, and the pressure stays 0.
#[derive(Debug)]
pub struct ProcessCpu {
    threshold: f64,
    cores: f64,
    last: Mutex<Option<Reading>>,
}

/// The reference point pressure is measured from, and the pressure last measured.
#[derive(Debug, Clone, Copy)]
struct Reading {
    cpu: f64,
    at: tokio::time::Instant,
    pressure: f64,
}

/// Shortest interval measured: `/proc` counts CPU time in clock ticks (10 ms on most kernels),
/// so a shorter one would read mostly rounding.
const MIN_INTERVAL: Duration = Duration::from_millis(10);

/// `/proc/self/stat` is one line of about 52 numbers after a command name of at most 15 bytes:
/// well under this.
const STAT_BUF: usize = 2048;

impl ProcessCpu {
    /// Pressure reaches 1 when the process uses `threshold` of all cores (0.9 = 90 %).
    ///
    /// # Errors
    ///
    /// A threshold that is NaN, infinite or not above zero.
    pub fn new(threshold: f64) -> Result<Self, ConfigError> {
        let threshold = check_threshold("cpu", threshold)?;
        if !Self::supported() {
            tracing::warn!("process CPU overload signal unsupported here (needs Linux procfs): its pressure stays 0");
        }
        let cores = std::thread::available_parallelism().map_or(1, usize::from) as f64;
        Ok(Self { threshold, cores, last: Mutex::new(None) })
    }

    /// Whether this platform can read process CPU time (Linux with `/proc` mounted).
    #[must_use]
    pub fn supported() -> bool {
        ticks_per_second().is_some() && Self::cpu_seconds().is_some()
    }

    /// CPU seconds used by this process so far; `None` where unsupported.
    #[must_use]
    pub fn cpu_seconds() -> Option<f64> {
        let mut buf = [0_u8; STAT_BUF];
        let stat = super::procfs::read_small("/proc/self/stat", &mut buf)?;
        Some(stat_cpu_ticks(stat)? as f64 / ticks_per_second()?)
    }
}

/// The kernel's clock tick (`sysconf(_SC_CLK_TCK)`), the unit of `/proc/*/stat` times: 100
/// on most builds, but not a constant (some kernels and architectures use others).
#[cfg(target_os = "linux")]
fn ticks_per_second() -> Option<f64> {
    Some(rustix::param::clock_ticks_per_second()).filter(|&t| t > 0).map(|t| t as f64)
}

#[cfg(not(target_os = "linux"))]
fn ticks_per_second() -> Option<f64> {
    None
}

/// `utime + stime` in clock ticks from the text of `/proc/<pid>/stat`.
pub(crate) fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    // Fields after the command name (which may hold spaces and ')') start at the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace();
    let utime: u64 = f.nth(11)?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    utime.checked_add(stime)
}

impl OverloadSignal for ProcessCpu {
    /// CPU use since the previous reading. A reading less than 10 ms after the previous one
    /// returns the pressure last measured and keeps the old reference point: several readers
    /// (two controllers sharing this signal, or a controller's admission and window close)
    /// may read it close together, and a shorter interval must not reset it to 0 (which would
    /// lift shedding while the process is still busy).
    fn pressure(&self) -> f64 {
        let mut last = self.last.lock();
        let now = tokio::time::Instant::now();
        if let Some(r) = *last {
            if now.duration_since(r.at) < MIN_INTERVAL {
                return r.pressure;
            }
        }
        let Some(cpu) = Self::cpu_seconds() else { return 0.0 };
        let pressure = match *last {
            Some(r) => (cpu - r.cpu) / now.duration_since(r.at).as_secs_f64() / self.cores / self.threshold,
            None => 0.0,
        };
        *last = Some(Reading { cpu, at: now, pressure });
        pressure
    }
    fn name(&self) -> &'static str {
        "cpu"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Fields 14 and 15 (utime, stime) are 1234 and 56; the command name holds ") (" and spaces.
    const STAT: &str = "4242 (my (odd) prog) S 1 4242 4242 0 -1 4194560 12345 0 0 0 1234 56 0 0 20 0 5 0 \
                        987654 123456789 2048 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0";

    #[test]
    fn stat_times_are_read_after_the_last_parenthesis() {
        assert_eq!(stat_cpu_ticks(STAT), Some(1290));
    }

    #[test]
    fn malformed_stat_gives_none_not_a_panic() {
        for bad in ["", "4242 (x", "4242 (x) S 1 2", "4242 (x) S 1 2 3 4 5 6 7 8 9 10 -3 4"] {
            assert_eq!(stat_cpu_ticks(bad), None, "{bad:?}");
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_tick_rate_is_the_kernels_not_a_constant() {
        let t = ticks_per_second().unwrap();
        assert_eq!(t, rustix::param::clock_ticks_per_second() as f64);
        assert!((1.0..=100_000.0).contains(&t), "{t}");
    }
}
