//! The [`Tier`] calls of [`RedisTier`]: a command (or a fenced Lua script) each, and the
//! message that tells other instances.

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use fred::interfaces::{ClientLike, KeysInterface};
use fred::prelude::{Error, Expiration, SetOptions};
use fred::types::Value;
use futures::StreamExt;
use tokio::time::Instant;

use super::handle::RedisTier;
use super::listener;
use super::scripts::{self, Script};
use super::wire::{glob_escape, Kind, Wire};
use crate::error::TierError;
use crate::l2::{Tier, WriteToken};

/// How long a key's invalidation version outlives its last bump. A load that takes longer
/// than this could miss an invalidation whose version key expired meanwhile.
const VERSION_PX: i64 = 3_600_000;

static SET_WITH_LEASE: Script = Script::new(scripts::SET_WITH_LEASE);
static SET_IF_UNCHANGED: Script = Script::new(scripts::SET_IF_UNCHANGED);
static INVALIDATE: Script = Script::new(scripts::INVALIDATE);
static RELEASE_LEASE: Script = Script::new(scripts::RELEASE_LEASE);
static BUMP_EPOCH: Script = Script::new(scripts::BUMP_EPOCH);
static SET_VERSIONED: Script = Script::new(scripts::SET_VERSIONED);

/// The first wait between two reopenings of the command connection for out-of-step replies;
/// it doubles up to [`RESYNC_MAX`] while they keep coming (a wrong entry that sits in Redis,
/// copied there by hand, reads as out of step every time: it must not reopen the connection
/// and flush L1 every second), and starts again from here after [`RESYNC_QUIET`] without one.
const RESYNC_FIRST: Duration = Duration::from_secs(1);
const RESYNC_MAX: Duration = Duration::from_secs(300);
const RESYNC_QUIET: Duration = Duration::from_secs(600);

/// Whether the command connection may be reopened now for out-of-step replies, given when it
/// last was and the wait that applied; `Some(wait)`: yes, and the wait that applies next.
pub(super) fn resync_wait(last: Option<Instant>, wait: Duration, now: Instant) -> Option<Duration> {
    match last {
        Some(t) if now.duration_since(t) < wait => None,
        Some(t) if now.duration_since(t) < RESYNC_QUIET => Some((wait * 2).clamp(RESYNC_FIRST, RESYNC_MAX)),
        _ => Some(RESYNC_FIRST),
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
    /// remembering the bytes so its echo can be verified (see [`super::echo`]).
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

    fn out_of_step(&self) {
        let now = Instant::now();
        {
            let mut state = self.resynced.lock();
            let Some(wait) = resync_wait(state.0, state.1, now) else { return };
            *state = (Some(now), wait);
        }
        // A fresh connection starts in step; its reconnect re-arms tracking and flushes L1
        // (see `listener`), like any other reconnect.
        tracing::warn!(ns = %self.names.values, "a read answered for another key; reopening the command connection");
        let data = self.data.clone();
        drop(self.runtime.spawn(async move { data.force_reconnection().await }));
    }

    async fn get_meta(&self, name: &str) -> Result<Option<Bytes>, TierError> {
        self.data.get(format!("{}{name}", self.names.meta)).await.map_err(read_error)
    }

    async fn set_meta(&self, name: &str, value: Bytes) -> Result<(), TierError> {
        self.data.set(format!("{}{name}", self.names.meta), value, None, None, false).await.map_err(backend)
    }
}
