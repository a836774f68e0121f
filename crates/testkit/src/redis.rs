//! A Redis key prefix of its own for each test; every key under it is deleted afterwards.

use std::time::Duration;

use fred::clients::Client;
use fred::interfaces::{ClientLike, KeysInterface};
use fred::prelude::Config;
use futures::TryStreamExt;

use crate::policy::{on_unreachable, Service};
use crate::unique::{test_tag, unique_suffix};
use crate::TestkitError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A unique key prefix `pstest:<test>:<unique>:` on the Redis at `REDIS_URL`, with a connected
/// client. Dropping it deletes every key under the prefix, also during a panic.
#[derive(Debug)]
pub struct RedisKeys {
    prefix: String,
    url: String,
    client: Client,
    cleaned: bool,
}

/// A fresh [`RedisKeys`], or `None` after a loud skip message when Redis is unreachable (a
/// failure instead when `PERFSTACK_REQUIRE_SERVICES=1`).
///
/// ```no_run
/// # async fn t() {
/// use fred::interfaces::KeysInterface;
/// let Some(rk) = perfstack_testkit::require_redis().await else { return };
/// let _: () = rk.client().set(rk.key("a"), "1", None, None, false).await.unwrap();
/// # }
/// ```
///
/// # Panics
///
/// When Redis is unreachable and services are required: that is the test failing.
pub async fn require_redis() -> Option<RedisKeys> {
    let url = Service::Redis.url();
    match RedisKeys::create_at(&url).await {
        Ok(keys) => Some(keys),
        Err(e) => on_unreachable(Service::Redis, &url, &e),
    }
}

impl RedisKeys {
    /// Connects to the Redis at `url` and picks a fresh prefix.
    ///
    /// # Errors
    ///
    /// When Redis cannot be reached.
    pub async fn create_at(url: &str) -> Result<Self, TestkitError> {
        let client = connect(url).await?;
        let prefix = format!("pstest:{}:{}:", test_tag(), unique_suffix());
        Ok(Self { prefix, url: url.to_owned(), client, cleaned: false })
    }

    /// The prefix every key of this test starts with.
    #[must_use]
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `prefix + name`.
    #[must_use]
    pub fn key(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The Redis URL.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A connected client.
    #[must_use]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Opens another client on the same server.
    ///
    /// # Errors
    ///
    /// When Redis cannot be reached.
    pub async fn connect(&self) -> Result<Client, TestkitError> {
        connect(&self.url).await
    }

    /// Deletes every key under the prefix now and returns how many there were.
    ///
    /// # Errors
    ///
    /// When Redis fails.
    pub async fn clean_now(mut self) -> Result<u64, TestkitError> {
        self.cleaned = true;
        let n = delete_prefix(&self.client, &self.url, &self.prefix).await;
        let _ = self.client.quit().await;
        n
    }
}

impl Drop for RedisKeys {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        let url = self.url.clone();
        let prefix = self.prefix.clone();
        let outcome = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build();
            match rt {
                Ok(rt) => rt.block_on(async {
                    let client = connect(&url).await?;
                    let n = delete_prefix(&client, &url, &prefix).await;
                    let _ = client.quit().await;
                    n
                }),
                Err(source) => Err(TestkitError::Io { what: "runtime for cleanup", path: prefix.into(), source }),
            }
        })
        .join();
        match outcome {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => crate::warn(&format!("could not delete keys under {}: {e}", self.prefix)),
            Err(_) => crate::warn(&format!("cleanup of keys under {} panicked", self.prefix)),
        }
    }
}

pub(crate) async fn connect(url: &str) -> Result<Client, TestkitError> {
    let config = Config::from_url(url).map_err(|source| TestkitError::Redis { url: url.to_owned(), source })?;
    let client = Client::new(config, None, None, None);
    let init = tokio::time::timeout(CONNECT_TIMEOUT, client.init())
        .await
        .map_err(|_| TestkitError::Timeout { what: "Redis connect", seconds: CONNECT_TIMEOUT.as_secs() })?;
    match init {
        Ok(_) => Ok(client),
        Err(source) => {
            let _ = client.quit().await;
            Err(TestkitError::Redis { url: url.to_owned(), source })
        }
    }
}

async fn delete_prefix(client: &Client, url: &str, prefix: &str) -> Result<u64, TestkitError> {
    let err = |source| TestkitError::Redis { url: url.to_owned(), source };
    // Glob metacharacters in the prefix are escaped so it matches only itself.
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('*');
    let keys: Vec<fred::types::Key> =
        client.scan_buffered(pattern, Some(500), None).try_collect().await.map_err(err)?;
    let mut deleted = 0u64;
    for chunk in keys.chunks(500) {
        let n: u64 = client.del(chunk.to_vec()).await.map_err(err)?;
        deleted += n;
    }
    Ok(deleted)
}
