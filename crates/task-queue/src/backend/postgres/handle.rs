//! [`PostgresBackend`]: the [`Backend`] on PostgreSQL.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::{broadcast, watch, Notify};
use tokio_postgres::{GenericClient, NoTls, Statement};
use tokio_util::sync::{CancellationToken, DropGuard};

use super::capacity::{Admission, Capacity};
use super::config::PostgresConfig;
use super::sql::Sql;
use super::{listen, migrations, outcomes, rows};
use crate::backend::{Backend, Completion, HeartbeatReply, LeasedTask};
use crate::error::QueueError;
use crate::priority::level;
use crate::status::{CancelOutcome, TaskInfo, TaskState};
use crate::task::{Task, TaskId};

/// Tasks in PostgreSQL, shared by every process that points at the same schema. Cheap to clone.
///
/// # Examples
///
/// ```no_run
/// use perfstack_task_queue::postgres::{PostgresBackend, PostgresConfig};
/// use perfstack_task_queue::{Task, TaskQueue};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let backend = PostgresBackend::connect("postgres://postgres@127.0.0.1/test", PostgresConfig::default()).await?;
/// let queue = TaskQueue::new(backend.clone());
/// queue.submit(Task::new("email", "a@example.com")?).await?;
///
/// // Or inside your own transaction: the task exists only if you commit.
/// let mut client = backend.pool().get().await?;
/// let tx = client.transaction().await?;
/// tx.execute("SELECT 1", &[]).await?;
/// backend.submit_in(&tx, Task::new("email", "b@example.com")?).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresBackend {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: Pool,
    sql: Sql,
    cfg: PostgresConfig,
    notify: Arc<Notify>,
    /// Ids of running tasks whose cancellation was requested (from the cancel channel).
    cancels: broadcast::Sender<TaskId>,
    /// The bound on pending + running tasks, when configured.
    capacity: Option<Capacity>,
    /// True while the LISTEN connection listens to both channels.
    listening: Arc<watch::Sender<bool>>,
    _stop_listener: DropGuard,
}

/// Seconds for a `make_interval`, at most [`MAX_DELAY`](crate::MAX_DELAY): longer would
/// overflow the `interval` or the `timestamptz` it is added to.
fn secs(d: Duration) -> f64 {
    crate::limits::clamp_delay(d).as_secs_f64()
}

impl PostgresBackend {
    /// Connects to `url`, applies the migrations and starts listening for new tasks.
    ///
    /// # Errors
    ///
    /// A bad URL, [`QueueError::Config`] for a schema name that is not an identifier or a
    /// setting [`PostgresConfig::validate`] refuses, or a database error.
    pub async fn connect(url: &str, cfg: PostgresConfig) -> Result<Self, QueueError> {
        let pg: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| QueueError::Database(e.to_string()))?;
        Self::from_config(pg, cfg).await
    }

    /// Like [`PostgresBackend::connect`], from a parsed configuration.
    ///
    /// # Errors
    ///
    /// [`QueueError::Config`] for a schema name that is not an identifier or a setting
    /// [`PostgresConfig::validate`] refuses, or a database error.
    pub async fn from_config(pg: tokio_postgres::Config, cfg: PostgresConfig) -> Result<Self, QueueError> {
        cfg.validate()?;
        let schema = cfg.checked_schema()?.to_string();
        let mgr = Manager::from_config(pg.clone(), NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(mgr)
            .max_size(cfg.pool_size.max(2))
            .build()
            .map_err(|e| QueueError::Database(e.to_string()))?;
        {
            let mut client = pool.get().await?;
            migrations::apply(&mut client, &schema).await?;
        }
        // Clamped like any delay, so that `now() ± 4 steps` stays a valid timestamp.
        let step_ms = i64::try_from(crate::limits::clamp_delay(cfg.aging.step).as_millis()).unwrap_or(i64::MAX / 8);
        let sql = Sql::new(&schema, step_ms);
        let notify = Arc::new(Notify::new());
        let (cancels, _) = broadcast::channel(1024);
        let stop = CancellationToken::new();
        let listening = Arc::new(watch::Sender::new(false));
        if cfg.listen {
            let channels = listen::Channels { work: sql.channel.clone(), cancel: sql.cancel_channel.clone() };
            let sinks = listen::Sinks {
                work: Arc::clone(&notify),
                cancels: cancels.clone(),
                listening: Arc::clone(&listening),
            };
            tokio::spawn(listen::run(pg, channels, sinks, stop.clone()));
        }
        let capacity = cfg.max_pending.map(|max| Capacity::new(max, cfg.when_full, cfg.full_wait));
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                sql,
                cfg,
                notify,
                cancels,
                capacity,
                listening,
                _stop_listener: stop.drop_guard(),
            }),
        })
    }

    /// The connection pool (also useful for the caller's own transactions).
    #[must_use]
    pub fn pool(&self) -> &Pool {
        &self.inner.pool
    }

    /// Waits up to `within` until this backend's LISTEN connection listens to its channels, and
    /// tells whether it does. Until then a new task or a cancel request is seen only by polling
    /// (a fetch's idle wait, the heartbeat): wait for this before relying on the notifications,
    /// e.g. a prompt cancel of a running task. `false` at once with
    /// [`PostgresConfig::listen`] off.
    pub async fn listening(&self, within: Duration) -> bool {
        if !self.inner.cfg.listen {
            return false;
        }
        let mut rx = self.inner.listening.subscribe();
        let on = matches!(tokio::time::timeout(within, rx.wait_for(|on| *on)).await, Ok(Ok(_)));
        on
    }

    /// The schema holding the queue's tables.
    #[must_use]
    pub fn schema(&self) -> &str {
        &self.inner.cfg.schema
    }

    /// Enqueues `task` inside the caller's transaction: it becomes visible (and workers are
    /// notified) only when the caller commits, and vanishes if the caller rolls back.
    ///
    /// # Errors
    ///
    /// [`QueueError::PayloadTooLarge`], [`QueueError::InvalidKind`], [`QueueError::Payload`]
    /// (not JSON), [`QueueError::Duplicate`], [`QueueError::Full`] (with
    /// [`PostgresConfig::max_pending`]; the count includes this transaction's own tasks), or a
    /// database error.
    pub async fn submit_in(&self, tx: &tokio_postgres::Transaction<'_>, task: Task) -> Result<TaskId, QueueError> {
        task.check(self.inner.cfg.max_payload_bytes)?;
        // Counted on the caller's transaction (its own tasks count) without the process-wide
        // count gate: an INSERT of the caller's may wait on another transaction's row lock,
        // and a lock of ours held across it could deadlock where PostgreSQL cannot see it.
        let admission = match &self.inner.capacity {
            Some(cap) => {
                let sql = &self.inner.sql.count_active;
                Some(cap.admit_in(move |limit| async move { count(tx, sql, limit).await }).await?)
            }
            None => None,
        };
        let stmt = tx.prepare(&self.inner.sql.submit).await?;
        let id = self.insert(tx, &stmt, task).await?;
        if let Some(a) = admission {
            a.inserted();
        }
        Ok(id)
    }

    /// Passes the capacity bound, when there is one (see [`PostgresConfig::max_pending`]),
    /// counting on a connection held only for the count: a submit waiting for room holds no
    /// pooled connection, so workers can still fetch and complete.
    async fn admit(&self) -> Result<Option<Admission<'_>>, QueueError> {
        let Some(cap) = &self.inner.capacity else { return Ok(None) };
        let admission = cap
            .admit(move |limit| async move {
                let client = self.inner.pool.get().await?;
                count(&**client, &self.inner.sql.count_active, limit).await
            })
            .await?;
        Ok(Some(admission))
    }

    fn freed(&self) {
        if let Some(cap) = &self.inner.capacity {
            cap.freed();
        }
    }

    async fn insert<C: GenericClient>(&self, client: &C, stmt: &Statement, task: Task) -> Result<TaskId, QueueError> {
        let payload = json_text(&task.payload)?;
        let backoff = serde_json::to_string(&task.backoff).map_err(|e| QueueError::Payload(e.to_string()))?;
        let timeout_ms = task.timeout.map(|t| i64::try_from(t.as_millis()).unwrap_or(i64::MAX));
        let max_attempts = i32::try_from(task.max_attempts).unwrap_or(i32::MAX);
        let prio = i16::from(level(task.priority));
        let row = client
            .query_opt(
                stmt,
                &[
                    &&*task.kind,
                    &payload,
                    &prio,
                    &max_attempts,
                    &backoff,
                    &timeout_ms,
                    &secs(task.delay),
                    &task.unique_key,
                    &task.tags,
                ],
            )
            .await?;
        if let Some(row) = row {
            return Ok(TaskId(row.get(0)));
        }
        let existing = client.query_opt(&self.inner.sql.find_unique, &[&task.unique_key]).await?;
        Err(QueueError::Duplicate { existing: TaskId(existing.map_or(0, |r| r.get(0))) })
    }

    /// Inserts many tasks in one statement (unique keys and tags are ignored), notifying
    /// workers once. Returns the ids in order.
    ///
    /// # Errors
    ///
    /// A payload over the limit or not JSON, or a database error.
    pub async fn submit_many(&self, tasks: Vec<Task>) -> Result<Vec<TaskId>, QueueError> {
        let n = tasks.len();
        let (mut kinds, mut payloads, mut prios, mut maxes, mut backoffs, mut timeouts, mut delays) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for t in tasks {
            t.check(self.inner.cfg.max_payload_bytes)?;
            payloads.push(json_text(&t.payload)?);
            backoffs.push(serde_json::to_string(&t.backoff).map_err(|e| QueueError::Payload(e.to_string()))?);
            prios.push(i16::from(level(t.priority)));
            maxes.push(i32::try_from(t.max_attempts).unwrap_or(i32::MAX));
            timeouts.push(t.timeout.map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
            delays.push(secs(t.delay));
            kinds.push(t.kind.to_string());
        }
        let client = self.inner.pool.get().await?;
        let stmt = client.prepare_cached(&self.inner.sql.submit_many).await?;
        let rows = client.query(&stmt, &[&kinds, &payloads, &prios, &maxes, &backoffs, &timeouts, &delays]).await?;
        client.execute(&format!("SELECT pg_notify('{}', '')", self.inner.sql.channel), &[]).await?;
        Ok(rows.iter().map(|r| TaskId(r.get(0))).collect())
    }

    /// Completes the task inside the handler's own transaction, checked against the lease's
    /// fencing token: effect and completion commit together or not at all, and a worker whose
    /// lease was taken over gets [`QueueError::StaleLease`] (roll back then). Marks the context
    /// settled so that the pool does not write the outcome again.
    ///
    /// # Errors
    ///
    /// [`QueueError::StaleLease`], or a database error.
    pub async fn complete_in(
        &self,
        tx: &tokio_postgres::Transaction<'_>,
        ctx: &crate::TaskContext,
    ) -> Result<(), QueueError> {
        let row = tx.query_opt(&self.inner.sql.complete_one, &[&ctx.id().0, &ctx.fence()]).await?;
        if row.is_none() {
            return Err(QueueError::StaleLease { id: ctx.id() });
        }
        ctx.mark_settled();
        self.freed();
        Ok(())
    }
}

/// Pending + running tasks, counted up to `limit` of each (see `Sql::count_active`).
async fn count<C: GenericClient + Sync>(client: &C, sql: &str, limit: i64) -> Result<u64, QueueError> {
    let n: i64 = client.query_one(sql, &[&limit]).await?.get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// The payload as text, refused when it is not JSON (PostgreSQL stores it as `jsonb`).
fn json_text(payload: &[u8]) -> Result<String, QueueError> {
    let text = std::str::from_utf8(payload).map_err(|e| QueueError::Payload(e.to_string()))?;
    serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(|e| QueueError::Payload(e.to_string()))?;
    Ok(text.to_string())
}

#[async_trait]
impl Backend for PostgresBackend {
    async fn submit(&self, task: Task, _span: Option<tracing::Span>) -> Result<TaskId, QueueError> {
        // Admission first: the insert's connection is taken only once there is room.
        let admission = self.admit().await?;
        let client = self.inner.pool.get().await?;
        let stmt = client.prepare_cached(&self.inner.sql.submit).await?;
        let id = self.insert(&**client, &stmt, task).await?;
        if let Some(a) = admission {
            a.inserted();
        }
        Ok(id)
    }

    async fn fetch(&self, worker: &str, max: usize, lease: Duration) -> Result<Vec<LeasedTask>, QueueError> {
        let client = self.inner.pool.get().await?;
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        // Unnamed statement on purpose: planned with the real limit each time. A cached
        // (generic) plan of the batch statements was measured 10-25x slower after ANALYZE.
        let rows = client.query(self.inner.sql.fetch.as_str(), &[&limit, &secs(lease), &worker]).await?;
        rows.iter().map(rows::leased).collect()
    }

    async fn complete(&self, batch: Vec<Completion>) -> Result<Vec<TaskId>, QueueError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.inner.pool.get().await?;
        let written = outcomes::write(&**client, &self.inner.sql, &batch).await?;
        if !written.is_empty() {
            self.freed();
        }
        Ok(batch.iter().filter(|c| !written.contains(&c.id.0)).map(|c| c.id).collect())
    }

    async fn heartbeat(&self, leases: &[(TaskId, i64)], lease: Duration) -> Result<HeartbeatReply, QueueError> {
        let ids: Vec<i64> = leases.iter().map(|(id, _)| id.0).collect();
        let fences: Vec<i64> = leases.iter().map(|(_, f)| *f).collect();
        let client = self.inner.pool.get().await?;
        let rows = client.query(self.inner.sql.heartbeat.as_str(), &[&ids, &fences, &secs(lease)]).await?;
        let mut kept = HashSet::new();
        let mut reply = HeartbeatReply::default();
        for r in &rows {
            let id: i64 = r.get(0);
            kept.insert(id);
            if r.get::<_, bool>(1) {
                reply.cancel_requested.push(TaskId(id));
            }
        }
        reply.lost = ids.iter().filter(|id| !kept.contains(id)).map(|id| TaskId(*id)).collect();
        Ok(reply)
    }

    async fn rescue_expired(&self) -> Result<u64, QueueError> {
        let client = self.inner.pool.get().await?;
        let n = client.execute(&self.inner.sql.rescue, &[]).await?;
        if n > 0 {
            self.inner.notify.notify_one();
        }
        Ok(n)
    }

    async fn wait_for_work(&self, max: Duration) {
        let _ = tokio::time::timeout(max, self.inner.notify.notified()).await;
    }

    async fn status(&self, id: TaskId) -> Result<Option<TaskInfo>, QueueError> {
        let client = self.inner.pool.get().await?;
        let row = client.query_opt(&self.inner.sql.status, &[&id.0]).await?;
        row.as_ref().map(rows::info).transpose()
    }

    async fn cancel(&self, id: TaskId) -> Result<CancelOutcome, QueueError> {
        let client = self.inner.pool.get().await?;
        if let Some(row) = client.query_opt(&self.inner.sql.cancel, &[&id.0]).await? {
            let old = TaskState::from_code(row.get(0));
            if old != TaskState::Running {
                self.freed();
            }
            return Ok(if old == TaskState::Running { CancelOutcome::Signalled } else { CancelOutcome::Removed });
        }
        let exists = client.query_opt(&self.inner.sql.exists, &[&id.0]).await?.is_some();
        Ok(if exists { CancelOutcome::AlreadyFinished } else { CancelOutcome::NotFound })
    }

    async fn depth(&self) -> Result<[u64; 5], QueueError> {
        let client = self.inner.pool.get().await?;
        let mut d = [0u64; 5];
        for r in client.query(&self.inner.sql.depth, &[]).await? {
            let p = usize::try_from(r.get::<_, i16>(0)).unwrap_or(0).min(4);
            d[p] = u64::try_from(r.get::<_, i64>(1)).unwrap_or(0);
        }
        Ok(d)
    }

    fn cancellations(&self) -> Option<broadcast::Receiver<TaskId>> {
        self.inner.cfg.listen.then(|| self.inner.cancels.subscribe())
    }

    async fn cleanup(&self, older_than: Duration) -> Result<u64, QueueError> {
        let client = self.inner.pool.get().await?;
        let mut total = 0;
        loop {
            let n = client.execute(&self.inner.sql.cleanup, &[&secs(older_than)]).await?;
            total += n;
            if n < 10_000 {
                return Ok(total);
            }
        }
    }
}
