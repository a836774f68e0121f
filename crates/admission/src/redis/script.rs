//! The GCRA Lua script and its arguments: in whole microseconds, on the Redis server's clock.

use crate::rate::Gcra;
use crate::ConfigError;

/// GCRA in one round trip, on the Redis server's clock (`TIME`), in microseconds.
/// KEYS[1] = bucket; ARGV = emission interval, tolerance (interval × (burst − 1)), cells
/// wanted, cells returned (leased earlier and not used). Returned cells are given back first
/// (the theoretical arrival time moves back, never before now). Then it grants as many of the
/// wanted cells as the bucket holds, at least one: `{granted, 0}`, or `{0, wait_us}` when not
/// even one is free. Same maths as [`Gcra::decide`](crate::rate::Gcra::decide) for one cell.
pub(crate) const GCRA_LUA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tau = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local ret = tonumber(ARGV[4] or 0)
local tat = tonumber(redis.call('GET', KEYS[1]) or now) - ret * interval
if tat < now then tat = now end
local free = math.floor((now + tau - tat) / interval) + 1
if free < 1 then
  if ret > 0 then
    redis.call('SET', KEYS[1], tat, 'PX', math.ceil((tat - now) / 1000) + 1)
  end
  return {0, tat - tau - now}
end
local granted = math.min(n, free)
local new_tat = tat + granted * interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {granted, 0}
"#;

/// Emission interval and tolerance in whole µs, the script's first two arguments. The script
/// counts in µs because Redis `TIME` is µs and Lua numbers are doubles: nanoseconds since the
/// epoch (about 1.8e18) are past 2^53 and would lose precision. So the interval is rounded to
/// the nearest µs, and a rate that rounding moves by more than 1 % is refused rather than
/// silently changed (above 1,000,000/s the interval would be 0).
pub(super) fn gcra_args(gcra: &Gcra, rate: f64) -> Result<[i64; 2], ConfigError> {
    let ns = gcra.interval_nanos();
    let us = (ns + 500) / 1000;
    if us == 0 || (us * 1000).abs_diff(ns) * 100 > ns {
        let nearest = 1e6 / us.max(1) as f64;
        return Err(ConfigError::RateNotRepresentable { rate, nearest });
    }
    Ok([to_i64(us), to_i64(us.saturating_mul(gcra.burst() - 1))])
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(rate: f64) -> Result<[i64; 2], ConfigError> {
        gcra_args(&Gcra::per_second(rate, 3).unwrap(), rate)
    }

    #[test]
    fn whole_microsecond_intervals_are_sent_exactly() {
        assert_eq!(args(1_000_000.0).unwrap(), [1, 2]);
        assert_eq!(args(250_000.0).unwrap(), [4, 8]);
        assert_eq!(args(100.0).unwrap(), [10_000, 20_000]);
    }

    #[test]
    fn rounding_within_one_percent_is_accepted() {
        // 1/15,000 s = 66.67 µs, sent as 67 µs: 0.5 % slower.
        assert_eq!(args(15_000.0).unwrap()[0], 67);
    }

    #[test]
    fn rates_whole_microseconds_cannot_express_are_refused() {
        for rate in [2_000_000.0, 1e9, 300_000.0, 600_000.0] {
            let e = args(rate).unwrap_err();
            assert!(matches!(e, ConfigError::RateNotRepresentable { .. }), "{rate}: {e:?}");
        }
        let ConfigError::RateNotRepresentable { nearest, .. } = args(2_000_000.0).unwrap_err() else { unreachable!() };
        assert_eq!(nearest, 1_000_000.0);
    }
}
