//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

#[cfg(feature = "redis")]
pub mod fault_run;
pub mod hooked;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perfstack_tiered_cache::{loader_fn, BoxError, Loader};

/// A loader that counts its calls, waits `delay` (tokio time) and returns `value:{key}`;
/// keys starting with `missing` are "not found", keys starting with `fail` fail.
pub fn counting_loader(delay: Duration) -> (impl Loader<String>, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let loader = loader_fn(move |key: String| {
        let c = c.clone();
        async move {
            c.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(delay).await;
            if key.starts_with("missing") {
                return Ok(None);
            }
            if key.starts_with("fail") {
                return Err::<Option<String>, BoxError>("database is down".into());
            }
            Ok(Some(format!("value:{key}")))
        }
    });
    (loader, calls)
}

pub fn calls(c: &Arc<AtomicUsize>) -> usize {
    c.load(Ordering::SeqCst)
}

/// Polls `cond` every millisecond until it holds or `within` passes; returns whether it held.
pub async fn eventually<F, Fut>(within: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[cfg(feature = "redis")]
pub async fn redis_client(url: &str) -> fred::clients::Client {
    fault_run::tuned_client(url).await
}
