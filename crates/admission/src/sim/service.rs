//! [`ServiceTime`]: the service-time distributions of the simulated server.

use std::time::Duration;

use super::{ScenarioError, SplitMix64};

/// Longest service-time parameter (base, mean, mode, cap).
const MAX_TIME_PARAM: Duration = Duration::from_secs(3_600);

/// The distribution of one request's service time. Every draw is rounded up to whole
/// milliseconds: tokio's timer has 1 ms resolution, so a fractional service time would be
/// rounded up by the timer and the server's real capacity would be lower than
/// [`mean`](Self::mean) says. The mean is the mean of the rounded (and capped) draws.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ServiceTime {
    /// `base` plus an exponential extra of mean `extra_mean`: a narrow, light-tailed shape.
    Exponential {
        /// Fixed part.
        base: Duration,
        /// Mean of the exponential part (zero: every request takes `base`).
        extra_mean: Duration,
    },
    /// Two modes: `slow` with probability `slow_share`, else `fast` (90 % at 2 ms and 10 % at
    /// 50 ms: a cache hit and a miss, a fast path and a fallback).
    Bimodal {
        /// The common mode.
        fast: Duration,
        /// The rare mode.
        slow: Duration,
        /// Share of requests in the slow mode, in [0, 1].
        slow_share: f64,
    },
    /// Lognormal with this median and log-space standard deviation `sigma`, capped at `max`.
    LogNormal {
        /// The median.
        median: Duration,
        /// Standard deviation of the logarithm, in (0, 4].
        sigma: f64,
        /// Draws above this are served in `max`.
        max: Duration,
    },
    /// Pareto (a power-law tail): `scale × U^(−1 / shape)`, capped at `max`.
    Pareto {
        /// The smallest service time.
        scale: Duration,
        /// Tail index, in (1, 100]: the lower, the heavier the tail (≤ 1 has no mean).
        shape: f64,
        /// Draws above this are served in `max`.
        max: Duration,
    },
}

impl ServiceTime {
    /// 90 % of requests at 2 ms and 10 % at 50 ms (mean 6.8 ms).
    #[must_use]
    pub fn bimodal_2ms_50ms() -> Self {
        Self::Bimodal { fast: Duration::from_millis(2), slow: Duration::from_millis(50), slow_share: 0.1 }
    }

    /// Pareto with a 2 ms minimum and tail index 1.5, capped at 1 s (mean ≈ 6 ms; a heavy tail
    /// whose variance would be infinite without the cap).
    #[must_use]
    pub fn pareto_2ms() -> Self {
        Self::Pareto { scale: Duration::from_millis(2), shape: 1.5, max: Duration::from_secs(1) }
    }

    /// Lognormal with a 4 ms median and sigma 1 (mean ≈ 7 ms), capped at 1 s.
    #[must_use]
    pub fn lognormal_4ms() -> Self {
        Self::LogNormal { median: Duration::from_millis(4), sigma: 1.0, max: Duration::from_secs(1) }
    }

    /// A short name for tables.
    #[must_use]
    pub fn label(&self) -> String {
        let ms = |d: &Duration| d.as_secs_f64() * 1000.0;
        match self {
            Self::Exponential { base, extra_mean } => format!("{} ms + Exp({} ms)", ms(base), ms(extra_mean)),
            Self::Bimodal { fast, slow, slow_share } => {
                format!(
                    "{:.0} % {} ms, {:.0} % {} ms",
                    (1.0 - slow_share) * 100.0,
                    ms(fast),
                    slow_share * 100.0,
                    ms(slow)
                )
            }
            Self::LogNormal { median, sigma, max } => {
                format!("lognormal median {} ms σ {sigma}, ≤ {} ms", ms(median), ms(max))
            }
            Self::Pareto { scale, shape, max } => format!("Pareto {} ms α {shape}, ≤ {} ms", ms(scale), ms(max)),
        }
    }

    /// Mean of the rounded draws.
    #[must_use]
    pub fn mean(&self) -> Duration {
        let ms = match *self {
            Self::Exponential { base, extra_mean } => {
                let m = extra_mean.as_secs_f64() * 1000.0;
                // E[ceil(Exp(m))] in whole ms.
                let extra = if m <= 0.0 { 0.0 } else { 1.0 / (1.0 - (-1.0 / m).exp()) };
                base.as_secs_f64() * 1000.0 + extra
            }
            Self::Bimodal { fast, slow, slow_share } => {
                (1.0 - slow_share) * whole_ms(fast) as f64 + slow_share * whole_ms(slow) as f64
            }
            // E[ceil(min(X, max))] = Σ_{k=0}^{max−1} P(X > k ms), in whole ms.
            Self::LogNormal { median, sigma, max } => {
                let mu = (median.as_secs_f64() * 1000.0).ln();
                let survival = |k: u64| 0.5 * erfc(((k as f64).ln() - mu) / (sigma * std::f64::consts::SQRT_2));
                let mut sum = 1.0;
                for k in 1..whole_ms(max) {
                    let p = survival(k);
                    sum += p;
                    // Past the median the terms fall faster than geometrically: stop when they vanish.
                    if p < 1e-12 * sum {
                        break;
                    }
                }
                sum
            }
            Self::Pareto { scale, shape, max } => {
                pareto_rounded_mean(scale.as_secs_f64() * 1000.0, shape, whole_ms(max))
            }
        };
        Duration::from_secs_f64(ms / 1000.0)
    }

    /// One draw, in whole milliseconds (at least 1 ms).
    pub fn draw(&self, rng: &mut SplitMix64) -> Duration {
        let ms = match *self {
            Self::Exponential { base, extra_mean } => {
                let m = extra_mean.as_secs_f64() * 1000.0;
                let extra = if m <= 0.0 { 0 } else { rng.exp(m).ceil() as u64 };
                return base + Duration::from_millis(extra);
            }
            Self::Bimodal { fast, slow, slow_share } => {
                return Duration::from_millis(if rng.next_f64() <= slow_share {
                    whole_ms(slow)
                } else {
                    whole_ms(fast)
                });
            }
            Self::LogNormal { median, sigma, max } => {
                let x = median.as_secs_f64() * 1000.0 * (sigma * rng.normal()).exp();
                x.ceil().min(whole_ms(max) as f64)
            }
            Self::Pareto { scale, shape, max } => {
                let x = scale.as_secs_f64() * 1000.0 * rng.next_f64().powf(-1.0 / shape);
                x.ceil().min(whole_ms(max) as f64)
            }
        };
        // NaN (impossible with checked parameters) and 0 become 1 ms.
        Duration::from_millis(if ms >= 1.0 { ms as u64 } else { 1 })
    }

    /// Checks the parameters; `field` names the setting in errors.
    pub(crate) fn validate(&self, field: &str) -> Result<(), ScenarioError> {
        let times: &[(&str, Duration)] = match self {
            Self::Exponential { base, extra_mean } => &[("base", *base), ("extra_mean", *extra_mean)],
            Self::Bimodal { fast, slow, .. } => &[("fast", *fast), ("slow", *slow)],
            Self::LogNormal { median, max, .. } => &[("median", *median), ("max", *max)],
            Self::Pareto { scale, max, .. } => &[("scale", *scale), ("max", *max)],
        };
        for (name, d) in times {
            if *d > MAX_TIME_PARAM {
                return Err(ScenarioError::invalid(
                    format!("{field}.{name}"),
                    format!("{d:?} is above {MAX_TIME_PARAM:?}"),
                ));
            }
        }
        let ratio = |name: &str, v: f64, lo: f64, hi: f64, open_lo: bool| {
            let ok = v.is_finite() && v <= hi && if open_lo { v > lo } else { v >= lo };
            if ok {
                Ok(())
            } else {
                Err(ScenarioError::invalid(format!("{field}.{name}"), format!("{v} is not a number in [{lo}, {hi}]")))
            }
        };
        match *self {
            Self::Exponential { base, extra_mean } if base.is_zero() && extra_mean.is_zero() => {
                Err(ScenarioError::invalid(field, "zero service time (infinite capacity)"))
            }
            Self::Exponential { .. } => Ok(()),
            Self::Bimodal { slow_share, .. } => ratio("slow_share", slow_share, 0.0, 1.0, false),
            Self::LogNormal { median, sigma, max } => {
                ratio("sigma", sigma, 0.0, 4.0, true)?;
                positive_and_capped(field, median, max)
            }
            Self::Pareto { scale, shape, max } => {
                ratio("shape", shape, 1.0, 100.0, true)?;
                positive_and_capped(field, scale, max)
            }
        }
    }
}

fn positive_and_capped(field: &str, typical: Duration, max: Duration) -> Result<(), ScenarioError> {
    if typical.is_zero() {
        return Err(ScenarioError::invalid(field, "zero service time (infinite capacity)"));
    }
    if max < typical {
        return Err(ScenarioError::invalid(format!("{field}.max"), format!("{max:?} is below {typical:?}")));
    }
    Ok(())
}

/// Σ_{k=0}^{max−1} P(X > k) for Pareto(scale `s` ms, `shape`): the first terms exactly, the
/// rest of the power-law tail by Euler–Maclaurin (error far below 10⁻⁹ ms), so a cap of an
/// hour costs a few thousand terms, not millions.
fn pareto_rounded_mean(s: f64, shape: f64, max: u64) -> f64 {
    let term = |k: f64| if k < s { 1.0 } else { (s / k).powf(shape) };
    let exact_until = (s.ceil() as u64).saturating_add(2_000).min(max);
    let mut sum: f64 = (0..exact_until).map(|k| term(k as f64)).sum();
    if exact_until < max {
        // Σ_{k=a}^{b} f(k) ≈ ∫_a^b f + (f(a) + f(b)) / 2 + (f'(b) − f'(a)) / 12, f(x) = (s/x)^shape.
        let (a, b) = (exact_until as f64, (max - 1) as f64);
        let integral = s.powf(shape) * (a.powf(1.0 - shape) - b.powf(1.0 - shape)) / (shape - 1.0);
        let slope = |x: f64| -shape * s.powf(shape) * x.powf(-shape - 1.0);
        sum += integral + (term(a) + term(b)) / 2.0 + (slope(b) - slope(a)) / 12.0;
    }
    sum
}

/// A duration rounded up to whole milliseconds, at least 1.
fn whole_ms(d: Duration) -> u64 {
    let ms = d.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX).max(1)
}

/// The complementary error function (Abramowitz and Stegun 7.1.26, absolute error below
/// 1.5 × 10⁻⁷): enough for a mean service time.
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * z);
    let poly =
        t * (0.254_829_592 + t * (-0.284_496_736 + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let r = poly * (-z * z).exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The analytic mean of every shape agrees with the mean of many draws.
    #[test]
    fn mean_matches_the_draws() {
        for s in [
            ServiceTime::Exponential { base: Duration::from_millis(8), extra_mean: Duration::from_micros(1500) },
            ServiceTime::bimodal_2ms_50ms(),
            ServiceTime::lognormal_4ms(),
            ServiceTime::pareto_2ms(),
        ] {
            let mut rng = SplitMix64::new(3);
            let n = 400_000;
            let sum: f64 = (0..n).map(|_| s.draw(&mut rng).as_secs_f64()).sum();
            let (drawn, mean) = (sum / f64::from(n), s.mean().as_secs_f64());
            assert!((drawn / mean - 1.0).abs() < 0.02, "{}: drawn {drawn}, mean {mean}", s.label());
        }
    }

    /// The tail formula agrees with the plain sum, and a cap of an hour is cheap.
    #[test]
    fn pareto_mean_tail_matches_the_plain_sum() {
        for (s, shape, max) in [(2.0, 1.5, 1_000_000), (2.0, 1.01, 200_000), (0.5, 3.0, 50_000), (30.0, 1.2, 3_000)] {
            let plain: f64 = (0..max).map(|k| if (k as f64) < s { 1.0 } else { (s / k as f64).powf(shape) }).sum();
            let fast = pareto_rounded_mean(s, shape, max);
            assert!((fast - plain).abs() < 1e-6 * plain, "s {s} shape {shape}: {fast} vs {plain}");
        }
        let hour =
            ServiceTime::Pareto { scale: Duration::from_millis(1), shape: 1.001, max: Duration::from_secs(3_600) };
        let t = std::time::Instant::now();
        assert!(hour.mean() > Duration::from_millis(5));
        let lognormal =
            ServiceTime::LogNormal { median: Duration::from_secs(60), sigma: 4.0, max: Duration::from_secs(3_600) };
        assert!(lognormal.mean() > Duration::from_secs(60));
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    }

    #[test]
    fn erfc_matches_known_values() {
        for (x, want) in
            [(0.0, 1.0), (0.5, 0.479_500_122), (1.0, 0.157_299_207), (-1.0, 1.842_700_793), (3.0, 2.209e-5)]
        {
            assert!((erfc(x) - want).abs() < 2e-7, "erfc({x}) = {}", erfc(x));
        }
    }
}
