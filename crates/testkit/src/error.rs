//! The testkit's error type.

use std::path::PathBuf;

/// What can go wrong while a helper sets up or tears down a service for a test.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    /// PostgreSQL refused a connection or a statement.
    #[error("PostgreSQL at {url}: {source}")]
    Postgres {
        /// The URL that was used.
        url: String,
        /// The driver's error.
        #[source]
        source: tokio_postgres::Error,
    },
    /// Redis refused a connection or a command.
    #[error("Redis at {url}: {source}")]
    Redis {
        /// The URL that was used.
        url: String,
        /// The client's error.
        #[source]
        source: fred::error::Error,
    },
    /// A private `redis-server` could not be started or stopped.
    #[error("private redis-server on port {port}: {reason}")]
    RedisServer {
        /// Its port.
        port: u16,
        /// What went wrong.
        reason: String,
    },
    /// The `redis-server` binary is not on `PATH` (run `scripts/services.sh`).
    #[error("redis-server not found on PATH; run scripts/services.sh to install it")]
    RedisServerMissing,
    /// A local file or process operation failed.
    #[error("{what} ({path}): {source}")]
    Io {
        /// What was attempted.
        what: &'static str,
        /// The file involved, if any.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A service did not answer within the time allowed.
    #[error("{what} did not finish within {seconds} s")]
    Timeout {
        /// What was awaited.
        what: &'static str,
        /// The limit.
        seconds: u64,
    },
}
