//! LISTEN on a dedicated connection: wakes idle fetchers when a task is inserted, and passes on
//! the ids of running tasks whose cancellation was requested.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::{broadcast, watch, Notify};
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

use crate::task::TaskId;

/// The two channels of one schema.
#[derive(Debug, Clone)]
pub(super) struct Channels {
    /// New tasks.
    pub(super) work: String,
    /// Cancel requests for running tasks (payload: the task id).
    pub(super) cancel: String,
}

/// Where notifications go.
#[derive(Debug, Clone)]
pub(super) struct Sinks {
    /// Woken on a new task.
    pub(super) work: Arc<Notify>,
    /// Receives the id of a running task to cancel.
    pub(super) cancels: broadcast::Sender<TaskId>,
    /// True while both channels are listened to.
    pub(super) listening: Arc<watch::Sender<bool>>,
}

enum Message {
    Work,
    Cancel(TaskId),
}

/// Listens until `stop` fires, reconnecting after errors. After each (re)connect it wakes the
/// fetchers once, since notifications may have been missed meanwhile (a missed cancel request
/// is still seen by the next heartbeat).
pub(super) async fn run(cfg: tokio_postgres::Config, channels: Channels, sinks: Sinks, stop: CancellationToken) {
    let mut delay = Duration::from_millis(100);
    while !stop.is_cancelled() {
        match listen_once(&cfg, &channels, &sinks, &stop).await {
            Ok(()) => return,
            Err(e) => {
                sinks.listening.send_replace(false);
                tracing::warn!(error = %e, "task queue LISTEN connection failed; polling until it is back");
                tokio::select! {
                    () = stop.cancelled() => return,
                    () = tokio::time::sleep(delay) => {}
                }
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

async fn listen_once(
    cfg: &tokio_postgres::Config,
    channels: &Channels,
    sinks: &Sinks,
    stop: &CancellationToken,
) -> Result<(), String> {
    let (client, mut conn) = cfg.connect(NoTls).await.map_err(|e| e.to_string())?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let cancel_channel = channels.cancel.clone();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(m) = messages.next().await {
            let msg = match m {
                Ok(AsyncMessage::Notification(n)) if n.channel() == cancel_channel => {
                    // A payload that is not an id is ignored: the heartbeat still sees the request.
                    match n.payload().parse::<i64>() {
                        Ok(id) => Ok(Message::Cancel(TaskId(id))),
                        Err(_) => continue,
                    }
                }
                Ok(AsyncMessage::Notification(_)) => Ok(Message::Work),
                Ok(_) => continue,
                Err(e) => Err(e),
            };
            let last = msg.is_err();
            if tx.send(msg).is_err() || last {
                return;
            }
        }
    });
    // The work channel last: once its LISTEN is done (visible in `pg_stat_activity`), both are.
    for channel in [&channels.cancel, &channels.work] {
        client.batch_execute(&format!("LISTEN \"{channel}\"")).await.map_err(|e| e.to_string())?;
    }
    sinks.listening.send_replace(true);
    wake(&sinks.work);
    let res = loop {
        tokio::select! {
            () = stop.cancelled() => break Ok(()),
            m = rx.recv() => match m {
                Some(Ok(Message::Work)) => wake(&sinks.work),
                // No receiver (no pool running here) is fine.
                Some(Ok(Message::Cancel(id))) => { let _ = sinks.cancels.send(id); }
                Some(Err(e)) => break Err(e.to_string()),
                None => break Err("connection closed".to_string()),
            },
        }
    };
    driver.abort();
    res
}

fn wake(notify: &Notify) {
    notify.notify_waiters();
    notify.notify_one();
}
