//! Invalidation propagation between two instances, and the p99 helper the L2 figures share.

use std::time::{Duration, Instant};

use fred::prelude::{Builder, ClientLike, Config};
use perfstack_benches::quick;
use perfstack_tiered_cache::TieredCache;

/// From "A starts a write" to "B has dropped its L1 copy", over the real invalidation path
/// (client tracking redirected to B's listener, then B's event loop).
pub(crate) async fn propagation_p99(url: &str, ns: &str, a: &TieredCache<String>) -> Option<(f64, usize)> {
    let mut cfg = Config::from_url(url).ok()?;
    cfg.version = fred::types::RespVersion::RESP3;
    let client = Builder::from_config(cfg).build().ok()?;
    client.init().await.ok()?;
    let b = TieredCache::<String>::builder("bench-l2").namespace(ns).redis(client.clone()).build().await.ok()?;
    let rounds = if quick() { 300 } else { 2_000 };
    let mut samples = Vec::with_capacity(rounds);
    for i in 0..rounds {
        let before = b.stats().invalidations_received;
        let t = Instant::now();
        a.set("propagation", format!("{i}")).await.ok()?;
        while b.stats().invalidations_received == before {
            if t.elapsed() > Duration::from_secs(1) {
                return None;
            }
            tokio::task::yield_now().await;
        }
        samples.push(t.elapsed());
    }
    drop(b);
    let _ = client.quit().await;
    Some((p99(&mut samples), rounds))
}

/// The 99th percentile of `v`, in seconds (sorts `v`).
pub(crate) fn p99(v: &mut [Duration]) -> f64 {
    v.sort_unstable();
    v[(v.len() * 99 / 100).min(v.len() - 1)].as_secs_f64()
}
