use std::sync::Arc;
use std::time::Duration;

use fred::clients::Client;
use fred::interfaces::LuaInterface;
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
    lease: u32,
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

    /// Cells taken per round trip (default 1: every request asks Redis). Cells not used within
    /// their own emission time are given up, so a lease never adds to a later burst.
    pub fn lease_cells(mut self, n: u32) -> Self {
        self.lease = n;
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
        if self.lease == 0 || u64::from(self.lease) > self.burst {
            return Err(RateConfigError::NotPositive { name: "lease_cells (1..=burst)", value: f64::from(self.lease) });
        }
        // The local pre-check: this instance alone may not exceed the global limit either.
        let local = RateLimit::new(gcra);
        if self.timeout.is_zero() {
            return Err(RateConfigError::Interval(self.timeout));
        }
        let sha = tokio::time::timeout(self.timeout, self.client.script_load::<String, _>(GCRA_LUA))
            .await
            .ok()
            .and_then(Result::ok);
        Ok(RedisRateLimit {
            inner: Arc::new(Inner {
                client: self.client,
                key: self.key,
                gcra,
                local,
                policy: self.policy,
                lease: self.lease,
                timeout: self.timeout,
                sha: Mutex::new(sha),
                leased: Mutex::new(Lease::default()),
            }),
        })
    }
}

#[derive(Debug, Default)]
struct Lease {
    cells: u32,
    until: Option<tokio::time::Instant>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    key: String,
    gcra: Gcra,
    local: RateLimit,
    policy: FailPolicy,
    lease: u32,
    timeout: Duration,
    sha: Mutex<Option<String>>,
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
            lease: 1,
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
        {
            let mut l = inner.leased.lock();
            if l.cells > 0 && l.until.is_some_and(|u| tokio::time::Instant::now() < u) {
                l.cells -= 1;
                return Ok(());
            }
            l.cells = 0;
        }
        let answer = match tokio::time::timeout(inner.timeout, self.eval(inner.lease)).await {
            Ok(a) => a.map_err(Some),
            Err(_) => Err(None),
        };
        match answer {
            Ok((true, _)) => {
                if inner.lease > 1 {
                    let mut l = inner.leased.lock();
                    l.cells = inner.lease - 1;
                    l.until = Some(
                        tokio::time::Instant::now()
                            + Duration::from_nanos(inner.gcra.interval_nanos() * u64::from(inner.lease)),
                    );
                }
                Ok(())
            }
            Ok((false, wait_us)) => Err(RateLimited { retry_after: Duration::from_micros(wait_us) }.into()),
            Err(e) => {
                metrics::counter!("perfstack_admission_redis_errors_total", "policy" => match inner.policy {
                    FailPolicy::Open => "open",
                    FailPolicy::Closed => "closed",
                })
                .increment(1);
                tracing::warn!(error = ?e, key = %inner.key, policy = ?inner.policy, "redis rate limit unavailable");
                match (inner.policy, e) {
                    (FailPolicy::Open, _) => Ok(()),
                    (FailPolicy::Closed, Some(e)) => Err(RedisRateError::Unavailable(e)),
                    (FailPolicy::Closed, None) => Err(RedisRateError::Timeout(inner.timeout)),
                }
            }
        }
    }

    async fn eval(&self, cells: u32) -> Result<(bool, u64), fred::error::Error> {
        let inner = &self.inner;
        let t_us = (inner.gcra.interval_nanos() / 1000).max(1);
        let tau_us = t_us * (inner.gcra.burst() - 1);
        let args: Vec<i64> = vec![to_i64(t_us), to_i64(tau_us), i64::from(cells)];
        let sha = inner.sha.lock().clone();
        let sha = match sha {
            Some(s) => s,
            None => self.load().await?,
        };
        let res: Result<Vec<i64>, _> = inner.client.evalsha(sha.as_str(), inner.key.as_str(), args.clone()).await;
        let v = match res {
            Err(e) if e.details().contains("NOSCRIPT") => {
                // The server lost its script cache (restart, SCRIPT FLUSH): load it again.
                let sha = self.load().await?;
                inner.client.evalsha(sha.as_str(), inner.key.as_str(), args).await?
            }
            other => other?,
        };
        Ok((v.first().copied() == Some(1), v.get(1).copied().unwrap_or(0).max(0) as u64))
    }

    async fn load(&self) -> Result<String, fred::error::Error> {
        let sha: String = self.inner.client.script_load(GCRA_LUA).await?;
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
