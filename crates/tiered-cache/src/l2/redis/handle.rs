//! [`RedisTier`]: the Redis tier's connections (commands, invalidations, heartbeats), how
//! they are opened from the caller's client, and how they are closed.

use std::sync::Arc;
use std::time::Duration;

use fred::clients::WithOptions;
use fred::interfaces::ClientLike;
use fred::prelude::{Builder, Client, Error, Options, ReconnectPolicy};
use fred::types::RespVersion;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::beats::Beats;
use super::echo::Echoes;
use super::fence::Fence;
use super::listener;
use super::wire::Names;
use crate::l2::EventSink;

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
    pub(super) data: Client,
    /// `data` with per-command options for reads: no fred timer (the cache's own deadline
    /// bounds them) and fail-fast while disconnected.
    pub(super) reader: WithOptions<Client>,
    listener: Client,
    /// Writes the heartbeat keys (see `beats`).
    beat: Client,
    pub(super) names: Names,
    pub(super) me: String,
    pub(super) echoes: Arc<Echoes>,
    tasks: Vec<JoinHandle<()>>,
    /// When the setup's barrier was sent, if it came back: the channel was current then.
    confirmed_at: Option<Instant>,
    pub(super) runtime: tokio::runtime::Handle,
    /// The deadline every value write carries (see [`super::scripts`]).
    pub(super) fence: Arc<Fence>,
    /// When `data` was last reopened because a read answered for another key, and how long
    /// until it may be reopened again for that (doubling, see `out_of_step`).
    pub(super) resynced: parking_lot::Mutex<(Option<Instant>, Duration)>,
}

impl std::fmt::Debug for RedisTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTier").field("ns", &self.names.values).finish_non_exhaustive()
    }
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
        // RESP2 whatever the template says. On a RESP3 connection with tracking redirected,
        // Redis pushes `tracking-redir-broken` when the redirect target's connection closes
        // (the listener reconnecting after a restart or a pause), and fred 10.1 takes any
        // push that is not an invalidation or a pub/sub message for the reply to the oldest
        // command in flight: every later reply on the connection then answers the command
        // before it, and a GET returns another key's value (decision 0049).
        let mut client = template.client_config();
        client.version = RespVersion::RESP2;
        let own = |performance: fred::types::config::PerformanceConfig| {
            Builder::from_config(client.clone())
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
                p.broadcast_channel_capacity = crate::l2::EVENT_QUEUE;
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
        Ok(RedisTier {
            data,
            reader,
            listener,
            beat,
            names,
            me,
            echoes,
            tasks,
            confirmed_at,
            runtime,
            fence,
            resynced: parking_lot::Mutex::new((None, Duration::ZERO)),
        })
    }

    /// When the invalidation channel was last proven current at setup (`None`: not proven).
    pub(crate) fn confirmed_at(&self) -> Option<Instant> {
        self.confirmed_at
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
