//! Redis as the second tier (fred): values with a TTL, leases, and the invalidation channel.

mod beats;
mod echo;
mod listener;
mod scripts;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use fred::clients::WithOptions;
use fred::interfaces::{ClientLike, KeysInterface};
use fred::prelude::{Builder, Client, Error, Expiration, Options, ReconnectPolicy, SetOptions};
use fred::types::{RespVersion, Value};
use futures::StreamExt;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::TierError;
use crate::tier::{EventSink, Tier, WriteToken};
use beats::Beats;
use echo::Echoes;
use scripts::Script;
use wire::{glob_escape, Kind, Names, Wire};

/// How long a key's invalidation version outlives its last bump. A load that takes longer
/// than this could miss an invalidation whose version key expired meanwhile.
const VERSION_PX: i64 = 3_600_000;

static SET_WITH_LEASE: Script = Script::new(scripts::SET_WITH_LEASE);
static SET_IF_UNCHANGED: Script = Script::new(scripts::SET_IF_UNCHANGED);
static INVALIDATE: Script = Script::new(scripts::INVALIDATE);
static RELEASE_LEASE: Script = Script::new(scripts::RELEASE_LEASE);
static PROBE_SCRIPT: Script = Script::new(scripts::PROBE);
static BUMP_EPOCH: Script = Script::new(scripts::BUMP_EPOCH);
static SET_VERSIONED: Script = Script::new(scripts::SET_VERSIONED);
static CLOCK: Script = Script::new(scripts::CLOCK);

/// Settings of the Redis tier's own connections, from the cache's config.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Links {
    /// The cache's `l2_timeout`: a command not answered by then is never sent later.
    pub(crate) command_timeout: Duration,
    /// How often a heartbeat goes through the invalidation channel (see `trust`).
    pub(crate) heartbeat: Duration,
}

impl Default for Links {
    fn default() -> Self {
        Links { command_timeout: Duration::from_millis(200), heartbeat: Duration::from_millis(50) }
    }
}

/// How the cache's connections reconnect when the template client has no policy (fred's
/// default is none: a client built from a URL alone never reconnects).
fn reconnect_policy(template: &Client) -> ReconnectPolicy {
    match template.client_reconnect_policy() {
        // Forever: a cache that stops reconnecting after N tries serves from L1 and the loader
        // until restarted, silently.
        Some(mut policy) => {
            match &mut policy {
                ReconnectPolicy::Constant { attempts, max_attempts, .. }
                | ReconnectPolicy::Linear { attempts, max_attempts, .. }
                | ReconnectPolicy::Exponential { attempts, max_attempts, .. } => {
                    *attempts = 0;
                    *max_attempts = 0;
                }
            }
            policy
        }
        None => ReconnectPolicy::new_constant(0, 50),
    }
}

/// The Redis tier: a command connection (with client tracking turned on for this cache's
/// value prefix) and an invalidation connection, both made from the caller's client settings.
pub(crate) struct RedisTier {
    data: Client,
    /// `data` with per-command options for reads: no fred timer (the cache's own deadline
    /// bounds them) and fail-fast while disconnected.
    reader: WithOptions<Client>,
    listener: Client,
    /// Writes the heartbeat keys (see `beats`).
    beat: Client,
    names: Names,
    me: String,
    echoes: Arc<Echoes>,
    tasks: Vec<JoinHandle<()>>,
    /// When the setup's barrier was sent, if it came back: the channel was current then.
    confirmed_at: Option<Instant>,
    runtime: tokio::runtime::Handle,
    /// The deadline every value write carries (see [`scripts`]).
    fence: Arc<Fence>,
}

/// Deadlines for value writes in Redis's clock: this machine's wall clock plus the offset to
/// Redis's (measured at setup and with the heartbeats), plus the command timeout. A write the
/// caller has given up on (fred's timeout fired) can no longer land.
#[derive(Debug)]
pub(crate) struct Fence {
    offset_ms: std::sync::atomic::AtomicI64,
    window_ms: i64,
}

impl Fence {
    fn new(window: Duration) -> Self {
        Fence {
            offset_ms: std::sync::atomic::AtomicI64::new(0),
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1),
        }
    }

    fn wall_ms() -> i64 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
    }

    fn deadline_ms(&self) -> i64 {
        Self::wall_ms()
            .saturating_add(self.offset_ms.load(std::sync::atomic::Ordering::Relaxed))
            .saturating_add(self.window_ms)
    }

    /// Measures the offset to Redis's clock through `client` (the midpoint of one round trip).
    pub(crate) async fn measure(&self, client: &Client) -> Result<(), Error> {
        let before = Self::wall_ms();
        let server: i64 = CLOCK.run(client, vec![], vec![]).await?;
        let after = Self::wall_ms();
        let mid = before.saturating_add(after.saturating_sub(before) / 2);
        self.offset_ms.store(server.saturating_sub(mid), std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}

impl std::fmt::Debug for RedisTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTier").field("ns", &self.names.values).finish_non_exhaustive()
    }
}

fn backend(e: Error) -> TierError {
    TierError::Backend(e.to_string())
}

/// For reads of one key: `WRONGTYPE` means the server answered but the key holds another
/// type (someone wrote a list there, say). That key's problem, not an outage: counted as a
/// corrupt entry and read as a miss, never a breaker failure.
fn read_error(e: Error) -> TierError {
    if e.details().starts_with("WRONGTYPE") {
        TierError::Corrupt(e.details().to_owned())
    } else {
        backend(e)
    }
}

fn px(ttl: Duration) -> i64 {
    i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1)
}

impl RedisTier {
    /// Opens the cache's two connections from `template`'s settings (URL, credentials, TLS,
    /// timeouts), with what the cache needs installed whatever the template says: reconnect
    /// forever (fred's default is never), one write attempt per command and a command timeout
    /// of `links.command_timeout`, so a write that was not acknowledged is never replayed on
    /// a later connection (fred skips a timed-out command instead of sending it after a
    /// reconnect, and does not retry one whose connection broke).
    pub(crate) async fn connect(template: Client, ns: &str, sink: EventSink, links: Links) -> Result<Self, Error> {
        // Client tracking belongs to a connection and is replaced by the next CLIENT TRACKING
        // on it: two caches on one connection would steal each other's invalidations. So each
        // cache gets its own command connection, made from the caller's client settings.
        let mut connection = template.connection_config().clone();
        connection.max_command_attempts = 1;
        let mut performance = template.perf_config();
        // Strictly shorter than the cache's own deadline (which fires between 1× and 1.25× of
        // it), so fred's timer always fires first and flags the command: never sent later.
        performance.default_command_timeout = (links.command_timeout * 4 / 5).max(Duration::from_millis(1));
        let own = |performance: fred::types::config::PerformanceConfig| {
            Builder::from_config(template.client_config())
                .set_policy(reconnect_policy(&template))
                .set_connection_config(connection.clone())
                .set_performance_config(performance)
                .build()
        };
        let data = own(performance.clone())?;
        drop(data.init().await?);
        let reader =
            data.with_options(&Options { timeout: Some(Duration::ZERO), fail_fast: true, ..Options::default() });
        let fence = Arc::new(Fence::new(performance.default_command_timeout));
        if let Err(e) = fence.measure(&data).await {
            let _ = data.quit().await;
            return Err(e);
        }
        let mut beat_perf = performance;
        beat_perf.default_command_timeout = links.heartbeat.max(Duration::from_millis(1));
        let beat = own(beat_perf)?;
        let mut cfg = template.client_config();
        cfg.version = RespVersion::RESP2;
        let listener = Builder::from_config(cfg)
            .set_policy(ReconnectPolicy::new_constant(0, 50))
            // fred's default (32) lags under a burst of invalidations, and a lag flushes L1.
            .with_performance_config(|p| {
                p.broadcast_channel_capacity = crate::tier::EVENT_QUEUE;
                p.default_command_timeout = Duration::from_secs(2);
            })
            .with_connection_config(|c| c.connection_timeout = Duration::from_secs(2))
            .build()?;
        let quit = |clients: Vec<Client>| async move {
            for c in clients {
                let _ = c.quit().await;
            }
        };
        let connected = async {
            drop(beat.init().await?);
            drop(listener.init().await?);
            Ok::<_, Error>(())
        };
        if let Err(e) = connected.await {
            quit(vec![data, beat, listener]).await;
            return Err(e);
        }
        let names = Names::new(ns);
        let me = uuid::Uuid::new_v4().to_string();
        let echoes = Arc::new(Echoes::default());
        let beats = Arc::new(Beats::new(names.heartbeats(&me)));
        // The tasks first: they must be listening when the setup's probe echoes.
        let mut tasks = listener::spawn(
            data.clone(),
            listener.clone(),
            names.clone(),
            me.clone(),
            echoes.clone(),
            sink,
            beats.clone(),
        );
        let confirmed_at = match listener::setup(&data, &listener, &names, &me, &echoes, &beats).await {
            Ok(at) => at,
            Err(e) => {
                for t in &tasks {
                    t.abort();
                }
                quit(vec![data, beat, listener]).await;
                return Err(e);
            }
        };
        beats.accept();
        let quiet = (links.heartbeat * 16).max(Duration::from_millis(100));
        tasks.push(tokio::spawn(listener::heartbeats(beat.clone(), beats, links.heartbeat, quiet, fence.clone())));
        let runtime = tokio::runtime::Handle::current();
        Ok(RedisTier { data, reader, listener, beat, names, me, echoes, tasks, confirmed_at, runtime, fence })
    }

    /// When the invalidation channel was last proven current at setup (`None`: not proven).
    pub(crate) fn confirmed_at(&self) -> Option<Instant> {
        self.confirmed_at
    }

    /// Unlinks every key starting with `prefix` (glob-escaped); returns how many.
    async fn unlink_matching(&self, prefix: &str) -> Result<u64, TierError> {
        let pattern = format!("{}*", glob_escape(prefix));
        let mut keys = self.data.scan_buffered(pattern, Some(500), None).chunks(500);
        let mut removed = 0u64;
        while let Some(batch) = keys.next().await {
            let batch = batch.into_iter().collect::<Result<Vec<_>, _>>().map_err(backend)?;
            if !batch.is_empty() {
                let n: i64 = self.data.unlink(batch).await.map_err(backend)?;
                removed += n.max(0) as u64;
            }
        }
        Ok(removed)
    }

    /// Runs a write script of `value` (1: written), fenced by a deadline (see [`scripts`]),
    /// remembering the bytes so its echo can be verified (see [`echo`]).
    async fn scripted_write(
        &self,
        key: &str,
        value: &Bytes,
        script: &Script,
        keys: Vec<String>,
        mut args: Vec<Value>,
    ) -> Result<bool, TierError> {
        // Before the write: its echo may arrive (on the other connection) before the reply.
        // A write that then writes nothing, or is cancelled, leaves a registration that only
        // costs the next invalidation of the key a GET.
        self.echoes.writing(key, value);
        args.push(self.fence.deadline_ms().into());
        let n: i64 = script.run(&self.data, keys, args).await.map_err(backend)?;
        if n < 0 {
            // Ran after its deadline: nothing was written (its caller has given up by now).
            return Err(TierError::Timeout);
        }
        Ok(n == 1)
    }

    async fn publish(&self, kind: Kind, keys: Vec<String>) -> Result<(), TierError> {
        listener::publish(&self.data, &self.names, &Wire { from: self.me.clone(), kind, keys }).await.map_err(backend)
    }
}

impl Drop for RedisTier {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        let clients = [self.listener.clone(), self.data.clone(), self.beat.clone()];
        // On the runtime the connections run on, wherever this is dropped: connections left
        // open would reconnect forever.
        self.runtime.spawn(async move {
            for c in clients {
                let _ = c.quit().await;
            }
        });
    }
}

#[async_trait]
impl Tier for RedisTier {
    async fn get(&self, key: &str) -> Result<Option<Bytes>, TierError> {
        self.reader.get(self.names.value(key)).await.map_err(read_error)
    }

    async fn set(&self, key: &str, value: Bytes, ttl: Duration) -> Result<(), TierError> {
        // A script, not MULTI/EXEC: fred flags a script that timed out and never sends it
        // after a reconnect, but not the commands of a transaction. Redis 7.0 echoes a
        // script's writes to the writer despite NOLOOP; `scripted_write` registers the bytes
        // so the echo is verified instead of dropping this instance's fresh L1 entry. The
        // version is bumped first: a load that read the old version cannot store its result
        // over this value.
        let keys = vec![self.names.value(key), self.names.version(key)];
        let args: Vec<Value> = vec![value.clone().into(), px(ttl).into(), VERSION_PX.into()];
        self.scripted_write(key, &value, &SET_VERSIONED, keys, args).await.map(|_| ())
    }

    async fn invalidate(&self, keys: &[String]) -> Result<(), TierError> {
        let mut all = Vec::with_capacity(keys.len() * 3);
        for k in keys {
            all.extend([self.names.value(k), self.names.lease(k), self.names.version(k)]);
        }
        let _: i64 = INVALIDATE.run(&self.data, all, vec![VERSION_PX.into()]).await.map_err(backend)?;
        // One message for all of them.
        self.publish(Kind::Keys, keys.to_vec()).await
    }

    async fn invalidate_prefix(&self, prefix: &str) -> Result<u64, TierError> {
        // The epoch first: a conditional write racing the scan below is refused.
        let _: i64 = BUMP_EPOCH.run(&self.data, vec![self.names.epoch.clone()], vec![]).await.map_err(backend)?;
        let removed = self.unlink_matching(&self.names.value(prefix)).await?;
        // Leases too, so a holder's set-with-lease fails (Facebook's lease rule).
        self.unlink_matching(&self.names.lease(prefix)).await?;
        self.publish(Kind::Prefix, vec![prefix.to_owned()]).await?;
        Ok(removed)
    }

    async fn try_lease(&self, key: &str, token: &str, ttl: Duration) -> Result<bool, TierError> {
        let r: Option<String> = self
            .data
            .set(self.names.lease(key), token, Some(Expiration::PX(px(ttl))), Some(SetOptions::NX), false)
            .await
            .map_err(backend)?;
        Ok(r.is_some())
    }

    async fn set_with_lease(
        &self,
        key: &str,
        token: &str,
        value: Bytes,
        ttl: Duration,
        versions: WriteToken,
    ) -> Result<bool, TierError> {
        let keys =
            vec![self.names.value(key), self.names.lease(key), self.names.version(key), self.names.epoch.clone()];
        let args: Vec<Value> = vec![
            token.into(),
            value.clone().into(),
            px(ttl).into(),
            versions.key_version.to_string().into(),
            versions.prefix_epoch.to_string().into(),
        ];
        self.scripted_write(key, &value, &SET_WITH_LEASE, keys, args).await
    }

    async fn release_lease(&self, key: &str, token: &str) -> Result<(), TierError> {
        let n: i64 =
            RELEASE_LEASE.run(&self.data, vec![self.names.lease(key)], vec![token.into()]).await.map_err(backend)?;
        if n == 1 {
            // Wakes the instances waiting for this lease's value: none is coming.
            self.publish(Kind::LeaseReleased, vec![key.to_owned()]).await?;
        }
        Ok(())
    }

    async fn write_token(&self, key: &str) -> Result<WriteToken, TierError> {
        let got: Vec<Option<Bytes>> =
            self.data.mget(vec![self.names.version(key), self.names.epoch.clone()]).await.map_err(backend)?;
        // Missing: 0. Foreign bytes: also 0, which never matches them in the conditional
        // write (Lua's tonumber gives nil), so the load stores nothing until an invalidation
        // replaces them — a refused write, not an L2 error.
        let at = |i: usize| {
            got.get(i)
                .and_then(Option::as_ref)
                .and_then(|b| std::str::from_utf8(b).ok())
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(WriteToken { key_version: at(0), prefix_epoch: at(1) })
    }

    async fn set_if_unchanged(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
        token: WriteToken,
    ) -> Result<bool, TierError> {
        let keys = vec![self.names.value(key), self.names.version(key), self.names.epoch.clone()];
        let args: Vec<Value> = vec![
            token.key_version.to_string().into(),
            token.prefix_epoch.to_string().into(),
            value.clone().into(),
            px(ttl).into(),
        ];
        self.scripted_write(key, &value, &SET_IF_UNCHANGED, keys, args).await
    }

    async fn get_meta(&self, name: &str) -> Result<Option<Bytes>, TierError> {
        self.data.get(format!("{}{name}", self.names.meta)).await.map_err(read_error)
    }

    async fn set_meta(&self, name: &str, value: Bytes) -> Result<(), TierError> {
        self.data.set(format!("{}{name}", self.names.meta), value, None, None, false).await.map_err(backend)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests;
