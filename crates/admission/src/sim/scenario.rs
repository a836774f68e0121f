use std::time::Duration;

use crate::limit::{Aimd, AimdConfig, Gradient2, Gradient2Config, Vegas, VegasConfig};
use crate::{AdmissionController, BuildError, PriorityShares, QueueOrder};

/// The server: `workers` requests served at once, each taking `base` plus an exponential
/// extra (mean `extra_mean`) rounded up to whole milliseconds. Whole milliseconds because
/// tokio's timer has 1 ms resolution: a fractional service time would silently be rounded up
/// by the timer and the real capacity would be lower than [`capacity`](Self::capacity) says.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ServerModel {
    /// Requests served at once.
    pub workers: usize,
    /// Fixed part of the service time.
    pub base: Duration,
    /// Mean of the exponential part of the service time.
    pub extra_mean: Duration,
}

impl ServerModel {
    /// Capacity C in requests per second.
    #[must_use]
    pub fn capacity(&self) -> f64 {
        self.workers as f64 / self.mean_service().as_secs_f64()
    }

    /// Mean service time: `base + E[ceil(Exp(extra_mean))]` in whole ms.
    #[must_use]
    pub fn mean_service(&self) -> Duration {
        let m = self.extra_mean.as_secs_f64() * 1000.0;
        let extra = if m <= 0.0 { 0.0 } else { 1.0 / (1.0 - (-1.0 / m).exp()) };
        self.base + Duration::from_secs_f64(extra / 1000.0)
    }

    pub(crate) fn service(&self, rng: &mut super::SplitMix64) -> Duration {
        let m = self.extra_mean.as_secs_f64() * 1000.0;
        let extra = if m <= 0.0 { 0 } else { rng.exp(m).ceil() as u64 };
        self.base + Duration::from_millis(extra)
    }
}

impl Default for ServerModel {
    /// 20 workers, 8 ms + ⌈Exp(1.5 ms)⌉ (mean 10.05 ms): C ≈ 1,990 requests/s.
    fn default() -> Self {
        Self { workers: 20, base: Duration::from_millis(8), extra_mean: Duration::from_micros(1500) }
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

    pub(crate) fn controller(&self) -> Result<Option<AdmissionController>, BuildError> {
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
