//! [`RedisRateLimit`]: a GCRA bucket in Redis shared by every instance that uses its key.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fred::bytes_utils::Str;
use fred::clients::Client;
use fred::interfaces::LuaInterface;
use fred::types::Key;
use parking_lot::Mutex;
use perfstack_resilience::{CircuitBreaker, State};

use super::builder::RedisRateLimitBuilder;
use super::error::RedisRateError;
use super::script::GCRA_LUA;
use crate::rate::{Gcra, RateLimit, RateLimited};

/// What to do when Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailPolicy {
    /// Admit (the local pre-check still applies).
    #[default]
    Open,
    /// Refuse.
    Closed,
}

/// The longest a lease is held, whatever its cells' emission time (a rate of one a day with a
/// large lease would otherwise hold cells for months).
const MAX_LEASE: Duration = Duration::from_secs(86_400);

#[derive(Debug, Default)]
pub(super) struct Lease {
    cells: u32,
    until: Option<tokio::time::Instant>,
}

#[derive(Debug)]
pub(super) struct Inner {
    pub(super) client: Client,
    pub(super) key: Key,
    /// Interval and tolerance in whole µs, computed once.
    pub(super) args: [i64; 2],
    pub(super) gcra: Gcra,
    pub(super) local: RateLimit,
    pub(super) policy: FailPolicy,
    pub(super) lease: u32,
    pub(super) round_trips: AtomicU64,
    pub(super) short_circuits: AtomicU64,
    pub(super) timeout: Duration,
    /// A cheap clone (reference counted bytes), taken per call.
    pub(super) sha: Mutex<Option<Str>>,
    pub(super) leased: Mutex<Lease>,
    pub(super) breaker: CircuitBreaker,
    /// The newest breaker generation already logged: one log line per state change.
    pub(super) logged_generation: AtomicU64,
    /// Resolved once: a `counter!` lookup per failed call is what an outage cannot afford.
    pub(super) errors_total: metrics::Counter,
    pub(super) short_circuits_total: metrics::Counter,
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
    pub(super) inner: Arc<Inner>,
}

impl RedisRateLimit {
    /// A builder for `rate` per second with a burst of `burst` under the Redis key `key`.
    pub fn builder(client: Client, key: impl Into<String>, rate: f64, burst: u64) -> RedisRateLimitBuilder {
        RedisRateLimitBuilder {
            client,
            key: key.into(),
            name: None,
            rate,
            burst,
            policy: FailPolicy::Open,
            lease: None,
            instances: 2,
            timeout: Duration::from_millis(100),
            breaker: None,
        }
    }

    /// Takes one cell.
    ///
    /// # Errors
    ///
    /// [`RedisRateError::Limited`] over the limit; when Redis fails and the policy is
    /// fail-closed, [`RedisRateError::Unavailable`] or [`RedisRateError::Timeout`], or
    /// [`RedisRateError::CircuitOpen`] (no round trip) once the breaker knows Redis is down.
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
        let permit = match inner.breaker.try_acquire() {
            Ok(p) => p,
            Err(open) => {
                // Redis is known down: the policy now, no round trip, no timeout to wait.
                if returned > 0 {
                    // Still owed to Redis: the next round trip gives them back.
                    let mut l = inner.leased.lock();
                    l.cells = l.cells.saturating_add(returned);
                }
                inner.short_circuits.fetch_add(1, Ordering::Relaxed);
                inner.short_circuits_total.increment(1);
                self.log_transition();
                return match inner.policy {
                    FailPolicy::Open => Ok(()),
                    FailPolicy::Closed => Err(RedisRateError::CircuitOpen { retry_after: open.retry_after }),
                };
            }
        };
        inner.round_trips.fetch_add(1, Ordering::Relaxed);
        let answer = match tokio::time::timeout(inner.timeout, self.eval(inner.lease, returned)).await {
            Ok(a) => a.map_err(Some),
            Err(_) => Err(None),
        };
        if answer.is_ok() {
            permit.success();
        } else {
            permit.failure();
        }
        self.log_transition();
        match answer {
            Ok((granted, _)) if granted > 0 => {
                if granted > 1 {
                    // `granted` comes from Redis: saturate, and end a lease within a day at most.
                    let emission = Duration::from_nanos(inner.gcra.interval_nanos().saturating_mul(granted));
                    let until = tokio::time::Instant::now() + emission.min(MAX_LEASE);
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
                inner.errors_total.increment(1);
                // Per call at debug only: the breaker's state changes are the warnings.
                tracing::debug!(error = ?e, key = ?inner.key, policy = ?inner.policy, "redis rate limit round trip failed");
                match (inner.policy, e) {
                    (FailPolicy::Open, _) => Ok(()),
                    (FailPolicy::Closed, Some(e)) => Err(RedisRateError::Unavailable(e)),
                    (FailPolicy::Closed, None) => Err(RedisRateError::Timeout(inner.timeout)),
                }
            }
        }
    }

    /// Logs a breaker state change once, by whichever check sees it first.
    fn log_transition(&self) {
        let inner = &self.inner;
        let generation = inner.breaker.generation();
        if inner.logged_generation.fetch_max(generation, Ordering::Relaxed) >= generation {
            return;
        }
        let (key, policy) = (&inner.key, inner.policy);
        match inner.breaker.state() {
            State::Open | State::ForcedOpen => tracing::warn!(
                key = ?key,
                policy = ?policy,
                "redis rate limit: redis unavailable, circuit open; applying the fail policy without round trips"
            ),
            State::HalfOpen => tracing::info!(key = ?key, "redis rate limit: probing redis"),
            _ => {
                tracing::info!(key = ?key, "redis rate limit: redis answers again, circuit closed");
            }
        }
    }

    /// The circuit breaker guarding the round trip (its state, stats, manual overrides).
    #[must_use]
    pub fn circuit_breaker(&self) -> &CircuitBreaker {
        &self.inner.breaker
    }

    /// Checks decided by the [`FailPolicy`] without a round trip because the breaker was open.
    #[must_use]
    pub fn short_circuits(&self) -> u64 {
        self.inner.short_circuits.load(Ordering::Relaxed)
    }

    /// Round trips to Redis so far (each check that found no leased cell and a closed or
    /// probing breaker makes one).
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
