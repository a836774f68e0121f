//! The skip / fail policy for unreachable services.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use perfstack_testkit::policy::{on_unreachable, policy_from, unreachable_message, Service, Unreachable};
use perfstack_testkit::{PgSchema, RedisKeys};

#[test]
fn policy_fails_only_when_services_are_required() {
    assert_eq!(policy_from(Some("1")), Unreachable::Fail);
    assert_eq!(policy_from(Some("true")), Unreachable::Fail);
    assert_eq!(policy_from(Some("0")), Unreachable::Skip);
    assert_eq!(policy_from(Some("")), Unreachable::Skip);
    assert_eq!(policy_from(None), Unreachable::Skip);
}

#[test]
fn message_names_the_service_its_url_and_the_fix() {
    let m = unreachable_message(Service::Redis, "redis://127.0.0.1:1", &"connection refused");
    assert!(m.contains("Redis"), "{m}");
    assert!(m.contains("redis://127.0.0.1:1"), "{m}");
    assert!(m.contains("REDIS_URL"), "{m}");
    assert!(m.contains("scripts/services.sh"), "{m}");
    let m = unreachable_message(Service::Postgres, "postgres://x", &"refused");
    assert!(m.contains("PostgreSQL") && m.contains("DATABASE_URL"), "{m}");
}

// The two tests below read the process environment, which scripts/test.sh sets once for the
// whole run; they assert whichever policy is in force and never change it.
#[test]
fn unreachable_service_follows_the_policy_in_force() {
    let required = std::env::var("PERFSTACK_REQUIRE_SERVICES").is_ok_and(|v| v == "1");
    let outcome =
        std::panic::catch_unwind(|| on_unreachable::<()>(Service::Postgres, "postgres://127.0.0.1:1/x", &"refused"));
    if required {
        let panic = outcome.expect_err("with PERFSTACK_REQUIRE_SERVICES=1 an unreachable service must fail the test");
        let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(text.contains("PostgreSQL is unreachable"), "{text}");
    } else {
        assert_eq!(outcome.ok(), Some(None), "without the variable the test is skipped");
    }
}

#[tokio::test]
async fn unreachable_urls_give_errors_not_hangs() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let pg = PgSchema::create_at("postgres://postgres@127.0.0.1:1/test").await;
    assert!(pg.is_err());
    let redis = RedisKeys::create_at("redis://127.0.0.1:1").await;
    assert!(redis.is_err());
}
