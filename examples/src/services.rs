//! Finds out which of the real services are reachable, so an example can use PostgreSQL and
//! Redis when they are there and say plainly when it falls back to in-memory parts.

use std::time::Duration;

use fred::prelude::{ClientLike, Config};

/// Default PostgreSQL URL when `DATABASE_URL` is not set.
pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Default Redis URL when `REDIS_URL` is not set.
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// The services an example may use; `None` means unreachable.
#[derive(Debug, Clone, Default)]
pub struct Services {
    /// PostgreSQL URL, when a connection succeeded.
    pub postgres: Option<String>,
    /// Redis URL, when a PING succeeded.
    pub redis: Option<String>,
}

impl Services {
    /// Probes `DATABASE_URL` and `REDIS_URL` (or their defaults), each within two seconds.
    pub async fn detect() -> Self {
        let pg_url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.into());
        let redis_url = std::env::var("REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.into());
        let (pg, redis) = tokio::join!(probe_postgres(&pg_url), probe_redis(&redis_url));
        Self { postgres: pg.then_some(pg_url), redis: redis.then_some(redis_url) }
    }

    /// Prints one line per service: what the tour will use.
    pub fn describe(&self) {
        match &self.postgres {
            Some(url) => println!("  PostgreSQL: reachable at {url}"),
            None => println!("  PostgreSQL: not reachable; sections that need it use in-memory parts or are skipped"),
        }
        match &self.redis {
            Some(url) => println!("  Redis:      reachable at {url}"),
            None => println!("  Redis:      not reachable; sections that need it use in-memory parts or are skipped"),
        }
    }
}

async fn probe_postgres(url: &str) -> bool {
    let connect = async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls).await?;
        let task = tokio::spawn(conn);
        let ok = client.simple_query("select 1").await.is_ok();
        drop(client);
        let _ = task.await;
        Ok::<bool, tokio_postgres::Error>(ok)
    };
    matches!(tokio::time::timeout(PROBE_TIMEOUT, connect).await, Ok(Ok(true)))
}

async fn probe_redis(url: &str) -> bool {
    let Ok(config) = Config::from_url(url) else { return false };
    let client = fred::clients::Client::new(config, None, None, None);
    let ping = async {
        client.init().await?;
        let pong: String = client.ping(None).await?;
        let _ = client.quit().await;
        Ok::<bool, fred::error::Error>(pong == "PONG")
    };
    matches!(tokio::time::timeout(PROBE_TIMEOUT, ping).await, Ok(Ok(true)))
}
