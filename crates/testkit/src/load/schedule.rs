//! When requests are due: fixed intervals or a Poisson process.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How arrivals are spaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Arrivals {
    /// One request every `1 / rate` seconds.
    #[default]
    Uniform,
    /// A Poisson process: exponential gaps with mean `1 / rate`, from a seeded generator so a
    /// run can be repeated exactly.
    Poisson {
        /// Seed of the generator.
        seed: u64,
    },
}

/// Offsets from the start at which requests are due: at most `max_requests`, all before
/// `max_duration`. `rate` must be finite and positive (checked by the caller).
pub(crate) fn offsets(rate: f64, arrivals: Arrivals, max_requests: u64, max_duration: Duration) -> Vec<Duration> {
    let mean_gap = 1.0 / rate;
    let limit = max_duration.as_secs_f64();
    let mut out = Vec::with_capacity(usize::try_from(max_requests.min(1 << 20)).unwrap_or(0));
    let mut rng = match arrivals {
        Arrivals::Poisson { seed } => Some(StdRng::seed_from_u64(seed)),
        Arrivals::Uniform => None,
    };
    let mut t = 0.0_f64;
    for i in 0..max_requests {
        t = match rng.as_mut() {
            // Inverse transform: -ln(U) / rate, U in (0, 1].
            Some(rng) => {
                let u: f64 = 1.0 - rng.random::<f64>();
                if i == 0 {
                    0.0
                } else {
                    t - u.ln() * mean_gap
                }
            }
            None => i as f64 * mean_gap,
        };
        if t >= limit {
            break;
        }
        out.push(Duration::from_secs_f64(t));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_offsets_are_evenly_spaced_and_bounded_by_count() {
        let o = offsets(100.0, Arrivals::Uniform, 5, Duration::from_secs(10));
        let ms: Vec<u128> = o.iter().map(Duration::as_millis).collect();
        assert_eq!(ms, vec![0, 10, 20, 30, 40]);
    }

    #[test]
    fn offsets_stop_at_the_duration_bound() {
        let o = offsets(100.0, Arrivals::Uniform, 1_000_000, Duration::from_secs(1));
        assert_eq!(o.len(), 100);
        assert!(o.iter().all(|d| *d < Duration::from_secs(1)));
    }

    #[test]
    fn poisson_offsets_are_repeatable_increasing_and_near_the_rate() {
        let a = offsets(1000.0, Arrivals::Poisson { seed: 7 }, 1_000_000, Duration::from_secs(20));
        let b = offsets(1000.0, Arrivals::Poisson { seed: 7 }, 1_000_000, Duration::from_secs(20));
        assert_eq!(a, b);
        assert!(a.windows(2).all(|w| w[0] <= w[1]));
        // 20,000 expected; a Poisson count has sd ≈ 141, so ±3 % is over 4 sd.
        let n = a.len() as f64;
        assert!((n - 20_000.0).abs() < 600.0, "{n} arrivals");
        let c = offsets(1000.0, Arrivals::Poisson { seed: 8 }, 1_000_000, Duration::from_secs(20));
        assert_ne!(a, c);
    }
}
