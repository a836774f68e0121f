//! The skip / fail policy for unreachable services.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use perfstack_testkit::policy::{policy_from, unreachable_message, Service, Unreachable};
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

/// Entry point for the child processes of `unreachable_service_skips_or_fails_by_policy`: it
/// asks for PostgreSQL at a port where nothing listens. Ignored in a normal run (it is not a
/// test on its own); the parent runs it with `--ignored`.
#[tokio::test]
#[ignore = "entry point of the child processes of unreachable_service_skips_or_fails_by_policy"]
async fn child_requires_an_unreachable_postgres() {
    if std::env::var_os("PERFSTACK_TESTKIT_CHILD").is_none() {
        return;
    }
    let db = perfstack_testkit::require_postgres().await;
    assert!(db.is_none(), "an unreachable PostgreSQL must not yield a schema");
}

fn run_child(require: Option<&str>) -> std::process::Output {
    let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", "child_requires_an_unreachable_postgres", "--ignored", "--test-threads", "1"])
        .env("PERFSTACK_TESTKIT_CHILD", "1")
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/test");
    match require {
        Some(v) => cmd.env("PERFSTACK_REQUIRE_SERVICES", v),
        None => cmd.env_remove("PERFSTACK_REQUIRE_SERVICES"),
    };
    cmd.output().unwrap()
}

#[test]
fn unreachable_service_skips_or_fails_by_policy() {
    // Without the variable: the test passes, and says loudly on stderr that it skipped.
    let skipped = run_child(None);
    let stderr = String::from_utf8_lossy(&skipped.stderr);
    assert!(skipped.status.success(), "skip mode must pass: {stderr}");
    assert!(stderr.contains("SKIPPED") && stderr.contains("PostgreSQL is unreachable"), "no loud skip: {stderr}");
    assert!(stderr.contains("127.0.0.1:1"), "the message must name the URL: {stderr}");

    // With PERFSTACK_REQUIRE_SERVICES=1 the same test fails, naming the service.
    let failed = run_child(Some("1"));
    let out = format!("{}{}", String::from_utf8_lossy(&failed.stdout), String::from_utf8_lossy(&failed.stderr));
    assert!(!failed.status.success(), "required mode must fail: {out}");
    assert!(out.contains("PostgreSQL is unreachable") && out.contains("PERFSTACK_REQUIRE_SERVICES=1"), "{out}");
}

#[tokio::test]
async fn unreachable_urls_give_errors_not_hangs() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let pg = PgSchema::create_at("postgres://postgres@127.0.0.1:1/test").await;
    assert!(pg.is_err());
    let redis = RedisKeys::create_at("redis://127.0.0.1:1").await;
    assert!(redis.is_err());
}
