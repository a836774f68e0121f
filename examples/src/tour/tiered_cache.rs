//! The tiered cache: two instances sharing Redis (or an in-memory L2 when Redis is absent),
//! single-flight, propagation of a write and of an invalidation.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perfstack_tiered_cache::{loader_fn, BoxError, MemoryStore, TieredCache};

use super::{SectionError, Tour};

/// Runs the section.
///
/// # Errors
///
/// When a cache cannot be built or a step does not behave as shown.
pub async fn run(tour: &Tour) -> Result<(), SectionError> {
    tour.heading("tiered-cache: L1 in memory + L2 Redis + loader, two instances");
    two_instances(tour.services.redis.as_deref(), tour.quick).await
}

/// The demo of `examples/src/bin/tiered-cache.rs`: two instances of one cache.
///
/// # Errors
///
/// When a cache cannot be built or a step does not behave as shown.
pub async fn two_instances(redis: Option<&str>, quick: bool) -> Result<(), SectionError> {
    let loads = Arc::new(AtomicUsize::new(0));
    let (a, b) = match redis {
        Some(url) => {
            println!("L2: Redis at {url}");
            let ns = format!("pstour:tc:{}:", std::process::id());
            (instance(Some((url, &ns)), None, &loads).await?, instance(Some((url, &ns)), None, &loads).await?)
        }
        None => {
            println!("L2: Redis not reachable, using the in-memory tier (same API, one process)");
            let store = MemoryStore::new();
            (instance(None, Some(&store), &loads).await?, instance(None, Some(&store), &loads).await?)
        }
    };

    let callers = if quick { 200 } else { 1_000 };
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let a = a.clone();
            tokio::spawn(async move { a.get_or_load("user:42").await })
        })
        .collect();
    for t in tasks {
        t.await??;
    }
    println!(
        "{callers} concurrent get_or_load on instance A -> loader calls: {}, L2 writes: {}",
        loads.load(Ordering::SeqCst),
        a.stats().l2_writes
    );

    let v = b.get("user:42").await?;
    println!("instance B get -> {v:?} (from L2, promoted with its remaining TTL)");

    let started = tokio::time::Instant::now();
    a.set("user:42", "Ada Lovelace (renamed)".into()).await?;
    let deadline = started + Duration::from_secs(2);
    while b.get("user:42").await?.as_deref() != Some("Ada Lovelace (renamed)") {
        if tokio::time::Instant::now() > deadline {
            return Err("instance B never saw A's write".into());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    println!("A set -> B sees the new value after {:?}", started.elapsed());

    a.invalidate("user:42").await?;
    let started = tokio::time::Instant::now();
    while b.get("user:42").await?.is_some() {
        if started.elapsed() > Duration::from_secs(2) {
            return Err("instance B kept an invalidated value".into());
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
    println!("A invalidate -> B drops it after {:?}", started.elapsed());

    let (sa, sb) = (a.stats(), b.stats());
    println!(
        "stats A: l1_hits={} l2_writes={} loads={} | stats B: l1_hits={} l2_hits={} invalidations_received={}",
        sa.l1_hits, sa.l2_writes, sa.loads, sb.l1_hits, sb.l2_hits, sb.invalidations_received
    );
    a.invalidate_prefix("").await?;
    Ok(())
}

async fn instance(
    redis: Option<(&str, &str)>,
    store: Option<&MemoryStore>,
    loads: &Arc<AtomicUsize>,
) -> Result<TieredCache<String>, SectionError> {
    let loads = loads.clone();
    let mut builder = TieredCache::<String>::builder("tour-users")
        .ttl(Duration::from_secs(60))
        .soft_ttl(Duration::from_secs(50))
        .loader(loader_fn(move |id: String| {
            let loads = loads.clone();
            async move {
                loads.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await; // the database
                Ok::<_, BoxError>(Some(format!("Ada Lovelace ({id})")))
            }
        }));
    if let Some((url, ns)) = redis {
        // The cache opens its own connections with these settings.
        let client = fred::prelude::Builder::from_config(fred::prelude::Config::from_url(url)?).build()?;
        builder = builder.redis(client).namespace(ns);
    }
    if let Some(store) = store {
        builder = builder.tier(store.tier());
    }
    Ok(builder.build().await?)
}
