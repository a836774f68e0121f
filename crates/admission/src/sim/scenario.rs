//! [`Scenario`]: one simulation run (server model, strategy, load phases, mix), and its checks.

use std::time::Duration;

use super::{ScenarioError, ServiceTime};
use crate::limit::{Aimd, AimdConfig, Gradient2, Gradient2Config, Vegas, VegasConfig};
use crate::{AdmissionController, ConfigError, PriorityShares, QueueOrder};

/// Most simulated time: a day of virtual time is already millions of timer events per 1,000 rps.
const MAX_SIM_TIME: Duration = Duration::from_secs(86_400);
/// Highest offered load accepted, as a multiple of capacity.
const MAX_LOAD: f64 = 1_000.0;
/// Most workers of the server model.
const MAX_WORKERS: usize = 1_000_000;
/// Longest client deadline.
const MAX_TIME_PARAM: Duration = Duration::from_secs(3_600);
/// Most requests a run may schedule (expected): each is a task and a record.
const MAX_ARRIVALS: f64 = 1e8;

/// The server: `workers` requests served at once, each for a time drawn from `service`
/// (whole milliseconds, see [`ServiceTime`]), with a FIFO queue in front.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerModel {
    /// Requests served at once.
    pub workers: usize,
    /// The service-time distribution.
    pub service: ServiceTime,
}

impl ServerModel {
    /// Capacity C in requests per second.
    #[must_use]
    pub fn capacity(&self) -> f64 {
        self.workers as f64 / self.mean_service().as_secs_f64()
    }

    /// Mean service time.
    #[must_use]
    pub fn mean_service(&self) -> Duration {
        self.service.mean()
    }
}

impl Default for ServerModel {
    /// 20 workers, 8 ms + ⌈Exp(1.5 ms)⌉ (mean 10.05 ms): C ≈ 1,990 requests/s.
    fn default() -> Self {
        Self {
            workers: 20,
            service: ServiceTime::Exponential {
                base: Duration::from_millis(8),
                extra_mean: Duration::from_micros(1500),
            },
        }
    }
}

/// What stands in front of the server.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Strategy {
    /// Nothing: every request goes to the server's queue.
    NoControl,
    /// A hand-tuned static concurrency limit.
    Static(usize),
    /// AIMD with its defaults.
    Aimd,
    /// Vegas with its defaults.
    Vegas,
    /// Gradient2 with its defaults.
    Gradient2,
}

impl Strategy {
    /// Name for tables.
    #[must_use]
    pub fn label(&self) -> String {
        match self {
            Strategy::NoControl => "no control".into(),
            Strategy::Static(n) => format!("static {n}"),
            Strategy::Aimd => "aimd".into(),
            Strategy::Vegas => "vegas".into(),
            Strategy::Gradient2 => "gradient2".into(),
        }
    }
}

/// A stretch of constant offered load, as a multiple of capacity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// Offered load / capacity.
    pub load: f64,
    /// How long.
    pub duration: Duration,
}

/// One simulation run.
#[derive(Debug, Clone, PartialEq)]
pub struct Scenario {
    /// The server.
    pub server: ServerModel,
    /// The admission strategy.
    pub strategy: Strategy,
    /// Offered load over time.
    pub phases: Vec<Phase>,
    /// Requests scheduled before this are not counted (the limit is still learning).
    pub warmup: Duration,
    /// The client gives up after this, counted from the scheduled arrival.
    pub deadline: Duration,
    /// Share of each priority level in the traffic, lowest first (sums to 1).
    pub mix: [f64; 5],
    /// Priority reserves of the controller.
    pub shares: PriorityShares,
    /// A wait queue (capacity, timeout, order); `None` rejects at once.
    pub queue: Option<(usize, Duration, QueueOrder)>,
    /// Seed of the arrival and service-time generator.
    pub seed: u64,
}

impl Scenario {
    /// `load × C` for `duration` with the default server, 1 s deadline, one priority (so no
    /// reserves).
    #[must_use]
    pub fn constant(strategy: Strategy, load: f64, duration: Duration) -> Self {
        Self {
            server: ServerModel::default(),
            strategy,
            phases: vec![Phase { load, duration }],
            warmup: duration / 5,
            deadline: Duration::from_secs(1),
            mix: [0.0, 1.0, 0.0, 0.0, 0.0],
            shares: PriorityShares::none(),
            queue: None,
            seed: 7,
        }
    }

    /// Total simulated time.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.phases.iter().map(|p| p.duration).sum()
    }

    /// Checks that the scenario can be simulated: at least one phase; every load finite, not
    /// negative and at most 1,000 × capacity; at most a day in all; a warmup shorter than the
    /// run; a deadline in (0, 1 h]; 1 to 10⁶ workers with a non-zero service time whose
    /// parameters are at most 1 h (and a finite share, `sigma` in (0, 4], Pareto `shape` in
    /// (1, 100], a cap not below the typical time); at most 10⁸ requests expected; a mix of
    /// finite, non-negative shares summing to 1. [`run`](super::run) calls it first.
    ///
    /// # Errors
    ///
    /// [`ScenarioError::Invalid`] naming the first bad setting.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        let s = &self.server;
        if s.workers == 0 || s.workers > MAX_WORKERS {
            return Err(ScenarioError::invalid("server.workers", format!("{} is not in 1..={MAX_WORKERS}", s.workers)));
        }
        s.service.validate("server.service")?;
        if self.phases.is_empty() {
            return Err(ScenarioError::invalid("phases", "no phase: nothing to simulate"));
        }
        let mut total = Duration::ZERO;
        for (i, p) in self.phases.iter().enumerate() {
            if !p.load.is_finite() || p.load < 0.0 || p.load > MAX_LOAD {
                return Err(ScenarioError::invalid(
                    format!("phases[{i}].load"),
                    format!("{} must be a finite number in [0, {MAX_LOAD}]", p.load),
                ));
            }
            total = total.saturating_add(p.duration);
            if total > MAX_SIM_TIME {
                return Err(ScenarioError::invalid("phases", format!("total duration is above {MAX_SIM_TIME:?}")));
            }
        }
        if total.is_zero() {
            return Err(ScenarioError::invalid("phases", "total duration is zero"));
        }
        let arrivals: f64 = self.phases.iter().map(|p| p.load * s.capacity() * p.duration.as_secs_f64()).sum();
        if arrivals > MAX_ARRIVALS {
            return Err(ScenarioError::invalid(
                "phases",
                format!("{arrivals:.0} expected requests, above {MAX_ARRIVALS:e}"),
            ));
        }
        if self.warmup >= total {
            return Err(ScenarioError::invalid(
                "warmup",
                format!("{:?} leaves nothing measured of a {total:?} run", self.warmup),
            ));
        }
        if self.deadline.is_zero() || self.deadline > MAX_TIME_PARAM {
            return Err(ScenarioError::invalid(
                "deadline",
                format!("{:?} is not in (0, {MAX_TIME_PARAM:?}]", self.deadline),
            ));
        }
        if let Some(i) = self.mix.iter().position(|m| !m.is_finite() || *m < 0.0) {
            return Err(ScenarioError::invalid(
                format!("mix[{i}]"),
                format!("{} must be a finite share >= 0", self.mix[i]),
            ));
        }
        let sum: f64 = self.mix.iter().sum();
        if (sum - 1.0).abs() > 1e-6 {
            return Err(ScenarioError::invalid("mix", format!("shares sum to {sum}, not 1")));
        }
        Ok(())
    }

    pub(crate) fn controller(&self) -> Result<Option<AdmissionController>, ConfigError> {
        let b = AdmissionController::builder().name("sim").priority_shares(self.shares);
        let b = match &self.strategy {
            Strategy::NoControl => return Ok(None),
            Strategy::Static(n) => b.fixed_limit(*n),
            Strategy::Aimd => b.try_limit(Aimd::new(AimdConfig::default())),
            Strategy::Vegas => b.try_limit(Vegas::new(VegasConfig::default())),
            Strategy::Gradient2 => b.try_limit(Gradient2::new(Gradient2Config::default())),
        };
        let b = match self.queue {
            Some((cap, timeout, order)) => b.queue(cap, timeout).queue_order(order),
            None => b,
        };
        b.build().map(Some)
    }
}
