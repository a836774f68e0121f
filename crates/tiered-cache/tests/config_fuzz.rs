#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Config fuzzing (TESTING.md §3): every setter of `TieredCache::builder`, the whole `Config`
//! through `.config()`, `LeaseConfig`, and the names and keys a cache is given, fed the values
//! users pass by mistake. Each gives a build error or a cache that survives one use (set, get,
//! load, invalidate, warm), under the testkit's time and memory bounds. L2 is a `MemoryStore`
//! tier (no Redis).

use std::time::Duration;

use perfstack_testkit::fuzz::{block_on, durations, names, ratios, u32s, u64s, usizes, BoundedAlloc, Fuzz};
use perfstack_tiered_cache::{
    loader_fn, BoxError, CacheError, Config, LeaseConfig, MemoryStore, TieredCache, TieredCacheBuilder,
};
use proptest::option::weighted;
use proptest::prelude::*;

#[global_allocator]
static ALLOC: BoundedAlloc = BoundedAlloc::new();

/// How often an optional setter is called.
const SET: f64 = 0.35;
/// How often a field of the whole `Config` is fuzzed (there are 19 of them).
const WHOLE: f64 = 0.12;

/// A builder with a `MemoryStore` tier and a loader that answers `loaded:{key}`.
fn builder(name: &str) -> TieredCacheBuilder<String> {
    TieredCache::<String>::builder(name)
        .tier(MemoryStore::new().tier())
        .loader(loader_fn(|key: String| async move { Ok::<_, BoxError>(Some(format!("loaded:{key}"))) }))
}

/// One use of a cache: set, get, load, invalidate (one key and a prefix), hot keys, warm.
/// `read_back`: the settings leave a value readable right after it was set (TTLs of at least
/// 10 s, at most half of them cut by jitter, room for the key and value).
async fn use_cache(cache: &TieredCache<String>, read_back: bool) {
    let set = cache.set("k", "v".to_owned()).await;
    let got = cache.get("k").await;
    if read_back {
        assert!(set.is_ok(), "{set:?}");
        assert_eq!(got.unwrap(), Some("v".to_owned()), "a value just set was not read back");
    } else if let Err(e) = &set {
        assert!(!e.to_string().is_empty());
    }
    match cache.get_or_load("k2").await {
        Ok(v) => assert!(v.is_none_or(|v| v == "loaded:k2"), "wrong value"),
        Err(e) => assert!(
            matches!(
                e,
                CacheError::LoadTimeout { .. } | CacheError::ValueTooLarge { .. } | CacheError::KeyTooLong { .. }
            ),
            "{e}"
        ),
    }
    let _ = cache.invalidate("k").await;
    let _ = cache.invalidate_prefix("k").await;
    cache.forget_local("k2").await;
    let _ = cache.hot_keys();
    let _ = cache.persist_hot_keys().await;
    let _ = cache.warm().await;
    cache.run_pending_tasks().await;
    let _ = (cache.stats(), cache.config().clone());
}

#[derive(Debug, Clone)]
struct Ttls {
    ttl: Option<Duration>,
    soft: Option<Duration>,
    negative: Option<Duration>,
    refresh: Option<Duration>,
    degraded: Option<Duration>,
    jitter: Option<f64>,
}

/// `set`: how often each setter is called.
fn ttls(set: f64) -> impl Strategy<Value = Ttls> {
    (
        weighted(set, durations()),
        weighted(set, durations()),
        weighted(set, durations()),
        weighted(set, durations()),
        weighted(set, durations()),
        weighted(set, ratios()),
    )
        .prop_map(|(ttl, soft, negative, refresh, degraded, jitter)| Ttls {
            ttl,
            soft,
            negative,
            refresh,
            degraded,
            jitter,
        })
}

#[test]
fn ttl_setters_refuse_or_cache() {
    Fuzz::new("TieredCacheBuilder ttl / soft_ttl / negative_ttl / jitter").cases(128).run(ttls(SET), |t| {
        let mut b = builder("ttls");
        if let Some(d) = t.ttl {
            b = b.ttl(d);
        }
        if let Some(d) = t.soft {
            b = b.soft_ttl(d);
        }
        if let Some(d) = t.negative {
            b = b.negative_ttl(d);
        }
        if let Some(d) = t.refresh {
            b = b.refresh_retry_after(d);
        }
        if let Some(d) = t.degraded {
            b = b.degraded_l1_ttl(d);
        }
        if let Some(j) = t.jitter {
            b = b.jitter(j);
        }
        let long = |d: Option<Duration>| d.is_none_or(|d| d >= Duration::from_secs(20));
        let read_back = long(t.ttl) && long(t.soft) && t.jitter.is_none_or(|j| j <= 0.5);
        block_on(async {
            match b.build().await {
                Ok(cache) => use_cache(&cache, read_back).await,
                Err(e) => assert!(!e.to_string().is_empty()),
            }
        });
    });
}

#[test]
fn size_setters_refuse_or_cache() {
    let input = (weighted(SET, u64s()), weighted(SET, (usizes(), usizes())), weighted(SET, usizes()), any::<bool>());
    Fuzz::new("TieredCacheBuilder l1_max_bytes / limits / hot_keys").cases(128).run(
        input,
        |(l1, limits, hot, eviction_stats)| {
            let mut b = builder("sizes").l1_eviction_stats(eviction_stats);
            if let Some(n) = l1 {
                b = b.l1_max_bytes(n);
            }
            if let Some((k, v)) = limits {
                b = b.limits(k, v);
            }
            if let Some(n) = hot {
                b = b.hot_keys(n);
            }
            block_on(async {
                if let Ok(cache) = b.build().await {
                    use_cache(&cache, false).await;
                }
            });
        },
    );
}

#[derive(Debug, Clone)]
struct L2Settings {
    l2_timeout: Option<Duration>,
    breaker: Option<(u32, Duration)>,
    load_timeout: Option<Duration>,
    coherence: Option<Duration>,
    persist: Option<Option<Duration>>,
    lease: Option<(Duration, Duration)>,
}

/// `set`: how often each setter is called.
fn l2_settings(set: f64) -> impl Strategy<Value = L2Settings> {
    (
        weighted(set, durations()),
        weighted(set, (u32s(), durations())),
        weighted(set, durations()),
        weighted(set, durations()),
        weighted(set, weighted(0.8, durations())),
        weighted(set, (durations(), durations())),
    )
        .prop_map(|(l2_timeout, breaker, load_timeout, coherence, persist, lease)| L2Settings {
            l2_timeout,
            breaker,
            load_timeout,
            coherence,
            persist,
            lease,
        })
}

#[test]
fn l2_setters_refuse_or_cache() {
    Fuzz::new("TieredCacheBuilder l2_timeout / breaker / load_timeout / lease").cases(128).run(l2_settings(SET), |s| {
        let mut b = builder("l2");
        if let Some(d) = s.l2_timeout {
            b = b.l2_timeout(d);
        }
        if let Some((n, d)) = s.breaker {
            b = b.breaker(n, d);
        }
        if let Some(d) = s.load_timeout {
            b = b.load_timeout(d);
        }
        if let Some(d) = s.coherence {
            b = b.coherence_bound(d);
        }
        if let Some(every) = s.persist {
            b = b.persist_hot_keys_every(every);
        }
        if let Some((ttl, wait)) = s.lease {
            b = b.lease(LeaseConfig::new(ttl, wait));
        }
        block_on(async {
            if let Ok(cache) = b.build().await {
                use_cache(&cache, false).await;
            }
        });
    });
}

#[test]
fn names_namespaces_keys_and_values_refuse_or_cache() {
    let input = (names(), weighted(SET, names()), names(), names());
    Fuzz::new("TieredCache::builder(name) / namespace / keys").cases(128).run(input, |(name, ns, key, value)| {
        let mut b = builder(&name);
        if let Some(ns) = &ns {
            b = b.namespace(ns);
        }
        block_on(async {
            let Ok(cache) = b.build().await else { return };
            use_cache(&cache, true).await;
            match cache.set(&key, value.clone()).await {
                Ok(_) => {
                    let got = cache.get(&key).await.unwrap();
                    assert_eq!(
                        got.as_deref(),
                        Some(value.as_str()),
                        "a value just set under {key:?} was not read back"
                    );
                }
                Err(e) => assert!(
                    matches!(
                        e,
                        CacheError::EmptyKey
                            | CacheError::KeyTooLong { .. }
                            | CacheError::ReservedKey(_)
                            | CacheError::ValueTooLarge { .. }
                    ),
                    "{e}"
                ),
            }
            let _ = cache.get_or_load(&key).await;
            let _ = cache.invalidate(&key).await;
            let _ = cache.invalidate_prefix(&key).await;
        });
    });
}

#[derive(Debug, Clone)]
struct ConfigInput {
    name: String,
    ttls: Ttls,
    sizes: (Option<u64>, Option<usize>, Option<usize>, Option<usize>),
    l2: L2Settings,
    namespace: Option<String>,
    eviction_stats: bool,
}

fn config_input() -> impl Strategy<Value = ConfigInput> {
    (
        names(),
        ttls(WHOLE),
        (weighted(WHOLE, u64s()), weighted(WHOLE, usizes()), weighted(WHOLE, usizes()), weighted(WHOLE, usizes())),
        l2_settings(WHOLE),
        weighted(WHOLE, names()),
        any::<bool>(),
    )
        .prop_map(|(name, ttls, sizes, l2, namespace, eviction_stats)| ConfigInput {
            name,
            ttls,
            sizes,
            l2,
            namespace,
            eviction_stats,
        })
}

#[test]
fn whole_config_refuses_or_caches() {
    Fuzz::new("TieredCacheBuilder::config").cases(128).run(config_input(), |c| {
        let mut cfg = Config::named(&c.name);
        let t = &c.ttls;
        cfg.ttl = t.ttl.unwrap_or(cfg.ttl);
        cfg.soft_ttl = t.soft.unwrap_or(cfg.soft_ttl);
        cfg.negative_ttl = t.negative.unwrap_or(cfg.negative_ttl);
        cfg.refresh_retry_after = t.refresh.unwrap_or(cfg.refresh_retry_after);
        cfg.degraded_l1_ttl = t.degraded.unwrap_or(cfg.degraded_l1_ttl);
        cfg.jitter = t.jitter.unwrap_or(cfg.jitter);
        let (l1, key, value, hot) = c.sizes;
        cfg.l1_max_bytes = l1.unwrap_or(cfg.l1_max_bytes);
        cfg.max_key_bytes = key.unwrap_or(cfg.max_key_bytes);
        cfg.max_value_bytes = value.unwrap_or(cfg.max_value_bytes);
        cfg.hot_keys = hot.unwrap_or(cfg.hot_keys);
        let s = &c.l2;
        cfg.l2_timeout = s.l2_timeout.unwrap_or(cfg.l2_timeout);
        if let Some((n, d)) = s.breaker {
            (cfg.breaker_failures, cfg.breaker_open_for) = (n, d);
        }
        cfg.load_timeout = s.load_timeout.unwrap_or(cfg.load_timeout);
        cfg.coherence_bound = s.coherence.unwrap_or(cfg.coherence_bound);
        cfg.persist_hot_keys_every = s.persist.unwrap_or(cfg.persist_hot_keys_every);
        cfg.lease = s.lease.map(|(ttl, wait)| LeaseConfig::new(ttl, wait));
        cfg.namespace = c.namespace.clone().unwrap_or(cfg.namespace);
        cfg.l1_eviction_stats = c.eviction_stats;
        block_on(async {
            if let Ok(cache) = builder("config").config(cfg).build().await {
                use_cache(&cache, false).await;
            }
        });
    });
}

/// A `LeaseConfig` built by hand and its defaults: lease mode with a single instance loads once.
#[test]
fn lease_config_refuses_or_loads() {
    Fuzz::new("LeaseConfig::new").cases(64).run((durations(), durations()), |(ttl, wait)| {
        block_on(async {
            let Ok(cache) = builder("lease").lease(LeaseConfig::new(ttl, wait)).build().await else { return };
            let _ = LeaseConfig::default();
            match cache.get_or_load("a").await {
                Ok(v) => assert_eq!(v.as_deref(), Some("loaded:a")),
                Err(e) => assert!(matches!(e, CacheError::LoadTimeout { .. }), "{e}"),
            }
            use_cache(&cache, false).await;
        });
    });
}
