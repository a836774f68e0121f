//! [`RedisRateLimitBuilder`]: checks a Redis rate limit's settings, loads its script, builds it.

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use fred::bytes_utils::Str;
use fred::clients::Client;
use fred::interfaces::LuaInterface;
use fred::types::Key;
use metrics::SharedString;
use parking_lot::Mutex;
use perfstack_resilience::CircuitBreaker;

use super::handle::{FailPolicy, Inner, Lease, RedisRateLimit};
use super::script::{gcra_args, GCRA_LUA};
use crate::rate::{Gcra, RateLimit};
use crate::ConfigError;

/// Builds a [`RedisRateLimit`].
#[derive(Debug)]
#[must_use]
pub struct RedisRateLimitBuilder {
    pub(super) client: Client,
    pub(super) key: String,
    pub(super) name: Option<String>,
    pub(super) rate: f64,
    pub(super) burst: u64,
    pub(super) policy: FailPolicy,
    pub(super) lease: Option<u32>,
    pub(super) instances: u32,
    pub(super) timeout: Duration,
    pub(super) breaker: Option<CircuitBreaker>,
}

impl RedisRateLimitBuilder {
    /// The instance name, the `name` label of the limit's metrics (default: the Redis key).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// How long a round trip may take before Redis counts as unavailable (default 100 ms).
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Fail open (default) or closed.
    pub fn fail_policy(mut self, p: FailPolicy) -> Self {
        self.policy = p;
        self
    }

    /// The circuit breaker guarding the round trip (a failed or timed-out round trip is a
    /// failure). While it is open, checks apply the [`FailPolicy`] without asking Redis; after
    /// its open duration it lets probes through, and closes when they succeed.
    ///
    /// Default: opens when at least half of the last 10 round trips failed (5 counted at
    /// least), stays open 5 s, then lets 1 probe through. Pass your own to tune it, to share
    /// one breaker between limits on the same Redis, or to give it a manual clock in tests.
    pub fn circuit_breaker(mut self, breaker: CircuitBreaker) -> Self {
        self.breaker = Some(breaker);
        self
    }

    /// Most cells taken per round trip; overrides the default sized from the burst and
    /// [`instances`](Self::instances). `1` makes every request ask Redis (no lease). Redis
    /// grants fewer when fewer are free. Cells not used within their own emission time are
    /// given back to Redis with the next round trip, so a lease never adds to a later burst.
    pub fn lease_cells(mut self, n: u32) -> Self {
        self.lease = Some(n);
        self
    }

    /// How many instances share the key (a hint, default 2). The default lease is
    /// `burst / (2 × instances)` cells (1 to 64): all instances together hold at most half
    /// the burst in leases, so clearly-allowed traffic pays one round trip per lease while
    /// a burst at any one instance still finds half the bucket in Redis.
    pub fn instances(mut self, n: u32) -> Self {
        self.instances = n;
        self
    }

    /// Checks the settings and loads the script.
    ///
    /// # Errors
    ///
    /// A bad rate or burst, a rate whose emission interval whole microseconds cannot express
    /// within 1 % ([`ConfigError::RateNotRepresentable`]: above 20,000/s only rates with
    /// a whole-µs interval, at most 1,000,000/s), a lease of 0 or above the burst, a zero
    /// timeout. A Redis failure
    /// while loading the script is not an error: it is loaded again on first use.
    pub async fn build(self) -> Result<RedisRateLimit, ConfigError> {
        let gcra = Gcra::per_second(self.rate, self.burst)?;
        let args = gcra_args(&gcra, self.rate)?;
        if self.instances == 0 {
            return Err(ConfigError::NotPositive { name: "instances", value: 0.0 });
        }
        let lease = self.lease.unwrap_or_else(|| default_lease(self.burst, self.instances));
        if lease == 0 || u64::from(lease) > self.burst {
            return Err(ConfigError::NotPositive { name: "lease_cells (1..=burst)", value: f64::from(lease) });
        }
        // The local pre-check: this instance alone may not exceed the global limit either.
        let local = RateLimit::new(gcra);
        if self.timeout.is_zero() {
            return Err(ConfigError::Interval(self.timeout));
        }
        let breaker = match self.breaker {
            Some(b) => b,
            None => CircuitBreaker::builder(format!("redis-rate:{}", self.key))
                .count_window(10)
                .minimum_calls(5)
                .failure_rate_threshold(50.0)
                .wait_in_open(Duration::from_secs(5))
                .half_open_probes(1)
                .build()?,
        };
        let sha = tokio::time::timeout(self.timeout, self.client.script_load::<Str, _>(GCRA_LUA))
            .await
            .ok()
            .and_then(Result::ok);
        let policy = match self.policy {
            FailPolicy::Open => "open",
            FailPolicy::Closed => "closed",
        };
        let name = SharedString::from(Arc::<str>::from(self.name.unwrap_or_else(|| self.key.clone())));
        Ok(RedisRateLimit {
            inner: Arc::new(Inner {
                client: self.client,
                key: Key::from(self.key),
                args,
                gcra,
                local,
                policy: self.policy,
                lease,
                round_trips: AtomicU64::new(0),
                short_circuits: AtomicU64::new(0),
                timeout: self.timeout,
                sha: Mutex::new(sha),
                leased: Mutex::new(Lease::default()),
                logged_generation: AtomicU64::new(breaker.generation()),
                breaker,
                errors_total: metrics::counter!(
                    "perfstack_admission_redis_errors_total",
                    "name" => name.clone(),
                    "policy" => policy
                ),
                short_circuits_total: metrics::counter!(
                    "perfstack_admission_redis_short_circuits_total",
                    "name" => name,
                    "policy" => policy
                ),
            }),
        })
    }
}

/// `burst / (2 × instances)`, 1 to 64.
fn default_lease(burst: u64, instances: u32) -> u32 {
    u32::try_from(burst / (2 * u64::from(instances))).unwrap_or(u32::MAX).clamp(1, 64)
}
