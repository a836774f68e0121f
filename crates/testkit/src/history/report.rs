//! [`Report`]: what the [`Checker`](super::Checker) found, and [`Violation`]: one bad read.

use std::fmt;

use tokio::time::Instant;

/// How many violations [`Report`]'s `Display` lists of each kind.
const LISTED: usize = 5;

/// The outcome of [`Checker::check`](super::Checker::check).
#[derive(Debug, Clone)]
pub struct Report {
    /// Reads recorded (including reads of nothing).
    pub reads: usize,
    /// Successful writes recorded.
    pub writes: usize,
    /// Caller-visible errors recorded: reported, not judged.
    pub errors: usize,
    /// Reads that returned an older version than the bound allows, by read start.
    pub stale: Vec<Violation>,
    /// Reads that returned a version never written, or written only after the read ended, by
    /// read start.
    pub impossible: Vec<Violation>,
}

/// A read the checker rejects.
///
/// For a stale read, `expected_at_least`, `write_instance` and `write_end` describe the
/// largest write it should have seen. For an impossible read, `expected_at_least` is 0, and
/// `write_instance` / `write_end` are those of the earliest-starting write of `returned` if one
/// was recorded (it started after the read ended, so `write_end > read_end`), otherwise the
/// read's own `instance` and `read_end`.
#[derive(Debug, Clone)]
pub struct Violation {
    /// The key read.
    pub key: String,
    /// The instance that read it.
    pub instance: usize,
    /// When the read started.
    pub read_start: Instant,
    /// When it returned.
    pub read_end: Instant,
    /// The version it returned.
    pub returned: u64,
    /// The version it should have seen at least.
    pub expected_at_least: u64,
    /// The instance that wrote `expected_at_least`.
    pub write_instance: usize,
    /// When that write returned.
    pub write_end: Instant,
}

impl Report {
    /// True when no read was stale or impossible. Errors do not count: the test asserts on
    /// [`errors`](Self::errors) itself.
    #[must_use]
    pub fn is_ok(&self) -> bool {
        self.stale.is_empty() && self.impossible.is_empty()
    }

    /// The latest start among stale reads that started at or after `t` (`None`: none), to
    /// measure the time to coherence after a fault.
    #[must_use]
    pub fn last_stale_start_after(&self, t: Instant) -> Option<Instant> {
        self.stale.iter().map(|v| v.read_start).filter(|&start| start >= t).max()
    }

    /// The number of stale reads that started at or after `t`.
    #[must_use]
    pub fn stale_after(&self, t: Instant) -> usize {
        self.stale.iter().filter(|v| v.read_start >= t).count()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} reads, {} writes, {} errors: {} stale, {} impossible",
            self.reads,
            self.writes,
            self.errors,
            self.stale.len(),
            self.impossible.len()
        )?;
        for v in self.stale.iter().take(LISTED) {
            write!(
                f,
                "\n  stale: key {:?} on instance {} returned v{}, expected at least v{} (written by instance {}); \
                 the read started {:?} after that write returned",
                v.key,
                v.instance,
                v.returned,
                v.expected_at_least,
                v.write_instance,
                v.read_start.saturating_duration_since(v.write_end),
            )?;
        }
        more(f, self.stale.len())?;
        for v in self.impossible.iter().take(LISTED) {
            write!(f, "\n  impossible: key {:?} on instance {} returned v{}, ", v.key, v.instance, v.returned)?;
            if v.write_end > v.read_end {
                write!(f, "written only after the read ended (by instance {})", v.write_instance)?;
            } else {
                write!(f, "which no recorded write produced")?;
            }
        }
        more(f, self.impossible.len())
    }
}

fn more(f: &mut fmt::Formatter<'_>, total: usize) -> fmt::Result {
    if total > LISTED {
        write!(f, "\n  ... and {} more", total - LISTED)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn stale_at(start: Instant) -> Violation {
        Violation {
            key: "k".into(),
            instance: 1,
            read_start: start,
            read_end: start + Duration::from_millis(1),
            returned: 1,
            expected_at_least: 2,
            write_instance: 0,
            write_end: start - Duration::from_millis(30),
        }
    }

    #[test]
    fn stale_reads_after_a_time_are_counted_from_their_start() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let ms = |n| t0 + Duration::from_millis(n);
        let report = Report {
            reads: 10,
            writes: 2,
            errors: 1,
            stale: vec![stale_at(ms(10)), stale_at(ms(50)), stale_at(ms(30))],
            impossible: vec![],
        };
        assert!(!report.is_ok());
        assert_eq!(report.stale_after(ms(30)), 2);
        assert_eq!(report.stale_after(ms(51)), 0);
        assert_eq!(report.last_stale_start_after(ms(0)), Some(ms(50)));
        assert_eq!(report.last_stale_start_after(ms(50)), Some(ms(50)));
        assert_eq!(report.last_stale_start_after(ms(51)), None);
    }

    #[test]
    fn display_summarises_and_lists_the_first_violations() {
        let t0 = Instant::now() + Duration::from_secs(1);
        let mut never = stale_at(t0);
        never.expected_at_least = 0;
        never.returned = 9;
        never.write_instance = never.instance;
        never.write_end = never.read_end;
        let report = Report { reads: 10, writes: 2, errors: 1, stale: vec![stale_at(t0); 7], impossible: vec![never] };
        let text = report.to_string();
        assert!(text.starts_with("10 reads, 2 writes, 1 errors: 7 stale, 1 impossible"), "{text}");
        assert_eq!(text.matches("\n  stale:").count(), LISTED, "{text}");
        assert!(text.contains("expected at least v2 (written by instance 0); the read started 30ms after"), "{text}");
        assert!(text.contains("... and 2 more"), "{text}");
        assert!(text.contains("returned v9, which no recorded write produced"), "{text}");
        let ok = Report { reads: 1, writes: 1, errors: 0, stale: vec![], impossible: vec![] };
        assert!(ok.is_ok());
        assert_eq!(ok.to_string(), "1 reads, 1 writes, 0 errors: 0 stale, 0 impossible");
    }
}
