//! [`SimReport`]: what a run measured, per priority level and per 100 ms window.

use serde::Serialize;

/// Counts for one priority level, over the measured part of a run.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ClassReport {
    /// Requests that arrived.
    pub offered: u64,
    /// Requests the controller refused (never reached the server).
    pub shed: u64,
    /// Requests answered within the deadline (goodput).
    pub ok: u64,
    /// Admitted requests whose client gave up at the deadline.
    pub timeouts: u64,
    /// Latency of the `ok` requests in µs, from the scheduled arrival.
    #[serde(skip)]
    pub latencies_us: Vec<u32>,
}

impl ClassReport {
    /// Latency quantile `q` (0–1) of the answered requests, in ms.
    #[must_use]
    pub fn percentile_ms(&self, q: f64) -> f64 {
        percentile_ms(&self.latencies_us, q)
    }

    /// Share of offered requests refused.
    #[must_use]
    pub fn shed_ratio(&self) -> f64 {
        if self.offered == 0 {
            0.0
        } else {
            self.shed as f64 / self.offered as f64
        }
    }

    /// Share of offered requests answered within the deadline.
    #[must_use]
    pub fn goodput_ratio(&self) -> f64 {
        if self.offered == 0 {
            1.0
        } else {
            self.ok as f64 / self.offered as f64
        }
    }
}

pub(crate) fn percentile_ms(sorted_or_not: &[u32], q: f64) -> f64 {
    if sorted_or_not.is_empty() {
        return f64::NAN;
    }
    let mut v = sorted_or_not.to_vec();
    v.sort_unstable();
    let i = ((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1;
    f64::from(v[i]) / 1000.0
}

/// One control window (100 ms) of a run, for convergence plots.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct WindowPoint {
    /// Start of the window, seconds into the run.
    pub t: f64,
    /// The controller's limit at the end of the window (0 without a controller).
    pub limit: usize,
    /// Requests that arrived in the window.
    pub offered: u64,
    /// Of those, refused.
    pub shed: u64,
    /// Of those, answered within the deadline.
    pub ok: u64,
    /// Mean latency of the answered ones, ms.
    pub mean_latency_ms: f64,
}

/// The outcome of one [`run`](super::run).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SimReport {
    /// The strategy's label.
    pub strategy: String,
    /// The server's capacity C, requests/s, from its model (the mean service time).
    pub capacity: f64,
    /// The server's capacity as it served this run: its slots over the mean time its handler
    /// took for the counted requests it ran. The same as `capacity` in paused time up to the
    /// luck of the draws; in real time it includes the timer's rounding. Against this, a
    /// heavy tail's luck (a few very long requests) cancels between goodput and capacity.
    pub served_capacity: f64,
    /// Seconds counted (after warm-up).
    pub measured_secs: f64,
    /// Per priority level, lowest first.
    pub classes: [ClassReport; 5],
    /// Per 100 ms window.
    pub windows: Vec<WindowPoint>,
}

impl SimReport {
    fn total(&self) -> ClassReport {
        let mut t = ClassReport::default();
        for c in &self.classes {
            t.offered += c.offered;
            t.shed += c.shed;
            t.ok += c.ok;
            t.timeouts += c.timeouts;
            t.latencies_us.extend_from_slice(&c.latencies_us);
        }
        t
    }

    /// Requests answered within the deadline per second.
    #[must_use]
    pub fn goodput(&self) -> f64 {
        self.total().ok as f64 / self.measured_secs
    }

    /// Goodput / capacity.
    #[must_use]
    pub fn goodput_ratio(&self) -> f64 {
        self.goodput() / self.capacity
    }

    /// Goodput / the capacity the server showed in this run ([`served_capacity`](Self::served_capacity)).
    #[must_use]
    pub fn served_goodput_ratio(&self) -> f64 {
        self.goodput() / self.served_capacity
    }

    /// Admitted-and-answered latency quantile, ms.
    #[must_use]
    pub fn percentile_ms(&self, q: f64) -> f64 {
        self.total().percentile_ms(q)
    }

    /// Share of all requests refused.
    #[must_use]
    pub fn shed_ratio(&self) -> f64 {
        self.total().shed_ratio()
    }
}
