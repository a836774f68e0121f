//! perfstack-admission in front of an axum service, checked against reality: a bounded
//! loopback load at 2× the service's measured capacity, with and without admission control.
//!
//! The handler does real work on a bounded resource: a PostgreSQL query (`pg_sleep(5 ms)`) on
//! a pool of 4 connections when PostgreSQL is reachable, else the same shape in memory (a
//! 4-slot semaphore and a 5 ms timer). Refused requests get 429 (a client over its rate
//! limit, keyed by the `x-client` header) or 503 (over the concurrency limit), both with
//! `Retry-After`; the
//! priority comes from the `x-priority` header, trusted here because the only client is this
//! program's own load generator; in front of real clients, strip that header at the edge or
//! derive the priority from the authenticated identity with `AdmissionLayer::priority_fn`
//! (docs/admission.md, "Trusting the priority header").
//!
//! ```text
//! cargo run -p perfstack-examples --bin admission            # 3 s per run
//! cargo run -p perfstack-examples --bin admission -- --quick # what CI runs (1 s per run)
//! ```
#![allow(clippy::print_stdout)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use perfstack_admission::limit::{Vegas, VegasConfig};
use perfstack_admission::rate::KeyedRateLimit;
use perfstack_admission::tower::AdmissionLayer;
use perfstack_admission::AdmissionController;
use perfstack_examples::services::Services;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

const POOL: usize = 4;
const DEADLINE: Duration = Duration::from_secs(1);

type Error = Box<dyn std::error::Error + Send + Sync>;

/// The bounded resource: PostgreSQL connections or an in-memory stand-in.
struct Backend {
    slots: Semaphore,
    /// Handler calls in progress (waiting or working), to wait for a backlog to drain.
    busy: AtomicUsize,
    pg: Option<std::sync::Mutex<Vec<tokio_postgres::Client>>>,
}

impl Backend {
    async fn connect(url: Option<&str>) -> Result<Self, Error> {
        let pg = match url {
            Some(url) => {
                let mut clients = Vec::new();
                for _ in 0..POOL {
                    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
                    tokio::spawn(conn);
                    clients.push(client);
                }
                Some(std::sync::Mutex::new(clients))
            }
            None => None,
        };
        Ok(Self { slots: Semaphore::new(POOL), busy: AtomicUsize::new(0), pg })
    }

    /// Cancellation-safe: hyper drops this future when the client goes away, and the guards
    /// give the connection and the slot back.
    async fn work(&self) -> Result<(), Error> {
        let _slot = self.slots.acquire().await?;
        match &self.pg {
            Some(pool) => {
                let client = Pooled::take(pool).ok_or("pool empty")?;
                client.get().simple_query("select pg_sleep(0.005)").await?;
            }
            None => tokio::time::sleep(Duration::from_millis(5)).await,
        }
        Ok(())
    }
}

/// A connection taken from the pool, returned on drop (also when the future is cancelled).
struct Pooled<'a> {
    client: Option<tokio_postgres::Client>,
    pool: &'a std::sync::Mutex<Vec<tokio_postgres::Client>>,
}

impl<'a> Pooled<'a> {
    fn take(pool: &'a std::sync::Mutex<Vec<tokio_postgres::Client>>) -> Option<Self> {
        let client = pool.lock().ok()?.pop()?;
        Some(Self { client: Some(client), pool })
    }

    fn get(&self) -> &tokio_postgres::Client {
        self.client.as_ref().unwrap_or_else(|| unreachable!("taken until drop"))
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let (Some(c), Ok(mut pool)) = (self.client.take(), self.pool.lock()) {
            pool.push(c);
        }
    }
}

/// Counts a handler call in progress until dropped (also when cancelled).
struct Busy<'a>(&'a AtomicUsize);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn handler(State(backend): State<Arc<Backend>>) -> StatusCode {
    backend.busy.fetch_add(1, Ordering::SeqCst);
    let _busy = Busy(&backend.busy);
    match backend.work().await {
        Ok(()) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Waits until the server finished the work of clients that gave up (at most 30 s).
async fn drained(backend: &Backend) {
    let until = Instant::now() + Duration::from_secs(30);
    while backend.busy.load(Ordering::SeqCst) > 0 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn serve(backend: Arc<Backend>, admission: Option<AdmissionController>) -> Result<std::net::SocketAddr, Error> {
    serve_layer(backend, admission.map(|ctl| AdmissionLayer::new(ctl).queue(false))).await
}

async fn serve_layer(backend: Arc<Backend>, layer: Option<AdmissionLayer>) -> Result<std::net::SocketAddr, Error> {
    let app = Router::new().route("/work", get(handler)).with_state(backend);
    let app = match layer {
        Some(layer) => app.layer(layer),
        None => app,
    };
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

/// One HTTP/1.1 request on its own connection; the status code, or `None` past the deadline.
async fn request(addr: std::net::SocketAddr, priority: &str) -> Option<u16> {
    request_as(addr, priority, "load").await.map(|(status, _)| status)
}

/// One request from client `client`: the status code and the `Retry-After` header, if any.
async fn request_as(addr: std::net::SocketAddr, priority: &str, client: &str) -> Option<(u16, Option<u64>)> {
    let go = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let req = format!(
            "GET /work HTTP/1.1\r\nHost: x\r\nx-priority: {priority}\r\nx-client: {client}\r\nConnection: close\r\n\r\n"
        );
        s.write_all(req.as_bytes()).await.ok()?;
        let mut head = Vec::with_capacity(512);
        s.read_to_end(&mut head).await.ok()?;
        let head = std::str::from_utf8(&head).ok()?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        let retry_after = head
            .lines()
            .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("retry-after")))
            .and_then(|(_, v)| v.trim().parse().ok());
        Some((status, retry_after))
    };
    tokio::time::timeout(DEADLINE, go).await.ok().flatten()
}

/// Both refusals with their `Retry-After`: a client over its own rate limit gets 429 while
/// another client is still served; a burst over the concurrency limit gets 503.
async fn refusals(backend: Arc<Backend>) -> Result<(), Error> {
    let ctl = AdmissionController::builder()
        .name("example-refusals")
        .fixed_limit(POOL)
        .priority_shares(perfstack_admission::PriorityShares::none())
        // 5 requests per second per client, in bursts of up to 5.
        .keyed_rate_limit(KeyedRateLimit::builder(5.0, 5).build()?)
        .build()?;
    let layer = AdmissionLayer::new(ctl).queue(false).key_header(axum::http::HeaderName::from_static("x-client"));
    let addr = serve_layer(backend, Some(layer)).await?;
    let mut greedy = Vec::new();
    for _ in 0..8 {
        greedy.push(request_as(addr, "normal", "greedy").await);
    }
    let polite = request_as(addr, "normal", "polite").await;
    let show = |r: &Option<(u16, Option<u64>)>| match r {
        Some((status, Some(secs))) => format!("{status} (Retry-After {secs} s)"),
        Some((status, None)) => status.to_string(),
        None => "late".to_owned(),
    };
    println!(
        "rate limit 5/s per x-client: greedy's 8 back-to-back requests: {}; then polite: {}",
        greedy.iter().map(show).collect::<Vec<_>>().join(", "),
        show(&polite)
    );
    // Many clients at once, each within its rate: the concurrency limit (4) refuses the excess.
    let burst: Vec<_> = (0..4 * POOL)
        .map(|i| tokio::spawn(async move { request_as(addr, "normal", &format!("client-{i}")).await }))
        .collect();
    let mut answers = Vec::new();
    for t in burst {
        answers.push(t.await.ok().flatten());
    }
    let refused = answers.iter().filter(|a| matches!(a, Some((503, _)))).count();
    let example = answers.iter().find(|a| matches!(a, Some((503, _)))).map_or_else(|| "none".to_owned(), show);
    println!("{} clients at once on a limit of {POOL}: {refused} got 503, e.g. {example}", 4 * POOL);
    Ok(())
}

struct Run {
    ok: u64,
    refused: u64,
    late: u64,
    latencies_us: Vec<u64>,
    secs: f64,
    /// When the last answered request completed, seconds from the start.
    last_ok: f64,
}

impl Run {
    fn p(&self, q: f64) -> f64 {
        let mut v = self.latencies_us.clone();
        v.sort_unstable();
        if v.is_empty() {
            return f64::NAN;
        }
        v[((v.len() as f64 * q).ceil() as usize).clamp(1, v.len()) - 1] as f64 / 1000.0
    }
}

/// Open loop: `rate` requests/s for `secs`, latency from the scheduled start.
async fn load(addr: std::net::SocketAddr, rate: f64, secs: f64) -> Run {
    let n = (rate * secs) as u64;
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(n as usize);
    for i in 0..n {
        let at = start + Duration::from_secs_f64(i as f64 / rate);
        tokio::time::sleep_until(at).await;
        let priority = if i % 10 < 3 { "critical" } else { "normal" };
        tasks.push(tokio::spawn(async move { (request(addr, priority).await, at.elapsed(), start.elapsed()) }));
    }
    let mut run = Run { ok: 0, refused: 0, late: 0, latencies_us: Vec::new(), secs, last_ok: 0.0 };
    for t in tasks {
        match t.await {
            Ok((Some(200), d, done)) if d <= DEADLINE => {
                run.ok += 1;
                run.latencies_us.push(d.as_micros() as u64);
                run.last_ok = run.last_ok.max(done.as_secs_f64());
            }
            Ok((Some(429 | 503), _, _)) => run.refused += 1,
            _ => run.late += 1,
        }
    }
    run
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let quick = perfstack_examples::quick_mode();
    let secs: f64 = if quick { 1.0 } else { 3.0 };
    let services = Services::detect().await;
    let backend = Arc::new(Backend::connect(services.postgres.as_deref()).await?);
    println!(
        "admission example: handler = {} on {POOL} slots, 1 s client deadline{}",
        if backend.pg.is_some() {
            "PostgreSQL pg_sleep(5 ms)"
        } else {
            "in-memory 5 ms work (PostgreSQL not reachable)"
        },
        if quick { " (quick mode)" } else { "" }
    );
    refusals(Arc::clone(&backend)).await?;
    drained(&backend).await;
    let bare = serve(Arc::clone(&backend), None).await?;
    // Measure capacity: a short open-loop burst above it; throughput = answered / time to answer.
    let probe = load(bare, 1500.0, 0.5).await;
    let capacity = (probe.ok as f64 / probe.last_ok.max(0.1)).max(50.0);
    drained(&backend).await;
    println!("measured capacity ≈ {capacity:.0} req/s; offering 2× = {:.0} req/s (30 % critical)", 2.0 * capacity);
    let ctl = AdmissionController::builder()
        .name("example")
        .try_limit(Vegas::new(VegasConfig { initial: 8, ..VegasConfig::default() }))
        .build()?;
    let guarded = serve(Arc::clone(&backend), Some(ctl.clone())).await?;
    // Warm the adaptive limit up at capacity before measuring.
    load(guarded, capacity, secs.min(1.0)).await;
    drained(&backend).await;
    // A hand-tuned static limit for comparison: twice the pool size, no queue.
    let fixed = AdmissionController::builder()
        .name("example-static")
        .fixed_limit(2 * POOL)
        .priority_shares(perfstack_admission::PriorityShares::none())
        .build()?;
    let static_addr = serve(Arc::clone(&backend), Some(fixed)).await?;
    println!("{:<18} {:>10} {:>10} {:>10} {:>9} {:>9}", "mode", "goodput/s", "refused", "late", "p50 ms", "p99 ms");
    for (name, addr) in [("no admission", bare), ("static limit 8", static_addr), ("admission (vegas)", guarded)] {
        let r = load(addr, 2.0 * capacity, secs).await;
        println!(
            "{name:<18} {:>10.0} {:>10} {:>10} {:>9.1} {:>9.1}",
            r.ok as f64 / r.secs,
            r.refused,
            r.late,
            r.p(0.5),
            r.p(0.99)
        );
        drained(&backend).await;
    }
    println!(
        "controller: limit {} after the run; admitted by priority (estimate) {}",
        ctl.limit(),
        ctl.stats()
            .priorities
            .iter()
            .map(|p| format!("{:?}={}", p.priority, p.admitted_estimate))
            .collect::<Vec<_>>()
            .join(" ")
    );
    Ok(())
}
