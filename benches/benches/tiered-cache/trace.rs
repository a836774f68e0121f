//! Replays the ARC OLTP trace (a database's page references; Megiddo & Modha, "ARC: A
//! Self-Tuning, Low Overhead Replacement Cache", FAST 2003) through the cache's L1 and
//! computes Belady's optimum for the same capacity: L1's byte budget is `capacity` times the
//! weight L1's weigher gives an entry, measured through the public API. Reads `$PERFSTACK_TRACE_DIR/OLTP.lis.zst`
//! (default `../shared/data/cache-traces`), else a Zipf(0.9) workload.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use perfstack_tiered_cache::{loader_fn, BoxError, TieredCache};
use rand::{Rng, SeedableRng};

pub(crate) struct TraceReport {
    pub(crate) source: String,
    pub(crate) requests: usize,
    pub(crate) capacity: usize,
    pub(crate) hit_ratio: f64,
    pub(crate) belady: f64,
    pub(crate) loads: u64,
    pub(crate) secs: f64,
    pub(crate) l1: L1Budget,
}

impl TraceReport {
    pub(crate) fn markdown(&self) -> String {
        format!(
            "### Trace replay: {}\n\n{} page requests through L1 (quick_cache, sized in bytes), loader = in-process source; {}.\n\n\
             | L1 hit ratio | Belady optimum (same capacity) | loader calls | replay throughput |\n|---|---|---|---|\n\
             | {:.3} | {:.3} | {} | {:.0} req/s |\n",
            self.source,
            self.requests,
            self.l1.note(self.capacity),
            self.hit_ratio,
            self.belady,
            self.loads,
            self.requests as f64 / self.secs
        )
    }
}

/// L1's byte budget for a capacity in entries, from the weights L1's weigher gives this
/// trace's entries (key + entry header + encoded value + per-entry overhead).
pub(crate) struct L1Budget {
    /// The lightest and the heaviest entry, in bytes.
    pub(crate) min: u64,
    pub(crate) max: u64,
    /// Entries L1 held at the end of the replay.
    pub(crate) held: u64,
}

impl L1Budget {
    /// Measures each `(key, value)` alone in an L1-only cache and reads its weight back from
    /// `stats().l1_bytes`, so the weight is the weigher's own, not an estimate.
    async fn measure<V>(entries: impl IntoIterator<Item = (String, V)>) -> Option<L1Budget>
    where
        V: Clone + Send + Sync + serde::Serialize + serde::de::DeserializeOwned + 'static,
    {
        let cache = TieredCache::<V>::builder("trace-weights").build().await.ok()?;
        let (mut min, mut max) = (u64::MAX, 0);
        for (k, v) in entries {
            let before = cache.stats().l1_bytes;
            cache.set(&k, v).await.ok()?;
            cache.run_pending_tasks().await;
            let w = cache.stats().l1_bytes - before;
            (min, max) = (min.min(w), max.max(w));
            cache.forget_local(&k).await;
            cache.run_pending_tasks().await;
        }
        (max > 0).then_some(L1Budget { min, max, held: 0 })
    }

    /// Room for `capacity` entries of the heaviest weight (every entry's, when all weigh the same).
    fn bytes(&self, capacity: usize) -> u64 {
        capacity as u64 * self.max
    }

    /// How the capacity was matched, for the report.
    pub(crate) fn note(&self, capacity: usize) -> String {
        let (what, range, holds) = if self.min == self.max {
            ("the weight", String::new(), "")
        } else {
            (
                "the heaviest weight",
                format!("{}–{} B: ", self.min, self.max),
                " of that weight, a few more if lighter ones are in",
            )
        };
        format!(
            "L1 budget {capacity} × {} B, {what} L1's weigher gives an entry here ({range}key + entry header + encoded value + per-entry overhead, measured): room for {capacity} entries{holds}, the {capacity} pages Belady gets; L1 held {} entries at the end",
            self.max, self.held
        )
    }
}

fn trace_dir() -> PathBuf {
    std::env::var_os("PERFSTACK_TRACE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/cache-traces"))
}

/// ARC `.lis` lines: `start_block block_count ignored request_no`; each block is one request.
fn load_oltp(limit: usize) -> Option<Vec<u64>> {
    let file = std::fs::File::open(trace_dir().join("OLTP.lis.zst")).ok()?;
    let reader = BufReader::new(zstd::Decoder::new(file).ok()?);
    let mut out = Vec::new();
    for line in reader.lines() {
        let line = line.ok()?;
        let mut parts = line.split_whitespace();
        let (Some(start), Some(count)) = (parts.next(), parts.next()) else { continue };
        let (Ok(start), Ok(count)) = (start.parse::<u64>(), count.parse::<u64>()) else { continue };
        for b in start..start + count {
            out.push(b);
            if out.len() >= limit {
                return Some(out);
            }
        }
    }
    Some(out)
}

fn zipf(n: usize, pages: u64, s: f64) -> Vec<u64> {
    let weights: Vec<f64> = (1..=pages).map(|r| 1.0 / (r as f64).powf(s)).collect();
    let total: f64 = weights.iter().sum();
    let mut cdf = Vec::with_capacity(weights.len());
    let mut acc = 0.0;
    for w in weights {
        acc += w / total;
        cdf.push(acc);
    }
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    (0..n).map(|_| cdf.partition_point(|c| *c < rng.random::<f64>()) as u64).collect()
}

/// Belady's MIN: on a miss with a full cache, evict the page used furthest in the future.
fn belady(trace: &[u64], capacity: usize) -> f64 {
    let mut next = vec![usize::MAX; trace.len()];
    let mut last: HashMap<u64, usize> = HashMap::new();
    for i in (0..trace.len()).rev() {
        if let Some(&j) = last.get(&trace[i]) {
            next[i] = j;
        }
        last.insert(trace[i], i);
    }
    let mut by_next: BTreeSet<(usize, u64)> = BTreeSet::new();
    let mut cached: HashMap<u64, usize> = HashMap::new();
    let mut hits = 0usize;
    for (i, &p) in trace.iter().enumerate() {
        if let Some(n) = cached.get(&p).copied() {
            hits += 1;
            by_next.remove(&(n, p));
        } else if cached.len() >= capacity {
            if let Some(&(n, victim)) = by_next.iter().next_back() {
                by_next.remove(&(n, victim));
                cached.remove(&victim);
            }
        }
        cached.insert(p, next[i]);
        by_next.insert((next[i], p));
    }
    hits as f64 / trace.len() as f64
}

fn trace(limit: usize) -> (String, Vec<u64>) {
    match load_oltp(limit) {
        Some(t) if !t.is_empty() => ("ARC OLTP trace".to_owned(), t),
        _ => ("Zipf(0.9) fallback, 100k pages".to_owned(), zipf(limit.min(500_000), 100_000, 0.9)),
    }
}

/// The full stack on the trace: L1 (1,000 entries) → Redis → PostgreSQL (a table of the
/// trace's pages, loaded by primary key). `None` when a service is missing.
pub(crate) fn run_full_stack(quick: bool) -> Option<String> {
    let limit = if quick { 40_000 } else { usize::MAX };
    let (source, trace) = trace(limit);
    let capacity = 1_000;
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().ok()?;
    rt.block_on(async move {
        let db = perfstack_testkit::require_postgres().await?;
        let rk = perfstack_testkit::require_redis().await?;
        let mut pages: Vec<i64> = trace.iter().map(|p| *p as i64).collect();
        pages.sort_unstable();
        pages.dedup();
        db.client().batch_execute("create table pages (id bigint primary key, v bigint not null)").await.ok()?;
        for chunk in pages.chunks(20_000) {
            db.client()
                .execute("insert into pages select id, id % 1000 from unnest($1::bigint[]) id", &[&chunk])
                .await
                .ok()?;
        }
        let pg = std::sync::Arc::new(db.connect().await.ok()?);
        let stmt = pg.prepare("select v from pages where id = $1").await.ok()?;
        let loader = {
            let (pg, stmt) = (pg.clone(), stmt.clone());
            loader_fn(move |k: String| {
                let (pg, stmt) = (pg.clone(), stmt.clone());
                async move {
                    let id: i64 = k.parse()?;
                    let row = pg.query_opt(&stmt, &[&id]).await?;
                    Ok::<_, BoxError>(row.map(|r| r.get::<_, i64>(0)))
                }
            })
        };
        // One entry per (key length, value) the trace has: the loader's values are `id % 1000`.
        let shapes: BTreeMap<(usize, i64), String> =
            pages.iter().map(|id| ((format!("{id:011}").len(), id % 1000), format!("{id:011}"))).collect();
        let mut l1 = L1Budget::measure(shapes.into_iter().map(|((_, v), k)| (k, v))).await?;
        let client = fred::prelude::Builder::from_config(fred::prelude::Config::from_url(rk.url()).ok()?).build().ok()?;
        let cache = TieredCache::<i64>::builder("trace")
            .namespace(rk.prefix())
            .redis(client)
            .l1_max_bytes(l1.bytes(capacity))
            .ttl(std::time::Duration::from_secs(3_600))
            .loader(loader)
            .build()
            .await
            .ok()?;
        let started = std::time::Instant::now();
        for (i, p) in trace.iter().enumerate() {
            cache.get_or_load(&format!("{p:011}")).await.ok()?;
            if i % 1_000 == 0 {
                cache.run_pending_tasks().await;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        cache.run_pending_tasks().await;
        let s = cache.stats();
        l1.held = s.l1_entries;
        let n = trace.len() as f64;
        let belady = belady(&trace, capacity);
        drop(cache);
        Some(format!(
            "### Full stack on {source}: L1 → Redis → PostgreSQL\n\n{} requests, {} distinct pages; {}.\n\n\
             | L1 hit ratio | Belady (L1 capacity) | L2 hit ratio | loader (PostgreSQL) calls | throughput |\n|---|---|---|---|---|\n\
             | {:.3} | {:.3} | {:.3} | {} | {:.0} req/s |\n",
            trace.len(),
            pages.len(),
            l1.note(capacity),
            s.l1_hits as f64 / n,
            belady,
            s.l2_hits as f64 / n,
            s.loads + s.loads_not_found,
            n / secs
        ))
    })
}

pub(crate) fn run(quick: bool) -> Option<TraceReport> {
    let limit = if quick { 200_000 } else { usize::MAX };
    let (source, trace) = trace(limit);
    let capacity = 1_000;
    let belady = belady(&trace, capacity);
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    // The loader's value is the key's length, so an entry's weight depends on the key's length
    // only: the shortest and the longest key are every shape there is.
    let keys = [trace.iter().min()?, trace.iter().max()?].map(|p| format!("{p:011}"));
    let mut l1 = rt.block_on(L1Budget::measure(keys.into_iter().map(|k| {
        let v = k.len() as u64;
        (k, v)
    })))?;
    let started = std::time::Instant::now();
    let stats = rt.block_on(async {
        let cache = TieredCache::<u64>::builder("trace")
            .l1_max_bytes(l1.bytes(capacity))
            .ttl(std::time::Duration::from_secs(3_600))
            .loader(loader_fn(|k: String| async move { Ok::<_, BoxError>(Some(k.len() as u64)) }))
            .build()
            .await
            .unwrap();
        for (i, p) in trace.iter().enumerate() {
            let _ = cache.get_or_load(&format!("{p:011}")).await;
            if i % 1_000 == 0 {
                cache.run_pending_tasks().await;
            }
        }
        cache.run_pending_tasks().await;
        cache.stats()
    });
    let secs = started.elapsed().as_secs_f64();
    l1.held = stats.l1_entries;
    let loads = stats.loads;
    Some(TraceReport {
        source,
        requests: trace.len(),
        capacity,
        hit_ratio: 1.0 - loads as f64 / trace.len() as f64,
        belady,
        loads,
        secs,
        l1,
    })
}
