//! The fault run: two cache instances on a private Redis under bounded open-loop load, while
//! Redis is killed and restarted, then paused (SIGSTOP, longer than the L2 timeout) and
//! resumed, then has its data connections killed (`CLIENT KILL TYPE normal`: the instances'
//! command connections, which carry client tracking, drop and reconnect at once while their
//! pub/sub connections stay). Every operation goes into a history that the testkit's checker
//! judges.
//!
//! Shared by the fault test (`tests/redis_fault.rs`, which asserts the behaviour) and the
//! bench (`benches/benches/tiered-cache.rs`, which reports the figures), so both run exactly
//! the same scenario.
//!
//! The source ("the database") holds one version per key. A write bumps the version, then
//! `set`s it or `invalidate`s the key, in turns on both instances; writes of one key are
//! serialised, as rows of a table would be. A read is `get_or_load`, whose loader returns the
//! version the source holds. So a read that returns an older version than a write that had returned (plus
//! the propagation bound, on the other instance) is a stale read. Every value also carries its
//! key ([`KEY_TAG`]): a read answered with another key's value is a caller-visible error.
//!
//! What the checker allows, per the cache's documented behaviour:
//!
//! - Outside the faults: `coherence_bound` on other instances, 0 on the writing one.
//! - From each fault's start to [`RECOVERY`] after its end: `degraded_l1_ttl +
//!   coherence_bound` on other instances (an instance whose L2 breaker is open serves L1
//!   entries younger than `degraded_l1_ttl`; one that cannot prove its L1 current serves
//!   nothing from it otherwise).
//! - A write that returned `Propagation::Pending` (Redis unreachable: applied on its own
//!   instance only, retried until Redis confirms) during that span need not be seen by the
//!   other instance before the span ends; afterwards it is an ordinary write. The writing
//!   instance must read its own writes at once, pending or not.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perfstack_testkit::history::{Checker, History, OpKind, Report, Violation};
use perfstack_testkit::load::{Arrivals, LoadReport, OpenLoop};
use perfstack_testkit::RedisServer;
use perfstack_tiered_cache::{loader_fn, BoxError, CacheStats, LeaseConfig, TieredCache};
use tokio::time::Instant;

/// Keys under load: few, so that reads and writes of one key interleave often.
const KEYS: u64 = 16;
/// One operation in this many is a write.
const WRITE_EVERY: u64 = 10;
/// Values are `key * KEY_TAG + version`: a read that returns another key's value is caught as
/// such (a reply matched to the wrong command would otherwise pass for a plausible version).
const KEY_TAG: u64 = 1 << 32;
/// Offered load, operations per second over both instances.
const RATE: f64 = 800.0;
/// The documented time to coherence after Redis is back; reads that start later must not be
/// stale at all (beyond the propagation bound).
pub const RECOVERY: Duration = Duration::from_secs(1);
/// How long the kill and the pause last.
const OUTAGE: Duration = Duration::from_secs(1);
/// Load before the first fault.
const WARMUP: Duration = Duration::from_secs(1);
/// From one fault's end to the next fault: [`RECOVERY`], then reads judged by the plain bound.
const BETWEEN: Duration = Duration::from_millis(1_500);
/// How long the load runs: the phases take about 6.1 s (plus the restart), which leaves at
/// least [`RECOVERY`] and a strictly judged stretch after the last fault.
const LOAD: Duration = Duration::from_secs(8);
/// The least load left after the last fault's recovery, or the run says so.
const TAIL: Duration = Duration::from_millis(300);
/// How far before a violation's missed write [`FaultRun::timeline`] lists the key's history.
const KEY_HISTORY: Duration = Duration::from_millis(300);
/// How long the end of the run waits for both instances to settle (verified, nothing pending).
const SETTLE: Duration = Duration::from_secs(5);

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

/// One fault of the run and how the history looked around it.
#[derive(Debug, Clone)]
pub struct Fault {
    /// What was done: "restart", "pause", "data-connection kill".
    pub what: &'static str,
    /// When it began (SIGKILL sent, SIGSTOP sent, CLIENT KILL sent).
    pub start: Instant,
    /// When Redis was back: accepting connections after the restart, SIGCONT sent, the
    /// CLIENT KILL answered (the connections are re-established at once).
    pub end: Instant,
    /// From `end` to the start of the last read that the strict check (propagation bound
    /// only, no relaxed window, pending writes excused until `end + RECOVERY`) found stale,
    /// among reads starting before the next fault (zero when none was).
    pub time_to_coherence: Duration,
    /// Reads the strict check found stale from `start` until the next fault.
    pub stale_strict: usize,
}

impl Fault {
    /// Reads starting in `[start, end + RECOVERY)` are judged with the fault bound.
    pub fn window_end(&self) -> Instant {
        self.end + RECOVERY
    }
}

/// What one fault run found.
#[derive(Debug)]
pub struct FaultRun {
    pub setup: Setup,
    /// The judgement: the propagation bound outside the faults, the fault bound within each
    /// fault plus [`RECOVERY`], pending writes excused on the other instance until then.
    /// `is_ok()` means: no stale read after recovery, none beyond the fault bound during the
    /// faults, no impossible read.
    pub report: Report,
    /// The load generator's view: caller-visible errors are counted there too.
    pub load: LoadReport,
    /// When the load started (the origin of [`FaultRun::timeline`]).
    pub t0: Instant,
    /// Restart, pause, data-connection kill, in this order.
    pub faults: [Fault; 3],
    /// Reads judged stale by the strict check (propagation bound only, no relaxed window,
    /// pending writes excused during each fault and its recovery).
    pub stale_strict: usize,
    /// Writes that returned `Propagation::Pending`.
    pub pending_writes: usize,
    /// The propagation bound the check used (the cache's `coherence_bound`).
    pub bound: Duration,
    /// The bound within the fault windows: `degraded_l1_ttl + coherence_bound`.
    pub fault_bound: Duration,
    /// L1 hits over both instances at the end.
    pub l1_hits: u64,
    /// Both instances ended with `l1_verified` and no pending invalidation (within
    /// [`SETTLE`] after the load).
    pub settled: bool,
    /// How long after the load that took (or [`SETTLE`] when it never happened).
    pub settle_time: Duration,
    /// Both instances' stats at the end.
    pub stats: [CacheStats; 2],
    /// How many connections the CLIENT KILL closed.
    pub connections_killed: u64,
    /// Every operation of the run.
    pub history: History,
}

impl FaultRun {
    /// Caller-visible errors (recorded in the history and counted by the load generator).
    pub fn caller_errors(&self) -> u64 {
        self.load.errors.max(self.report.errors as u64)
    }

    /// The caller-visible errors, one line each: when, where and what (the first ten).
    pub fn errors(&self) -> String {
        let t0 = self.t0;
        let mut out = String::new();
        for op in self.history.ops().iter().filter(|op| matches!(op.kind, OpKind::Error(_))).take(10) {
            if let OpKind::Error(e) = &op.kind {
                let ms = |t: Instant| t.saturating_duration_since(t0).as_millis();
                let _ =
                    write!(out, "\n  {}..{} ms instance {} key {}: {e}", ms(op.start), ms(op.end), op.instance, op.key);
            }
        }
        out
    }

    /// The restart fault (Redis killed, then started again, empty).
    pub fn restart(&self) -> &Fault {
        &self.faults[0]
    }

    /// The pause fault (SIGSTOP, then SIGCONT).
    pub fn pause(&self) -> &Fault {
        &self.faults[1]
    }

    /// The data-connection kill (CLIENT KILL TYPE normal).
    pub fn data_connection_kill(&self) -> &Fault {
        &self.faults[2]
    }

    /// Whether `t` lies in some fault's window (its start to its end plus [`RECOVERY`]).
    pub fn in_fault_window(&self, t: Instant) -> bool {
        self.faults.iter().any(|f| f.start <= t && t < f.window_end())
    }

    /// Stale reads outside every fault window plus impossible reads: what must be zero after
    /// recovery.
    pub fn stale_after_recovery(&self) -> usize {
        self.report.stale.iter().filter(|v| !self.in_fault_window(v.read_start)).count() + self.report.impossible.len()
    }

    /// Stale reads within a fault window: beyond the fault bound on the other instance, or
    /// missing the reader's own write (read-your-writes holds during faults too).
    pub fn stale_during_faults(&self) -> usize {
        self.report.stale.iter().filter(|v| self.in_fault_window(v.read_start)).count()
    }

    /// L1 hits as a share of all reads.
    pub fn l1_hit_share(&self) -> f64 {
        self.l1_hits as f64 / self.report.reads.max(1) as f64
    }

    /// The faults and the first violations on one time line (ms after the load started), with
    /// both instances' final stats: for failure messages.
    pub fn timeline(&self) -> String {
        let at = |t: Instant| t.saturating_duration_since(self.t0).as_millis();
        let mut out = String::new();
        for f in &self.faults {
            let _ = write!(
                out,
                "\n  {} from {} ms to {} ms (window to {} ms): {} strict-stale reads, coherent {:?} after",
                f.what,
                at(f.start),
                at(f.end),
                at(f.window_end()),
                f.stale_strict,
                f.time_to_coherence
            );
        }
        let mut line = |kind: &str, v: &Violation| {
            let fault =
                self.faults.iter().rev().find(|f| f.start <= v.read_start).map_or("before any fault".to_owned(), |f| {
                    let phase = if v.read_start < f.end {
                        "during"
                    } else if v.read_start < f.window_end() {
                        "recovering from"
                    } else {
                        "after the recovery from"
                    };
                    format!("{phase} the {}", f.what)
                });
            let _ = write!(
                out,
                "\n  {kind} at {} ms ({fault}): key {} on instance {} read {}..{} ms returned v{}, expected v{} \
                 (instance {}, returned at {} ms)",
                at(v.read_start),
                v.key,
                v.instance,
                at(v.read_start),
                at(v.read_end),
                v.returned,
                v.expected_at_least,
                v.write_instance,
                at(v.write_end),
            );
        };
        for v in self.report.stale.iter().take(20) {
            line("stale", v);
        }
        for v in self.report.impossible.iter().take(10) {
            line("impossible", v);
        }
        // What happened to the key of the first violations, from a little before the write
        // the read missed to the read.
        let ops = self.history.ops();
        for v in self.report.stale.iter().chain(&self.report.impossible).take(3) {
            let from = v.write_end.min(v.read_start) - KEY_HISTORY;
            let _ = write!(out, "\n  key {} from {} ms to the read:", v.key, at(from));
            for op in ops.iter().filter(|op| op.key == v.key && op.end >= from && op.start <= v.read_end) {
                let what = match &op.kind {
                    OpKind::Write(n) => format!("write v{n}"),
                    OpKind::WritePending(n) => format!("write v{n} (pending)"),
                    OpKind::Read(Some(n)) => format!("read v{n}"),
                    OpKind::Read(None) => "read nothing".to_owned(),
                    OpKind::Error(e) => format!("error {e}"),
                    other => format!("{other:?}"),
                };
                let _ = write!(out, "\n    {}..{} ms instance {}: {what}", at(op.start), at(op.end), op.instance);
            }
        }
        for (i, s) in self.stats.iter().enumerate() {
            let _ = write!(out, "\n  instance {i} at the end: {s:?}");
        }
        out
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
            Ok::<_, BoxError>(Some(k as u64 * KEY_TAG + v))
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

/// Kills every normal connection to the server but the one sending the command: both
/// instances' command connections (with their client tracking), not their pub/sub ones.
/// Returns (when it was sent, when it was answered, how many were closed).
async fn kill_data_connections(url: &str) -> (Instant, Instant, u64) {
    use fred::prelude::*;
    use fred::types::client::{ClientKillFilter, ClientKillType};
    let admin = Builder::from_config(Config::from_url(url).unwrap()).build().unwrap();
    admin.init().await.unwrap();
    let start = Instant::now();
    let killed: u64 = admin
        .client_kill(vec![ClientKillFilter::Type(ClientKillType::Normal), ClientKillFilter::SkipMe(true)])
        .await
        .unwrap();
    let end = Instant::now();
    let _ = admin.quit().await;
    (start, end, killed)
}

/// Runs the scenario once on a private Redis; about 8 s.
pub async fn fault_run(setup: Setup) -> FaultRun {
    let mut server = RedisServer::start().await.unwrap();
    let url = server.url();
    let source = Arc::new(Source {
        versions: (0..KEYS).map(|_| AtomicU64::new(0)).collect(),
        locks: (0..KEYS).map(|_| tokio::sync::Mutex::new(())).collect(),
    });
    let caches = [instance(setup, &url, &source).await, instance(setup, &url, &source).await];
    let cfg = caches[0].config();
    let bound = cfg.coherence_bound;
    let fault_bound = cfg.degraded_l1_ttl + cfg.coherence_bound;
    let history = History::new();

    let t0 = Instant::now();
    let load = {
        let (caches, source, history) = (caches.clone(), source.clone(), history.clone());
        tokio::spawn(async move {
            OpenLoop::new(RATE)
                .arrivals(Arrivals::Poisson { seed: 13 })
                .max_requests((RATE * LOAD.as_secs_f64()) as u64)
                .max_duration(LOAD)
                .run(move |i| operation(i, caches.clone(), source.clone(), history.clone()))
                .await
                .unwrap()
        })
    };

    tokio::time::sleep(WARMUP).await;
    let killed = Instant::now();
    server.kill();
    tokio::time::sleep(OUTAGE).await;
    server.restart().await.unwrap();
    let restarted = Instant::now();
    tokio::time::sleep(BETWEEN).await;
    let paused = Instant::now();
    server.pause().unwrap();
    tokio::time::sleep(OUTAGE).await;
    server.resume().unwrap();
    let resumed = Instant::now();
    tokio::time::sleep(BETWEEN).await;
    let (conns_killed, conns_kill_answered, connections_killed) = kill_data_connections(&url).await;
    let load_end = t0 + LOAD;
    assert!(
        conns_kill_answered + RECOVERY + TAIL <= load_end,
        "the faults took too long: the load ends {:?} after the last one",
        load_end.saturating_duration_since(conns_kill_answered)
    );
    let load = load.await.unwrap();

    // Both instances verified, with nothing pending: the drain after the faults finished.
    let settling = Instant::now();
    let settled = loop {
        let done = caches.iter().all(|c| {
            let s = c.stats();
            s.l1_verified && s.pending_invalidations == 0
        });
        if done || settling.elapsed() >= SETTLE {
            break done;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let settle_time = settling.elapsed();
    let stats = [caches[0].stats(), caches[1].stats()];

    let spans = [
        ("restart", killed, restarted),
        ("pause", paused, resumed),
        ("data-connection kill", conns_killed, conns_kill_answered),
    ];
    // Pending writes during a fault and its recovery need not reach the other instance
    // before the recovery ends; the fault windows relax the bound to the fault bound.
    let grace =
        |c: Checker| spans.iter().fold(c, |c, &(_, from, to)| c.pending_grace(from, to + RECOVERY, to + RECOVERY));
    let windows = |c: Checker| spans.iter().fold(c, |c, &(_, from, to)| c.relaxed(from, to + RECOVERY, fault_bound));
    let report = windows(grace(Checker::new().propagation(bound))).check(&history);
    let strict = grace(Checker::new().propagation(bound)).check(&history);

    let faults = std::array::from_fn(|i| {
        let (what, start, end) = spans[i];
        let next = spans.get(i + 1).map(|s| s.1);
        let until_next = |t: Instant| next.is_none_or(|n| t < n);
        let ours = || strict.stale.iter().filter(|v| v.read_start >= start && until_next(v.read_start));
        let time_to_coherence = ours()
            .filter(|v| v.read_start >= end)
            .map(|v| v.read_start.saturating_duration_since(end))
            .max()
            .unwrap_or_default();
        Fault { what, start, end, time_to_coherence, stale_strict: ours().count() }
    });
    let pending_writes = history.ops().iter().filter(|op| matches!(op.kind, OpKind::WritePending(_))).count();
    FaultRun {
        setup,
        report,
        load,
        t0,
        faults,
        stale_strict: strict.stale.len() + strict.impossible.len(),
        pending_writes,
        bound,
        fault_bound,
        l1_hits: stats.iter().map(|s| s.l1_hits).sum(),
        settled,
        settle_time,
        stats,
        connections_killed,
        history,
    }
}

/// One operation of the load: a write every [`WRITE_EVERY`], else a read. Reads run on
/// instance `i % 2`; writes take turns on both instances (`i % 2` alone would put every write,
/// `WRITE_EVERY` being even, on instance 0, so that instance would never have to drop an entry
/// for another's write) and, per instance, between `set` and `invalidate`.
async fn operation(i: u64, caches: [TieredCache<u64>; 2], source: Arc<Source>, history: History) -> Result<(), String> {
    let write = i / WRITE_EVERY;
    let instance = if i.is_multiple_of(WRITE_EVERY) { (write % 2) as usize } else { (i % 2) as usize };
    let k = ((i / 2).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 60) % KEYS;
    let key = format!("k{k}");
    let cache = &caches[instance];
    if i.is_multiple_of(WRITE_EVERY) {
        let _serial = source.locks[k as usize].lock().await;
        let start = Instant::now();
        let version = source.versions[k as usize].fetch_add(1, Ordering::SeqCst) + 1;
        let done = if (write / 2).is_multiple_of(2) {
            cache.set(&key, k * KEY_TAG + version).await
        } else {
            cache.invalidate(&key).await
        };
        let end = Instant::now();
        match done {
            Ok(p) if p.is_confirmed() => history.write(instance, &key, version, start, end),
            // Applied here only; the other instance may miss it until Redis confirms.
            Ok(_) => history.write_pending(instance, &key, version, start, end),
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
            Ok(Some(v)) if v / KEY_TAG != k => {
                let e = format!("read of {key} returned v{} of key k{}", v % KEY_TAG, v / KEY_TAG);
                history.error(instance, &key, &e, start, end);
                return Err(e);
            }
            Ok(v) => history.read(instance, &key, v.map(|v| v % KEY_TAG), start, end),
            Err(e) => {
                history.error(instance, &key, &e.to_string(), start, end);
                return Err(e.to_string());
            }
        }
    }
    Ok(())
}
