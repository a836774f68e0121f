//! The invalidation connection: client tracking on the data connection (BCAST on the value
//! prefix, NOLOOP) redirected to this RESP2 connection subscribed to `__redis__:invalidate`,
//! plus a pub/sub channel for prefix invalidations. RESP2 on purpose: with a RESP3 redirect
//! target Redis sends the FLUSHALL notice as a push with a null key list, which fred 10.1
//! drops; as a RESP2 pub/sub message fred turns it into an empty invalidation ("flush all"). After any reconnect of
//! either connection, tracking and the subscription are set up again and L1 is flushed,
//! because invalidations may have been missed.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use fred::interfaces::ClientLike;
use fred::interfaces::{ClientInterface, EventInterface, KeysInterface, PubsubInterface, TrackingInterface};
use fred::prelude::{Client, Error, Expiration};
use fred::types::client::Invalidation;
use fred::types::client::Toggle;
use fred::types::Message;
use tokio::sync::broadcast::error::RecvError;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::beats::Beats;
use super::echo::{Echoes, Mark, PROBE};
use super::fence::Fence;
use super::scripts::{self, Script};
use super::wire::{Kind, Names, Wire};
use crate::l2::{EventSink, TierEvent};

static PROBE_SCRIPT: Script = Script::new(scripts::PROBE);

/// Heartbeats between two measurements of the offset to Redis's clock.
const FENCE_EVERY: u64 = 32;
/// How long a setup waits for its own barrier message (normally one round trip).
const BARRIER_WAIT: Duration = Duration::from_secs(1);
/// How long the listener waits to verify an echo before treating the message as an
/// invalidation (the safe answer): a slow data connection must not hold up invalidations.
const VERIFY_WAIT: Duration = Duration::from_millis(200);

/// Sets the invalidation channel up (see [`enable`]) and probes whether the server echoes
/// scripted writes (see [`probe`]).
/// Returns when the probe's barrier was sent, if it came back: every change made in Redis
/// before then has reached the listener.
pub(crate) async fn setup(
    data: &Client,
    listener: &Client,
    names: &Names,
    me: &str,
    echoes: &Echoes,
    beats: &Beats,
) -> Result<Option<Instant>, Error> {
    let nonce = enable(data, listener, names, echoes, beats).await?;
    probe(data, names, me, echoes, &nonce).await
}

/// Turns on tracking on `data` (the value prefix and this instance's heartbeat prefix),
/// redirected to `listener`, and subscribes `listener`. Forgets what was learned about echoes;
/// returns the nonce of this setup's probe.
pub(crate) async fn enable(
    data: &Client,
    listener: &Client,
    names: &Names,
    echoes: &Echoes,
    beats: &Beats,
) -> Result<String, Error> {
    let nonce = uuid::Uuid::new_v4().simple().to_string();
    echoes.reset(&nonce);
    // Asked on the connection itself (a fresh one is not subscribed yet); fred's cached ids
    // can lag a reconnect, and after a Redis restart a stale id may be another client's.
    let id: i64 = match listener.client_id().await {
        Ok(id) => id,
        Err(_) => match listener.connection_ids().values().next() {
            Some(id) => *id,
            None => return Err(Error::new(fred::error::ErrorKind::Unknown, "listener has no connection id")),
        },
    };
    // Off first: re-enabling with a new redirect on a tracking connection is refused.
    let _: () = data.client_tracking(Toggle::Off, None, Vec::<String>::new(), false, false, false, false).await?;
    let prefixes = vec![names.values.clone(), beats.prefix.clone()];
    let _: () = data.client_tracking(Toggle::On, Some(id), prefixes, true, false, false, true).await?;
    listener.subscribe(vec![names.channel.clone(), "__redis__:invalidate".to_owned()]).await?;
    Ok(nonce)
}

/// Learns whether the server echoes scripted writes (see [`super::echo`]): a script writes
/// and deletes a probe key, then a barrier message follows on the channel. Redis sends the
/// probe's invalidation in the script's own event-loop pass, before it handles the barrier's
/// `PUBLISH`, so by the time the listener sees the barrier it has seen the probe, if any.
async fn probe(data: &Client, names: &Names, me: &str, echoes: &Echoes, nonce: &str) -> Result<Option<Instant>, Error> {
    let mut barrier = echoes.barrier();
    let key = format!("{}{PROBE}{nonce}", names.values);
    let _: i64 = PROBE_SCRIPT.run(data, vec![key], vec![]).await?;
    let wire = Wire { from: me.to_owned(), kind: Kind::Barrier, keys: vec![nonce.to_owned()] };
    let sent = Instant::now();
    publish(data, names, &wire).await?;
    // Bounded: a lost barrier only leaves echo verification off until the next setup.
    let seen = tokio::time::timeout(BARRIER_WAIT, barrier.wait_for(|seen| seen == nonce)).await;
    Ok(matches!(seen, Ok(Ok(_))).then_some(sent))
}

/// Writes a heartbeat key (see [`super::beats`]) every `every` on its own connection `beat`.
/// A failed write is skipped: the missing heartbeat is the signal. When heartbeats are written
/// but none has been heard for `quiet`, the listener is woken to set the channel up again
/// (its tracking redirect may be broken while both connections look healthy).
pub(crate) async fn heartbeats(beat: Client, beats: Arc<Beats>, every: Duration, quiet: Duration, fence: Arc<Fence>) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Only so that a dead instance's heartbeat keys go away.
    let ttl = Expiration::PX(i64::try_from((every * 2).as_millis()).unwrap_or(i64::MAX).max(10));
    let mut seq = 0u64;
    loop {
        tick.tick().await;
        seq += 1;
        let sent = Instant::now();
        let key = beats.next(seq, sent);
        // Bounded by the connection's command timeout.
        let written: Result<(), _> = beat.set(key, 1, Some(ttl.clone()), None, false).await;
        if written.is_ok() && beats.silent_for(quiet, Instant::now()) {
            beats.stalled.notify_one();
        }
        // The write fence follows Redis's clock (a step on either machine, a restart).
        if seq.is_multiple_of(FENCE_EVERY) {
            let _ = fence.measure(&beat).await;
        }
    }
}

/// Sends a message on the cache's channel.
pub(crate) async fn publish(data: &Client, names: &Names, wire: &Wire) -> Result<(), Error> {
    let msg = postcard::to_allocvec(wire).map_err(|e| Error::new(fred::error::ErrorKind::Unknown, e.to_string()))?;
    let _: i64 = data.publish(names.channel.clone(), Bytes::from(msg)).await?;
    Ok(())
}

/// Turns Redis notifications into [`TierEvent`]s.
struct Listener {
    data: Client,
    names: Names,
    me: String,
    echoes: Arc<Echoes>,
    sink: EventSink,
    beats: Arc<Beats>,
}

impl Listener {
    async fn invalidation(&self, inv: Invalidation) {
        if inv.keys.is_empty() {
            self.sink.send(TierEvent::FlushAll);
            return;
        }
        let mut keys = Vec::with_capacity(inv.keys.len());
        let mut ours = Vec::new();
        let mut caught_up: Option<Instant> = None;
        for k in inv.keys.iter().filter_map(|k| k.as_str()) {
            if let Some(heard) = self.beats.heard(k) {
                caught_up = caught_up.max(heard);
                continue;
            }
            let Some(key) = k.strip_prefix(self.names.values.as_str()) else { continue };
            if self.echoes.probe_seen(key) {
                continue;
            }
            match self.echoes.take(key) {
                Some(mark) => ours.push((k, key, mark)),
                None => keys.push(key.to_owned()),
            }
        }
        if !ours.is_empty() {
            let still = self.own_writes_still_there(&ours).await;
            keys.extend(ours.iter().zip(still).filter(|(_, same)| !same).map(|((_, key, _), _)| (*key).to_owned()));
        }
        if !keys.is_empty() {
            self.sink.send(TierEvent::Keys(keys));
        }
        // After the keys of the same message: they were written before the heartbeat.
        if let Some(sent) = caught_up {
            self.sink.send(TierEvent::CaughtUp(sent));
        }
    }

    /// For keys this instance wrote by script: whether Redis still holds exactly those bytes
    /// (then the message is, for that key, only our own echo and L1 is current). One `MGET`,
    /// read after the message, so after every write it reports; an error or an answer slower
    /// than [`VERIFY_WAIT`] counts as "no", which only costs an L1 entry.
    async fn own_writes_still_there(&self, ours: &[(&str, &str, Mark)]) -> Vec<bool> {
        let redis_keys: Vec<String> = ours.iter().map(|(k, _, _)| (*k).to_owned()).collect();
        let read = tokio::time::timeout(VERIFY_WAIT, self.data.mget::<Vec<Option<Bytes>>, _>(redis_keys)).await;
        match read {
            Ok(Ok(now)) if now.len() == ours.len() => ours
                .iter()
                .zip(now)
                .map(|((_, _, mark), now)| now.is_some_and(|b| self.echoes.mark(&b) == *mark))
                .collect(),
            _ => vec![false; ours.len()],
        }
    }

    fn message(&self, m: &Message) {
        if m.channel.as_bytes() != self.names.channel.as_bytes() {
            return;
        }
        let Some(bytes) = m.value.as_bytes() else { return };
        let Ok(wire) = postcard::from_bytes::<Wire>(bytes) else { return };
        let mine = wire.from == self.me;
        let first = wire.keys.first().cloned();
        match (wire.kind, first) {
            (Kind::Barrier, Some(nonce)) if mine => self.echoes.barrier_seen(nonce),
            _ if mine => {}
            (Kind::Keys, Some(_)) => self.sink.send(TierEvent::Keys(wire.keys)),
            (Kind::Prefix, Some(p)) => self.sink.send(TierEvent::Prefix(p)),
            (Kind::LeaseReleased, Some(k)) => self.sink.send(TierEvent::LeaseReleased(k)),
            _ => {}
        }
    }
}

/// Spawns the tasks that turn Redis notifications into [`TierEvent`]s.
pub(crate) fn spawn(
    data: Client,
    listener: Client,
    names: Names,
    me: String,
    echoes: Arc<Echoes>,
    sink: EventSink,
    beats: Arc<Beats>,
) -> Vec<JoinHandle<()>> {
    let mut inval = listener.invalidation_rx();
    let mut messages = listener.message_rx();
    let l = Listener {
        data: data.clone(),
        names: names.clone(),
        me: me.clone(),
        echoes: echoes.clone(),
        sink: sink.clone(),
        beats: beats.clone(),
    };
    // One task, invalidations first (`biased`): fred hands a connection's frames to the two
    // channels in arrival order, so a probe's invalidation is handled before the barrier.
    let notifications = tokio::spawn(async move {
        loop {
            tokio::select! {
                biased;
                r = inval.recv() => match r {
                    Ok(inv) => l.invalidation(inv).await,
                    Err(RecvError::Lagged(_)) => {
                        // Echoes were among the lost messages: no registration is trusted.
                        l.echoes.forget_pending();
                        l.sink.send(TierEvent::FlushAll);
                    }
                    Err(RecvError::Closed) => return,
                },
                r = messages.recv() => match r {
                    Ok(m) => l.message(&m),
                    Err(RecvError::Lagged(_)) => l.sink.send(TierEvent::FlushAll),
                    Err(RecvError::Closed) => return,
                },
            }
        }
    });

    let mut data_reconnects = data.reconnect_rx();
    let mut listener_reconnects = listener.reconnect_rx();
    let reconnects = tokio::spawn(async move {
        loop {
            tokio::select! {
                r = data_reconnects.recv() => if matches!(r, Err(RecvError::Closed)) { return },
                r = listener_reconnects.recv() => if matches!(r, Err(RecvError::Closed)) { return },
                () = beats.stalled.notified() => {
                    // Heartbeats are written but not heard: the redirect may point elsewhere.
                    // A fresh listener connection comes back through the reconnect path.
                    tracing::warn!("no heartbeat heard through the invalidation channel; reconnecting it");
                    let _ = listener.force_reconnection().await;
                    continue;
                }
            }
            // Heartbeats vouch for nothing until tracking is on again and the flush is queued.
            beats.begin_setup();
            // Retry until both connections are back; each retry is cheap and bounded by the
            // connections' own reconnect policy.
            let nonce = loop {
                match enable(&data, &listener, &names, &echoes, &beats).await {
                    Ok(nonce) => break nonce,
                    Err(e) => {
                        tracing::debug!(error = %e, "invalidation channel setup failed, retrying");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            };
            // At once, before the echo probe: invalidations may have been missed.
            tracing::info!("invalidation channel re-established; flushing L1");
            sink.send(TierEvent::FlushAll);
            beats.accept();
            if let Err(e) = probe(&data, &names, &me, &echoes, &nonce).await {
                tracing::debug!(error = %e, "echo probe failed; echoes are not verified until the next setup");
            }
        }
    });
    vec![notifications, reconnects]
}
