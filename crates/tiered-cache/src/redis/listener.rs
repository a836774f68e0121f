//! The invalidation connection: client tracking on the data connection (BCAST on the value
//! prefix, NOLOOP) redirected to this RESP2 connection subscribed to `__redis__:invalidate`,
//! plus a pub/sub channel for prefix invalidations. RESP2 on purpose: with a RESP3 redirect
//! target Redis sends the FLUSHALL notice as a push with a null key list, which fred 10.1
//! drops; as a RESP2 pub/sub message fred turns it into an empty invalidation ("flush all"). After any reconnect of
//! either connection, tracking and the subscription are set up again and L1 is flushed,
//! because invalidations may have been missed.

use std::sync::Arc;
use std::time::Duration;

use fred::interfaces::{ClientInterface, EventInterface, PubsubInterface, TrackingInterface};
use fred::prelude::{Client, Error};
use fred::types::client::Toggle;
use tokio::task::JoinHandle;

use super::echo::{Echoes, PROBE};
use super::wire::{Names, Wire};
use super::PROBE_SCRIPT;
use crate::tier::{EventSink, TierEvent};

/// Turns on tracking on `data`, redirected to `listener`, subscribes `listener`, and writes
/// the echo probe (see [`super::echo`]).
pub(crate) async fn setup(
    data: &Client,
    listener: &Client,
    names: &Names,
    me: &str,
    echoes: &Echoes,
) -> Result<(), Error> {
    echoes.reset();
    // RESP2 and subscribed: CLIENT ID is refused, but fred caches each connection's id.
    let id: i64 = match listener.connection_ids().values().next() {
        Some(id) => *id,
        None => listener.client_id().await?,
    };
    // Off first: re-enabling with a new redirect on a tracking connection is refused.
    let _: () = data.client_tracking(Toggle::Off, None, Vec::<String>::new(), false, false, false, false).await?;
    let _: () =
        data.client_tracking(Toggle::On, Some(id), vec![names.values.clone()], true, false, false, true).await?;
    listener.subscribe(vec![names.channel.clone(), "__redis__:invalidate".to_owned()]).await?;
    let probe = format!("{}{PROBE}{me}", names.values);
    let _: i64 = PROBE_SCRIPT.run(data, vec![probe], vec![]).await?;
    Ok(())
}

/// Spawns the tasks that turn Redis notifications into [`TierEvent`]s.
pub(crate) fn spawn(
    data: Client,
    listener: Client,
    names: Names,
    me: String,
    echoes: Arc<Echoes>,
    sink: EventSink,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();

    let mut inval = listener.invalidation_rx();
    let (prefix, s, echo) = (names.values.clone(), sink.clone(), echoes.clone());
    let my_probe = format!("{PROBE}{me}");
    tasks.push(tokio::spawn(async move {
        loop {
            match inval.recv().await {
                Ok(inv) if inv.keys.is_empty() => s.send(TierEvent::FlushAll),
                Ok(inv) => {
                    let keys = inv
                        .keys
                        .iter()
                        .filter_map(|k| k.as_str())
                        .filter_map(|k| k.strip_prefix(prefix.as_str()))
                        .filter(|k| {
                            if k.starts_with(PROBE) {
                                if *k == my_probe {
                                    echo.learned();
                                }
                                return false;
                            }
                            !echo.take(k)
                        })
                        .map(str::to_owned)
                        .collect::<Vec<_>>();
                    if !keys.is_empty() {
                        s.send(TierEvent::Keys(keys));
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => s.send(TierEvent::FlushAll),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }));

    let mut messages = listener.message_rx();
    let (channel, s, from_me) = (names.channel.clone(), sink.clone(), me.clone());
    tasks.push(tokio::spawn(async move {
        loop {
            match messages.recv().await {
                Ok(m) if &*m.channel == channel.as_str() => {
                    let Some(bytes) = m.value.as_bytes() else { continue };
                    let Ok(wire) = postcard::from_bytes::<Wire>(bytes) else { continue };
                    if wire.from == from_me {
                        continue;
                    }
                    match (wire.prefix, wire.keys.into_iter().next()) {
                        (true, Some(p)) => s.send(TierEvent::Prefix(p)),
                        (false, Some(k)) => s.send(TierEvent::Keys(vec![k])),
                        _ => {}
                    }
                }
                Ok(_) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => s.send(TierEvent::FlushAll),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            }
        }
    }));

    let mut data_reconnects = data.reconnect_rx();
    let mut listener_reconnects = listener.reconnect_rx();
    tasks.push(tokio::spawn(async move {
        loop {
            tokio::select! {
                r = data_reconnects.recv() => if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) { return },
                r = listener_reconnects.recv() => if matches!(r, Err(tokio::sync::broadcast::error::RecvError::Closed)) { return },
            }
            // Retry until both connections are back; each retry is cheap and bounded by the
            // connections' own reconnect policy.
            while let Err(e) = setup(&data, &listener, &names, &me, &echoes).await {
                tracing::debug!(error = %e, "invalidation channel setup failed, retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            tracing::info!("invalidation channel re-established; flushing L1");
            sink.send(TierEvent::FlushAll);
        }
    }));
    tasks
}
