//! Where the services are, and what a test does when one is unreachable.
//!
//! `DATABASE_URL` (default [`DEFAULT_DATABASE_URL`]) and `REDIS_URL` (default
//! [`DEFAULT_REDIS_URL`]) name the services. When one cannot be reached, a test fails if
//! `PERFSTACK_REQUIRE_SERVICES=1` (set by `scripts/test.sh` and CI) and is otherwise skipped
//! with a loud message on the process's stderr, which `cargo test` does not capture.

use std::io::Write;

/// PostgreSQL URL used when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Redis URL used when `REDIS_URL` is not set.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";
/// The variable that turns a skip into a failure.
pub const REQUIRE_SERVICES_VAR: &str = "PERFSTACK_REQUIRE_SERVICES";

/// A service a test may need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// PostgreSQL, at `DATABASE_URL`.
    Postgres,
    /// Redis, at `REDIS_URL`.
    Redis,
}

impl Service {
    /// The environment variable that holds the service's URL.
    #[must_use]
    pub fn url_var(self) -> &'static str {
        match self {
            Self::Postgres => "DATABASE_URL",
            Self::Redis => "REDIS_URL",
        }
    }

    /// The URL the service is expected at: the variable, else the default.
    #[must_use]
    pub fn url(self) -> String {
        let default = match self {
            Self::Postgres => DEFAULT_DATABASE_URL,
            Self::Redis => DEFAULT_REDIS_URL,
        };
        std::env::var(self.url_var()).unwrap_or_else(|_| default.to_owned())
    }

    fn name(self) -> &'static str {
        match self {
            Self::Postgres => "PostgreSQL",
            Self::Redis => "Redis",
        }
    }
}

/// What a test does when a service it needs is unreachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// Skip the test with a loud message.
    Skip,
    /// Fail the test.
    Fail,
}

/// The policy in force: [`Unreachable::Fail`] when `PERFSTACK_REQUIRE_SERVICES=1`.
#[must_use]
pub fn unreachable_policy() -> Unreachable {
    policy_from(std::env::var(REQUIRE_SERVICES_VAR).ok().as_deref())
}

/// The policy for a given value of `PERFSTACK_REQUIRE_SERVICES` (pure, for tests).
#[must_use]
pub fn policy_from(require: Option<&str>) -> Unreachable {
    match require.map(str::trim) {
        Some("1" | "true" | "yes") => Unreachable::Fail,
        _ => Unreachable::Skip,
    }
}

/// The message printed for an unreachable service.
#[must_use]
pub fn unreachable_message(service: Service, url: &str, error: &dyn std::fmt::Display) -> String {
    format!(
        "{name} is unreachable at {url} ({var}): {error}. Run scripts/services.sh, or set {var}.",
        name = service.name(),
        var = service.url_var(),
    )
}

/// Applies the policy to an unreachable service: returns `None` (skip) after printing a loud
/// message, or panics (fail) when services are required.
///
/// # Panics
///
/// When `PERFSTACK_REQUIRE_SERVICES=1`: failing the test is the point.
pub fn on_unreachable<T>(service: Service, url: &str, error: &dyn std::fmt::Display) -> Option<T> {
    let message = unreachable_message(service, url, error);
    match unreachable_policy() {
        Unreachable::Fail => panic!("{message} ({REQUIRE_SERVICES_VAR}=1, so this test fails)"),
        Unreachable::Skip => {
            let test = std::thread::current().name().unwrap_or("<unnamed>").to_owned();
            // Straight to the process's stderr: libtest captures only the print macros.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED {test}: {message} Set {REQUIRE_SERVICES_VAR}=1 to fail instead. ***\n"
            );
            None
        }
    }
}
