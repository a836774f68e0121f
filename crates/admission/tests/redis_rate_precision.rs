//! The script counts in whole microseconds: a rate it cannot express within 1 % is refused at
//! build instead of being silently capped or rounded.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use fred::prelude::*;
use perfstack_admission::redis::RedisRateLimit;
use perfstack_admission::ConfigError;

async fn client(url: &str) -> Client {
    let c = Client::new(Config::from_url(url).unwrap(), None, None, None);
    c.init().await.unwrap();
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rates_finer_than_a_whole_microsecond_are_refused_at_build() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    for rate in [2_000_000.0, 10_000_000.0, 300_000.0] {
        let err = RedisRateLimit::builder(client(rk.url()).await, rk.key("fine"), rate, 10).build().await.unwrap_err();
        assert!(matches!(err, ConfigError::RateNotRepresentable { .. }), "{rate}/s: {err:?}");
        assert!(err.to_string().contains("whole microseconds"), "{err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_per_second_is_kept_exactly_and_works() {
    let Some(rk) = perfstack_testkit::require_redis().await else { return };
    for rate in [1_000_000.0, 250_000.0, 15_000.0] {
        let limit = RedisRateLimit::builder(client(rk.url()).await, rk.key(&format!("exact-{rate}")), rate, 10)
            .lease_cells(1)
            .build()
            .await
            .unwrap();
        limit.check().await.unwrap();
        assert_eq!(limit.round_trips(), 1);
    }
}
