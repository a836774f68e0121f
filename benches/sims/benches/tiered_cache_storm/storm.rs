//! A hot-key expiry storm in virtual time: naive cache-aside (get, miss, load, set) against the
//! tiered cache (single-flight, TTL jitter, stale-while-revalidate), same keys, same arrivals,
//! same 50 ms loader. Counts loader calls per 100 ms window.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use perfstack_tiered_cache::{loader_fn, BoxError, MemoryStore, TieredCache};
use tokio::task::JoinSet;
use tokio::time::Instant;

const WINDOW_MS: u64 = 100;
const LOAD: Duration = Duration::from_millis(50);
const TTL: Duration = Duration::from_secs(2);

pub(crate) struct StormReport {
    pub(crate) keys: usize,
    pub(crate) rate_per_key: u64,
    pub(crate) secs: u64,
    pub(crate) naive_peak: u64,
    pub(crate) tiered_peak: u64,
    pub(crate) naive_total: u64,
    pub(crate) tiered_total: u64,
}

impl StormReport {
    pub(crate) fn markdown(&self) -> String {
        format!(
            "### Hot-key expiry storm (virtual time)\n\n{} hot keys, {} requests/s per key for {} s, loader latency 50 ms, TTL 2 s.\n\n\
             | | naive cache-aside | tiered cache |\n|---|---|---|\n\
             | loader calls in the peak 100 ms | {} | {} |\n| loader calls in total | {} | {} |\n",
            self.keys, self.rate_per_key, self.secs, self.naive_peak, self.tiered_peak, self.naive_total, self.tiered_total
        )
    }
}

#[derive(Clone)]
struct Calls {
    start: Instant,
    windows: Arc<Mutex<HashMap<u64, u64>>>,
}

impl Calls {
    fn new(start: Instant) -> Self {
        Calls { start, windows: Arc::new(Mutex::new(HashMap::new())) }
    }
    async fn load(&self, key: usize) -> u64 {
        let w = self.start.elapsed().as_millis() as u64 / WINDOW_MS;
        *self.windows.lock().entry(w).or_default() += 1;
        tokio::time::sleep(LOAD).await;
        key as u64
    }
    fn peak_and_total(&self) -> (u64, u64) {
        let w = self.windows.lock();
        (w.values().copied().max().unwrap_or(0), w.values().sum())
    }
}

async fn drive<F, Fut>(keys: usize, every: Duration, secs: u64, request: F)
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let start = Instant::now();
    let ticks = secs * 1_000 / every.as_millis() as u64;
    let mut tasks = JoinSet::new();
    for t in 0..ticks {
        tokio::time::sleep_until(start + every * t as u32).await;
        for k in 0..keys {
            tasks.spawn(request(k));
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
}

pub(crate) fn run(quick: bool) -> StormReport {
    let (keys, secs) = if quick { (30, 5) } else { (50, 12) };
    let every = Duration::from_millis(2); // 500 requests/s per key
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();

    let (naive_peak, naive_total) = rt.block_on(async {
        let calls = Calls::new(Instant::now());
        let map: Arc<Mutex<HashMap<usize, (u64, Instant)>>> = Arc::default();
        let c = calls.clone();
        drive(keys, every, secs, move |k| {
            let (calls, map) = (c.clone(), map.clone());
            async move {
                let hit = map.lock().get(&k).is_some_and(|(_, exp)| Instant::now() < *exp);
                if !hit {
                    let v = calls.load(k).await;
                    map.lock().insert(k, (v, Instant::now() + TTL));
                }
            }
        })
        .await;
        calls.peak_and_total()
    });

    let (tiered_peak, tiered_total) = rt.block_on(async {
        let calls = Calls::new(Instant::now());
        let c = calls.clone();
        let cache = TieredCache::<u64>::builder("storm")
            .tier(MemoryStore::new().tier())
            .ttl(TTL)
            .soft_ttl(TTL.mul_f64(0.8))
            .jitter(0.1)
            .loader(loader_fn(move |k: String| {
                let c = c.clone();
                async move {
                    let n: usize = k[1..].parse().unwrap_or(0);
                    Ok::<_, BoxError>(Some(c.load(n).await))
                }
            }))
            .build()
            .await
            .unwrap();
        drive(keys, every, secs, move |k| {
            let cache = cache.clone();
            async move {
                let _ = cache.get_or_load(&format!("k{k}")).await;
            }
        })
        .await;
        calls.peak_and_total()
    });

    StormReport { keys, rate_per_key: 500, secs, naive_peak, tiered_peak, naive_total, tiered_total }
}
