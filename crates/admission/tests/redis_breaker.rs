//! The circuit breaker around the Redis round trip: once Redis is known down, checks apply the
//! fail policy without a round trip; one warning per state change; a probe notices recovery.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use fred::prelude::*;
use perfstack_admission::redis::{FailPolicy, RedisRateError, RedisRateLimit};
use perfstack_resilience::{CircuitBreaker, ManualClock, State};

/// Nothing listens on port 1 of the loopback: every round trip fails.
const UNREACHABLE: &str = "redis://127.0.0.1:1";

async fn client(url: &str, reconnect: Option<ReconnectPolicy>) -> Client {
    let c = Client::new(Config::from_url(url).unwrap(), None, None, reconnect);
    // Against an unreachable server this fails; the limit must cope with such a client.
    let _ = c.init().await;
    c
}

/// Opens after two failed round trips in a row and stays open until the manual clock moves.
fn breaker(clock: &ManualClock) -> CircuitBreaker {
    CircuitBreaker::builder("redis-test")
        .count_window(2)
        .minimum_calls(2)
        .failure_rate_threshold(100.0)
        .wait_in_open(Duration::from_secs(10))
        .half_open_probes(1)
        .clock(clock.clone())
        .build()
        .unwrap()
}

/// Log lines, captured from the test's own thread.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Lines about `key` that contain `needle`.
    fn count(&self, key: &str, needle: &str) -> usize {
        String::from_utf8_lossy(&self.0.lock().unwrap())
            .lines()
            .filter(|l| l.contains(key) && l.contains(needle))
            .count()
    }
}

/// The log of this test binary: a global subscriber, because a thread-local one misses events
/// whose callsite another test thread registered first.
fn logs() -> Captured {
    static LOGS: std::sync::OnceLock<Captured> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let sink = logs.clone();
        tracing_subscriber::fmt().with_writer(move || sink.clone()).with_ansi(false).init();
        logs
    })
    .clone()
}

async fn open_breaker(limit: &RedisRateLimit) {
    for _ in 0..2 {
        let _ = limit.check().await;
    }
    assert_eq!(limit.circuit_breaker().state(), State::Open);
    assert_eq!(limit.round_trips(), 2);
}

#[tokio::test]
async fn open_breaker_fails_open_without_round_trips_and_warns_once() {
    let logs = logs();
    let clock = ManualClock::new();
    let limit = RedisRateLimit::builder(client(UNREACHABLE, None).await, "pstest:breaker-open", 1e5, 1000)
        .lease_cells(1)
        .timeout(Duration::from_millis(200))
        .circuit_breaker(breaker(&clock))
        .build()
        .await
        .unwrap();
    open_breaker(&limit).await;
    for _ in 0..500 {
        limit.check().await.unwrap(); // fail open: admitted
    }
    assert_eq!(limit.round_trips(), 2, "no round trip while the breaker is open");
    assert_eq!(limit.short_circuits(), 500);
    let key = "pstest:breaker-open";
    assert_eq!(logs.count(key, "circuit open"), 1, "one warning for the outage, not one per check");
    assert_eq!(logs.count(key, "WARN"), 1);
}

#[tokio::test]
async fn open_breaker_fails_closed_without_round_trips() {
    let clock = ManualClock::new();
    let limit = RedisRateLimit::builder(client(UNREACHABLE, None).await, "pstest:breaker-closed", 1e5, 1000)
        .lease_cells(1)
        .fail_policy(FailPolicy::Closed)
        .timeout(Duration::from_millis(200))
        .circuit_breaker(breaker(&clock))
        .build()
        .await
        .unwrap();
    for _ in 0..2 {
        let e = limit.check().await.unwrap_err();
        assert!(matches!(e, RedisRateError::Unavailable(_) | RedisRateError::Timeout(_)), "{e:?}");
    }
    assert_eq!(limit.circuit_breaker().state(), State::Open);
    for _ in 0..500 {
        let e = limit.check().await.unwrap_err();
        assert!(matches!(e, RedisRateError::CircuitOpen { retry_after: Some(_) }), "{e:?}");
    }
    assert_eq!(limit.round_trips(), 2);
    assert_eq!(limit.short_circuits(), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_probe_closes_the_breaker_when_redis_is_back() {
    let Some(_rk) = perfstack_testkit::require_redis().await else { return };
    let mut srv = perfstack_testkit::RedisServer::start().await.unwrap();
    let c = client(&srv.url(), Some(ReconnectPolicy::new_constant(0, 20))).await;
    let clock = ManualClock::new();
    let limit = RedisRateLimit::builder(c.clone(), "pstest:breaker-recover", 1e5, 1000)
        .lease_cells(1)
        .fail_policy(FailPolicy::Closed)
        .timeout(Duration::from_millis(200))
        .circuit_breaker(breaker(&clock))
        .build()
        .await
        .unwrap();
    limit.check().await.unwrap();
    srv.kill();
    for _ in 0..2 {
        assert!(limit.check().await.is_err());
    }
    assert_eq!(limit.circuit_breaker().state(), State::Open);
    srv.restart().await.unwrap();
    // Wait until the client has reconnected (a bounded readiness poll, not a guess).
    let mut up = false;
    for _ in 0..100 {
        if tokio::time::timeout(Duration::from_millis(200), c.ping::<String>(None)).await.is_ok_and(|r| r.is_ok()) {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(up, "client did not reconnect to the restarted server");
    // Redis is back but the breaker is still open: refused without a round trip.
    let trips = limit.round_trips();
    assert!(matches!(limit.check().await, Err(RedisRateError::CircuitOpen { .. })));
    assert_eq!(limit.round_trips(), trips);
    // After the open duration one probe goes to Redis, succeeds, and closes the breaker.
    clock.advance(Duration::from_secs(10));
    limit.check().await.unwrap();
    assert_eq!(limit.round_trips(), trips + 1);
    assert_eq!(limit.circuit_breaker().state(), State::Closed);
    limit.check().await.unwrap();
    assert_eq!(limit.round_trips(), trips + 2);
}

#[test]
fn the_limit_is_a_cheap_send_sync_handle() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<RedisRateLimit>();
}
