//! The fault run: two cache instances on a private Redis under bounded open-loop load, while
//! Redis is killed and restarted, then paused (SIGSTOP, longer than the L2 timeout) and
//! resumed. Every operation goes into a history that the testkit's checker judges.
//!
//! Shared by the fault test (`tests/redis_fault.rs`, which asserts the behaviour) and the
//! bench (`benches/benches/tiered-cache.rs`, which reports the figures), so both run exactly
//! the same scenario.
//!
//! The source ("the database") holds one version per key. A write bumps the version, then
//! `set`s it (even ops) or `invalidate`s the key (odd ops); writes of one key are serialised,
//! as rows of a table would be. A read is `get_or_load`, whose loader returns the version the
//! source holds. So a read that returns an older version than a write that had returned (plus
//! the propagation bound, on the other instance) is a stale read.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perfstack_testkit::history::{Checker, History, Report};
use perfstack_testkit::load::{Arrivals, LoadReport, OpenLoop};
use perfstack_testkit::RedisServer;
use perfstack_tiered_cache::{loader_fn, BoxError, LeaseConfig, TieredCache};
use tokio::time::Instant;

/// Keys under load: few, so that reads and writes of one key interleave often.
const KEYS: u64 = 16;
/// One operation in this many is a write.
const WRITE_EVERY: u64 = 10;
/// Offered load, operations per second over both instances.
const RATE: f64 = 800.0;
/// The documented time to coherence after Redis is back; reads that start later must not be
/// stale at all (beyond the propagation bound).
pub const RECOVERY: Duration = Duration::from_secs(1);
/// How long each fault lasts.
const OUTAGE: Duration = Duration::from_secs(1);

/// Which client and cache settings the instances use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setup {
    /// Exactly the quick start of `docs/tiered-cache.md`: a fred client from a URL alone
    /// (no reconnect policy) and the cache settings shown there.
    Readme,
    /// A client with a reconnect policy and short timeouts, and a cache with a short L2
    /// timeout, breaker wait and degraded TTL.
    Tuned,
}

impl Setup {
    pub fn name(self) -> &'static str {
        match self {
            Setup::Readme => "README configuration",
            Setup::Tuned => "tuned configuration",
        }
    }
}

/// What one fault run found.
#[derive(Debug)]
pub struct FaultRun {
    pub setup: Setup,
    /// Stale or impossible reads outside the fault windows (the fault plus [`RECOVERY`]).
    pub report: Report,
    /// The load generator's view: caller-visible errors are counted there too.
    pub load: LoadReport,
    /// Reads judged stale by the strict check (propagation bound only, no fault window).
    pub stale_strict: usize,
    /// From Redis accepting connections again after the restart to the start of the last
    /// read that was stale by the strict check (zero when none was).
    pub coherent_after_restart: Duration,
    /// The same after the pause ended.
    pub coherent_after_resume: Duration,
    /// The propagation bound the check used (the cache's `coherence_bound`).
    pub bound: Duration,
}

impl FaultRun {
    /// Caller-visible errors (recorded in the history and counted by the load generator).
    pub fn caller_errors(&self) -> u64 {
        self.load.errors.max(self.report.errors as u64)
    }
    /// Stale and impossible reads that started after recovery.
    pub fn stale_after_recovery(&self) -> usize {
        self.report.stale.len() + self.report.impossible.len()
    }
}

/// The database behind the loader: one version per key.
struct Source {
    versions: Vec<AtomicU64>,
    locks: Vec<tokio::sync::Mutex<()>>,
}

async fn client(setup: Setup, url: &str) -> fred::clients::Client {
    use fred::prelude::*;
    match setup {
        Setup::Readme => {
            let redis = Builder::from_config(Config::from_url(url).unwrap()).build().unwrap();
            redis.init().await.unwrap();
            redis
        }
        Setup::Tuned => tuned_client(url).await,
    }
}

/// A client with a reconnect policy (every 50 ms), 500 ms connection and command timeouts
/// and one attempt per command.
pub async fn tuned_client(url: &str) -> fred::clients::Client {
    use fred::prelude::*;
    let mut cfg = Config::from_url(url).unwrap();
    cfg.version = fred::types::RespVersion::RESP3;
    let client = Builder::from_config(cfg)
        .set_policy(ReconnectPolicy::new_constant(0, 50))
        .with_connection_config(|c| {
            c.connection_timeout = Duration::from_millis(500);
            c.max_command_attempts = 1;
        })
        .with_performance_config(|p| p.default_command_timeout = Duration::from_millis(500))
        .build()
        .unwrap();
    client.init().await.unwrap();
    client
}

async fn instance(setup: Setup, url: &str, source: &Arc<Source>) -> TieredCache<u64> {
    let source = source.clone();
    let loader = loader_fn(move |key: String| {
        let source = source.clone();
        async move {
            let k: usize = key.trim_start_matches('k').parse()?;
            let v = source.versions[k].load(Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(1)).await;
            Ok::<_, BoxError>(Some(v))
        }
    });
    let redis = client(setup, url).await;
    let builder = TieredCache::<u64>::builder("users").redis(redis);
    let builder = match setup {
        // As docs/tiered-cache.md shows it.
        Setup::Readme => builder
            .ttl(Duration::from_secs(300))
            .soft_ttl(Duration::from_secs(240))
            .negative_ttl(Duration::from_secs(30))
            .lease(LeaseConfig::default()),
        Setup::Tuned => builder
            .ttl(Duration::from_secs(300))
            .l2_timeout(Duration::from_millis(100))
            .breaker(3, Duration::from_millis(150))
            .degraded_l1_ttl(Duration::from_millis(300))
            .coherence_bound(Duration::from_millis(100)),
    };
    builder.loader(loader).build().await.unwrap()
}

/// Runs the scenario once on a private Redis; about 7 s.
pub async fn fault_run(setup: Setup) -> FaultRun {
    let mut server = RedisServer::start().await.unwrap();
    let url = server.url();
    let source = Arc::new(Source {
        versions: (0..KEYS).map(|_| AtomicU64::new(0)).collect(),
        locks: (0..KEYS).map(|_| tokio::sync::Mutex::new(())).collect(),
    });
    let caches = [instance(setup, &url, &source).await, instance(setup, &url, &source).await];
    let bound = caches[0].config().coherence_bound;
    let history = History::new();

    let load = {
        let (caches, source, history) = (caches.clone(), source.clone(), history.clone());
        tokio::spawn(async move {
            OpenLoop::new(RATE)
                .arrivals(Arrivals::Poisson { seed: 13 })
                .max_requests((RATE * 7.0) as u64)
                .max_duration(Duration::from_secs(7))
                .run(move |i| operation(i, caches.clone(), source.clone(), history.clone()))
                .await
                .unwrap()
        })
    };

    tokio::time::sleep(Duration::from_secs(1)).await;
    let killed = Instant::now();
    server.kill();
    tokio::time::sleep(OUTAGE).await;
    server.restart().await.unwrap();
    let restarted = Instant::now();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let paused = Instant::now();
    server.pause().unwrap();
    tokio::time::sleep(OUTAGE).await;
    server.resume().unwrap();
    let resumed = Instant::now();
    let load = load.await.unwrap();

    let windows = |c: Checker| {
        c.relaxed(killed, restarted + RECOVERY, Duration::from_secs(3600)).relaxed(
            paused,
            resumed + RECOVERY,
            Duration::from_secs(3600),
        )
    };
    let report = windows(Checker::new().propagation(bound)).check(&history);
    let strict = Checker::new().propagation(bound).check(&history);
    let coherent = |from: Instant, to: Instant| {
        strict
            .stale
            .iter()
            .filter(|v| v.read_start >= from && v.read_start < to)
            .map(|v| v.read_start.saturating_duration_since(from))
            .max()
            .unwrap_or_default()
    };
    let coherent_after_restart = coherent(restarted, paused);
    let coherent_after_resume = coherent(resumed, resumed + Duration::from_secs(3600));
    FaultRun {
        setup,
        report,
        load,
        stale_strict: strict.stale.len() + strict.impossible.len(),
        coherent_after_restart,
        coherent_after_resume,
        bound,
    }
}

/// One operation of the load: instance `i % 2`; a write every [`WRITE_EVERY`], else a read.
async fn operation(i: u64, caches: [TieredCache<u64>; 2], source: Arc<Source>, history: History) -> Result<(), String> {
    let instance = (i % 2) as usize;
    let k = ((i / 2).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) % KEYS;
    let key = format!("k{k}");
    let cache = &caches[instance];
    if i.is_multiple_of(WRITE_EVERY) {
        let _serial = source.locks[k as usize].lock().await;
        let start = Instant::now();
        let version = source.versions[k as usize].fetch_add(1, Ordering::SeqCst) + 1;
        let done = if (i / WRITE_EVERY).is_multiple_of(2) {
            cache.set(&key, version).await.map(|_| ())
        } else {
            cache.invalidate(&key).await.map(|_| ())
        };
        let end = Instant::now();
        match done {
            Ok(()) => history.write(instance, &key, version, start, end),
            Err(e) => {
                history.error(instance, &key, &e.to_string(), start, end);
                return Err(e.to_string());
            }
        }
    } else {
        let start = Instant::now();
        let read = cache.get_or_load(&key).await;
        let end = Instant::now();
        match read {
            Ok(v) => history.read(instance, &key, v, start, end),
            Err(e) => {
                history.error(instance, &key, &e.to_string(), start, end);
                return Err(e.to_string());
            }
        }
    }
    Ok(())
}
