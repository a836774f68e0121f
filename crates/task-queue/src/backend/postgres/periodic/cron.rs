//! Five-field cron expressions (`minute hour day-of-month month day-of-week`, UTC), enough for
//! periodic tasks: `*`, numbers, ranges `a-b`, lists `a,b`, steps `*/n` and `a-b/n`.
//! Day-of-week is 0–6 with 0 = Sunday (7 is accepted as Sunday). As in classic cron, when both
//! day fields are restricted a day matches if either does.

use crate::error::ConfigError;

/// A parsed cron expression.
///
/// # Examples
///
/// ```
/// use perfstack_task_queue::postgres::Cron;
///
/// let every_5_min = Cron::parse("*/5 * * * *").unwrap();
/// // 1970-01-01 00:10 UTC is minute 10.
/// assert!(every_5_min.matches_minute(10));
/// assert!(!every_5_min.matches_minute(11));
/// assert!(Cron::parse("61 * * * *").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minute: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    dom_any: bool,
    dow_any: bool,
}

fn field(spec: &str, lo: u64, hi: u64, expr: &str) -> Result<(u64, bool), ConfigError> {
    let bad = || ConfigError::InvalidCron(expr.to_string());
    let mut bits = 0u64;
    for part in spec.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, s.parse::<u64>().map_err(|_| bad())?),
            None => (part, 1),
        };
        if step == 0 {
            return Err(bad());
        }
        let (a, b) = if range == "*" {
            (lo, hi)
        } else if let Some((a, b)) = range.split_once('-') {
            (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?)
        } else {
            let v: u64 = range.parse().map_err(|_| bad())?;
            (v, if part.contains('/') { hi } else { v })
        };
        if a < lo || b > hi || a > b {
            return Err(bad());
        }
        let mut v = a;
        while v <= b {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, spec == "*"))
}

impl Cron {
    /// Parses `minute hour day-of-month month day-of-week`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidCron`] for anything else.
    pub fn parse(expr: &str) -> Result<Self, ConfigError> {
        let parts: Vec<&str> = expr.split_whitespace().collect();
        let [mi, h, dom, mo, dow] = parts.as_slice() else {
            return Err(ConfigError::InvalidCron(expr.to_string()));
        };
        let (minute, _) = field(mi, 0, 59, expr)?;
        let (hour, _) = field(h, 0, 23, expr)?;
        let (dom, dom_any) = field(dom, 1, 31, expr)?;
        let (month, _) = field(mo, 1, 12, expr)?;
        let (mut dow, dow_any) = field(dow, 0, 7, expr)?;
        if dow & (1 << 7) != 0 {
            dow |= 1; // 7 is Sunday too
        }
        Ok(Self { minute, hour, dom, month, dow, dom_any, dow_any })
    }

    /// True when the expression fires in minute `m` (whole minutes since the Unix epoch, UTC).
    #[must_use]
    pub fn matches_minute(&self, m: u64) -> bool {
        let (day, min_of_day) = (m / 1440, m % 1440);
        let (_, month, dom) = civil_from_days(day);
        let dow = (day + 4) % 7; // 1970-01-01 was a Thursday
        let bit = |set: u64, v: u64| set & (1 << v) != 0;
        let day_ok = match (self.dom_any, self.dow_any) {
            (true, true) => true,
            (false, true) => bit(self.dom, dom),
            (true, false) => bit(self.dow, dow),
            (false, false) => bit(self.dom, dom) || bit(self.dow, dow),
        };
        bit(self.minute, min_of_day % 60) && bit(self.hour, min_of_day / 60) && bit(self.month, month) && day_ok
    }
}

/// (year, month 1–12, day 1–31) of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_688), (2026, 8, 23));
    }

    #[test]
    fn fields_ranges_lists_and_steps() -> Result<(), ConfigError> {
        // 2026-08-23 (a Sunday) 14:30 UTC.
        let m = 20_688 * 1440 + 14 * 60 + 30;
        assert!(Cron::parse("30 14 * * *")?.matches_minute(m));
        assert!(Cron::parse("*/15 9-17 * * 0")?.matches_minute(m));
        assert!(Cron::parse("30 14 * * 7")?.matches_minute(m), "7 is Sunday");
        assert!(Cron::parse("0,30 * 23 8 *")?.matches_minute(m));
        assert!(!Cron::parse("30 14 * * 1-5")?.matches_minute(m), "weekdays only");
        assert!(Cron::parse("30 14 1 * 0")?.matches_minute(m), "either day field");
        assert!(!Cron::parse("31 14 * * *")?.matches_minute(m));
        for bad in ["* * * *", "60 * * * *", "* 24 * * *", "*/0 * * * *", "5-1 * * * *", "a * * * *"] {
            assert!(Cron::parse(bad).is_err(), "{bad}");
        }
        Ok(())
    }
}
