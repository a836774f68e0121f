//! LISTEN on a dedicated connection; wakes idle fetchers when a task is inserted.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::Notify;
use tokio_postgres::{AsyncMessage, NoTls};
use tokio_util::sync::CancellationToken;

/// Listens on `channel` until `stop` fires, reconnecting after errors. After each (re)connect
/// it wakes the fetchers once, since notifications may have been missed meanwhile.
pub(super) async fn run(cfg: tokio_postgres::Config, channel: String, notify: Arc<Notify>, stop: CancellationToken) {
    let mut delay = Duration::from_millis(100);
    while !stop.is_cancelled() {
        match listen_once(&cfg, &channel, &notify, &stop).await {
            Ok(()) => return,
            Err(e) => {
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
    channel: &str,
    notify: &Notify,
    stop: &CancellationToken,
) -> Result<(), String> {
    let (client, mut conn) = cfg.connect(NoTls).await.map_err(|e| e.to_string())?;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
        while let Some(m) = messages.next().await {
            match m {
                Ok(AsyncMessage::Notification(_)) => {
                    if tx.send(Ok(())).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN \"{channel}\"")).await.map_err(|e| e.to_string())?;
    wake(notify);
    let res = loop {
        tokio::select! {
            () = stop.cancelled() => break Ok(()),
            m = rx.recv() => match m {
                Some(Ok(())) => wake(notify),
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
