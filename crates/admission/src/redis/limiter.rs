use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fred::bytes_utils::Str;
use fred::clients::Client;
use fred::interfaces::LuaInterface;
use fred::types::Key;
use parking_lot::Mutex;

use super::script::GCRA_LUA;
use crate::rate::{Gcra, RateConfigError, RateLimit, RateLimited};

/// What to do when Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailPolicy {
    /// Admit (the local pre-check still applies).
    #[default]
    Open,
    /// Refuse.
    Closed,
}

/// Errors from the distributed limit.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisRateError {
    /// The request is over the limit.
    #[error(transparent)]
    Limited(#[from] RateLimited),
    /// Redis failed and the policy is fail-closed.
    #[error("redis unavailable (fail closed): {0}")]
    Unavailable(#[source] fred::error::Error),
    /// Redis did not answer within the timeout and the policy is fail-closed.
    #[error("redis did not answer within {0:?} (fail closed)")]
    Timeout(Duration),
}

/// Builds a [`RedisRateLimit`].
#[derive(Debug)]
#[must_use]
pub struct RedisRateLimitBuilder {
    client: Client,
    key: String,
    rate: f64,
    burst: u64,
    policy: FailPolicy,
    lease: Option<u32>,
    instances: u32,
    timeout: Duration,
}

impl RedisRateLimitBuilder {
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
    /// A bad rate or burst, a lease of 0 or above the burst. A Redis failure while loading
    /// the script is not an error: it is loaded again on first use.
    pub async fn build(self) -> Result<RedisRateLimit, RateConfigError> {
        let gcra = Gcra::per_second(self.rate, self.burst)?;
        if self.instances == 0 {
            return Err(RateConfigError::NotPositive { name: "instances", value: 0.0 });
        }
        let lease = self.lease.unwrap_or_else(|| default_lease(self.burst, self.instances));
        if lease == 0 || u64::from(lease) > self.burst {
            return Err(RateConfigError::NotPositive { name: "lease_cells (1..=burst)", value: f64::from(lease) });
        }
        // The local pre-check: this instance alone may not exceed the global limit either.
        let local = RateLimit::new(gcra);
        if self.timeout.is_zero() {
            return Err(RateConfigError::Interval(self.timeout));
        }
        let sha = tokio::time::timeout(self.timeout, self.client.script_load::<Str, _>(GCRA_LUA))
            .await
            .ok()
            .and_then(Result::ok);
        Ok(RedisRateLimit {
            inner: Arc::new(Inner {
                client: self.client,
                key: Key::from(self.key),
                args: gcra_args(&gcra),
                gcra,
                local,
                policy: self.policy,
                lease,
                round_trips: AtomicU64::new(0),
                timeout: self.timeout,
                sha: Mutex::new(sha),
                leased: Mutex::new(Lease::default()),
            }),
        })
    }
}

/// `burst / (2 × instances)`, 1 to 64.
fn default_lease(burst: u64, instances: u32) -> u32 {
    u32::try_from(burst / (2 * u64::from(instances))).unwrap_or(u32::MAX).clamp(1, 64)
}

/// Emission interval and tolerance in µs, the script's first two arguments.
fn gcra_args(gcra: &Gcra) -> [i64; 2] {
    let t_us = (gcra.interval_nanos() / 1000).max(1);
    [to_i64(t_us), to_i64(t_us * (gcra.burst() - 1))]
}

#[derive(Debug, Default)]
struct Lease {
    cells: u32,
    until: Option<tokio::time::Instant>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    key: Key,
    /// Interval and tolerance in µs, computed once.
    args: [i64; 2],
    gcra: Gcra,
    local: RateLimit,
    policy: FailPolicy,
    lease: u32,
    round_trips: AtomicU64,
    timeout: Duration,
    /// A cheap clone (reference counted bytes), taken per call.
    sha: Mutex<Option<Str>>,
    leased: Mutex<Lease>,
}

/// A GCRA bucket in Redis shared by every instance that uses the same key.
///
/// # Examples
///
/// ```no_run
/// use perfstack_admission::redis::{FailPolicy, RedisRateLimit};
/// # async fn demo(client: fred::clients::Client) -> Result<(), Box<dyn std::error::Error>> {
/// let limit = RedisRateLimit::builder(client, "rl:api", 100.0, 10).fail_policy(FailPolicy::Closed).build().await?;
/// limit.check().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct RedisRateLimit {
    inner: Arc<Inner>,
}

impl RedisRateLimit {
    /// A builder for `rate` per second with a burst of `burst` under the Redis key `key`.
    pub fn builder(client: Client, key: impl Into<String>, rate: f64, burst: u64) -> RedisRateLimitBuilder {
        RedisRateLimitBuilder {
            client,
            key: key.into(),
            rate,
            burst,
            policy: FailPolicy::Open,
            lease: None,
            instances: 2,
            timeout: Duration::from_millis(100),
        }
    }

    /// Takes one cell.
    ///
    /// # Errors
    ///
    /// [`RedisRateError::Limited`] over the limit; [`RedisRateError::Unavailable`] or
    /// [`RedisRateError::Timeout`] when Redis fails and the policy is fail-closed.
    pub async fn check(&self) -> Result<(), RedisRateError> {
        let inner = &self.inner;
        inner.local.check()?;
        let returned = {
            let mut l = inner.leased.lock();
            if l.cells > 0 && l.until.is_some_and(|u| tokio::time::Instant::now() < u) {
                l.cells -= 1;
                return Ok(());
            }
            // Expired: give the unused cells back with this round trip.
            std::mem::take(&mut l.cells)
        };
        inner.round_trips.fetch_add(1, Ordering::Relaxed);
        let answer = match tokio::time::timeout(inner.timeout, self.eval(inner.lease, returned)).await {
            Ok(a) => a.map_err(Some),
            Err(_) => Err(None),
        };
        match answer {
            Ok((granted, _)) if granted > 0 => {
                if granted > 1 {
                    let until =
                        tokio::time::Instant::now() + Duration::from_nanos(inner.gcra.interval_nanos() * granted);
                    let mut l = inner.leased.lock();
                    // A concurrent round trip may have leased too: keep one lease, return nothing
                    // twice (the older cells are simply used first).
                    l.cells = l.cells.saturating_add(u32::try_from(granted - 1).unwrap_or(u32::MAX));
                    l.until = Some(l.until.map_or(until, |u| u.max(until)));
                }
                Ok(())
            }
            Ok((_, wait_us)) => Err(RateLimited { retry_after: Duration::from_micros(wait_us) }.into()),
            Err(e) => {
                metrics::counter!("perfstack_admission_redis_errors_total", "policy" => match inner.policy {
                    FailPolicy::Open => "open",
                    FailPolicy::Closed => "closed",
                })
                .increment(1);
                tracing::warn!(error = ?e, key = ?inner.key, policy = ?inner.policy, "redis rate limit unavailable");
                match (inner.policy, e) {
                    (FailPolicy::Open, _) => Ok(()),
                    (FailPolicy::Closed, Some(e)) => Err(RedisRateError::Unavailable(e)),
                    (FailPolicy::Closed, None) => Err(RedisRateError::Timeout(inner.timeout)),
                }
            }
        }
    }

    /// Round trips to Redis so far (each check that found no leased cell makes one).
    #[must_use]
    pub fn round_trips(&self) -> u64 {
        self.inner.round_trips.load(Ordering::Relaxed)
    }

    /// Cells taken per round trip at most.
    #[must_use]
    pub fn lease_cells(&self) -> u32 {
        self.inner.lease
    }

    /// Granted cells (0 when refused) and the wait in µs.
    async fn eval(&self, cells: u32, returned: u32) -> Result<(u64, u64), fred::error::Error> {
        let inner = &self.inner;
        let args = [inner.args[0], inner.args[1], i64::from(cells), i64::from(returned)];
        let sha = inner.sha.lock().clone();
        let sha = match sha {
            Some(s) => s,
            None => self.load().await?,
        };
        let res: Result<Vec<i64>, _> = inner.client.evalsha(sha, inner.key.clone(), args).await;
        let v = match res {
            Err(e) if e.details().contains("NOSCRIPT") => {
                // The server lost its script cache (restart, SCRIPT FLUSH): load it again.
                let sha = self.load().await?;
                inner.client.evalsha(sha, inner.key.clone(), args).await?
            }
            other => other?,
        };
        let field = |i: usize| v.get(i).copied().unwrap_or(0).max(0) as u64;
        Ok((field(0), field(1)))
    }

    async fn load(&self) -> Result<Str, fred::error::Error> {
        let sha: Str = self.inner.client.script_load(GCRA_LUA).await?;
        *self.inner.sha.lock() = Some(sha.clone());
        Ok(sha)
    }
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl crate::rate::RateLimitStore for RedisRateLimit {
    /// The bucket is this limit's own key; `key` is ignored.
    fn check<'a>(&'a self, _key: Option<&'a str>) -> crate::rate::StoreFuture<'a> {
        Box::pin(async move {
            match RedisRateLimit::check(self).await {
                Ok(()) => Ok(()),
                Err(RedisRateError::Limited(l)) => Err(crate::rate::StoreRefusal::Limited(l.retry_after)),
                Err(_) => Err(crate::rate::StoreRefusal::Unavailable),
            }
        })
    }
}
