#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Config fuzzing (TESTING.md §3): the task setters, the memory backend's settings, the worker
//! pool builder and its serde `PoolConfig`, and the backoff policy get the values users pass by
//! mistake; each gives an error or an object that survives one use (a task submitted and run
//! to the end, a pool that runs one task and shuts down), under the testkit's time and memory
//! bounds. Memory backend only.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use perfstack_task_queue::{
    handler_fn, Aging, Backoff, BackoffPolicy, ConfigError, MemoryBackend, MemoryConfig, PoolConfig, Priority,
    QueueError, Task, TaskContext, TaskError, TaskId, TaskQueue, TaskState, WhenFull, WorkerPool, WorkerPoolBuilder,
};
use perfstack_testkit::fuzz::{
    block_on, durations, json_durations, json_integers, json_string, names, u32s, usizes, BoundedAlloc, Fuzz,
};
use proptest::option::weighted;
use proptest::prelude::*;

#[global_allocator]
static ALLOC: BoundedAlloc = BoundedAlloc::new();

/// How often an optional setter is called.
const SET: f64 = 0.35;
/// A task that is ready must be finished this long after it was submitted: a liveness check
/// with a margin of hundreds of times what it takes, not a timing claim.
const FINISHES_WITHIN: Duration = Duration::from_secs(1);

fn priority() -> impl Strategy<Value = Priority> {
    proptest::sample::select(vec![
        Priority::Low,
        Priority::Normal,
        Priority::High,
        Priority::Urgent,
        Priority::Critical,
    ])
}

/// Counts the attempts its handlers ran.
#[derive(Debug, Clone, Default)]
struct Ran(Arc<AtomicUsize>);

impl Ran {
    fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Registers a handler for `kind` that accepts any JSON payload and counts its runs.
fn accept_all(b: WorkerPoolBuilder, kind: &str, ran: &Ran) -> WorkerPoolBuilder {
    let ran = ran.clone();
    b.handler(
        kind,
        handler_fn(move |_ctx: TaskContext, _v: serde_json::Value| {
            ran.0.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, TaskError>(()) }
        }),
    )
}

/// Waits (real time, at most `within`) until `done` holds for the task's state (`None`: no
/// longer known, e.g. purged after a zero retention) and the handlers' run count; returns the
/// last state seen.
async fn settle(
    queue: &TaskQueue,
    id: TaskId,
    ran: &Ran,
    within: Duration,
    done: impl Fn(Option<TaskState>, usize) -> bool,
) -> Option<TaskState> {
    let until = std::time::Instant::now() + within;
    loop {
        let state = queue.status(id).await.unwrap().map(|i| i.state);
        if done(state, ran.count()) || std::time::Instant::now() >= until {
            return state;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Completed: the handler ran once and the task is completed (or already purged).
fn completed(state: Option<TaskState>, runs: usize) -> bool {
    runs >= 1 && matches!(state, Some(TaskState::Completed) | None)
}

/// One use of a pool on `queue`: a ready task of `kind` runs to completion, then the pool shuts
/// down.
async fn run_one(queue: &TaskQueue, pool: &WorkerPool, kind: &str, ran: &Ran) {
    let id = queue.submit(Task::new(kind, &1).unwrap()).await.unwrap();
    let state = settle(queue, id, ran, FINISHES_WITHIN, completed).await;
    assert!(completed(state, ran.count()), "a ready task did not complete within {FINISHES_WITHIN:?}: {state:?}");
    let _ = pool.running();
    let _ = pool.shutdown().await;
    let _ = queue.stats().await.unwrap();
}

#[derive(Debug, Clone)]
struct TaskInput {
    kind: Option<String>,
    payload: String,
    priority: Priority,
    attempts: Option<u32>,
    backoff: Option<(bool, Duration, Duration)>,
    timeout: Option<Duration>,
    delay: Option<Duration>,
    unique: Option<String>,
    tags: Vec<String>,
}

fn task_input() -> impl Strategy<Value = TaskInput> {
    (
        weighted(SET, names()),
        names(),
        priority(),
        weighted(SET, u32s()),
        weighted(SET, (any::<bool>(), durations(), durations())),
        weighted(SET, durations()),
        weighted(SET, durations()),
        weighted(SET, names()),
        proptest::collection::vec(names(), 0..3),
    )
        .prop_map(|(kind, payload, priority, attempts, backoff, timeout, delay, unique, tags)| TaskInput {
            kind,
            payload,
            priority,
            attempts,
            backoff,
            timeout,
            delay,
            unique,
            tags,
        })
}

#[test]
fn task_setters_give_a_refusal_or_a_task_that_runs() {
    Fuzz::new("Task::new + setters").cases(160).run(task_input(), |t| {
        let kind = t.kind.clone().unwrap_or_else(|| "job".into());
        let mut task = Task::new(kind.clone(), &t.payload).unwrap().priority(t.priority);
        if let Some(n) = t.attempts {
            task = task.max_attempts(n);
        }
        if let Some((constant, a, b)) = t.backoff {
            task = task.backoff(if constant { BackoffPolicy::constant(a) } else { BackoffPolicy::exponential(a, b) });
        }
        if let Some(d) = t.timeout {
            task = task.timeout(d);
        }
        if let Some(d) = t.delay {
            task = task.delay(d);
        }
        if let Some(k) = &t.unique {
            task = task.unique_key(k.clone());
        }
        for tag in &t.tags {
            task = task.tag(tag.clone());
        }
        block_on(async {
            let queue = TaskQueue::memory();
            let ran = Ran::default();
            let pool = match accept_all(WorkerPool::builder(&queue).concurrency(2), &kind, &ran).start() {
                Ok(pool) => pool,
                Err(e) => {
                    // A kind no handler may have is a kind no task may have.
                    assert!(matches!(e, ConfigError::InvalidName { .. }), "{e}");
                    let refused = queue.submit(task).await;
                    assert!(matches!(refused, Err(QueueError::InvalidKind(_))), "{refused:?}");
                    return;
                }
            };
            let id = match queue.submit(task.clone()).await {
                Ok(id) => id,
                Err(e) => {
                    // A refusal of the task itself; a memory queue has no backend to fail.
                    assert!(
                        !matches!(e, QueueError::Closed | QueueError::Database(_) | QueueError::StaleLease { .. }),
                        "an unexpected refusal: {e}"
                    );
                    pool.shutdown().await;
                    return;
                }
            };
            if t.unique.is_some() && t.delay.is_some_and(|d| d >= Duration::from_secs(1)) {
                let again = queue.submit(task).await;
                assert!(matches!(again, Err(QueueError::Duplicate { existing }) if existing == id), "{again:?}");
            }
            if t.delay.is_some_and(|d| d >= Duration::from_millis(10)) {
                assert_eq!(queue.status(id).await.unwrap().map(|i| i.state), Some(TaskState::Pending));
                let _ = queue.cancel(id).await.unwrap();
            } else if t.timeout.is_none_or(|d| d >= Duration::from_millis(100)) {
                let state = settle(&queue, id, &ran, FINISHES_WITHIN, completed).await;
                assert!(completed(state, ran.count()), "a ready task did not complete: {state:?}");
            } else {
                // A timeout that short may fail the attempt: it must at least have been tried.
                let tried = |s: Option<TaskState>, runs: usize| runs >= 1 || s != Some(TaskState::Pending);
                let state = settle(&queue, id, &ran, FINISHES_WITHIN, tried).await;
                assert!(tried(state, ran.count()), "a ready task was never tried: {state:?}");
            }
            pool.shutdown().await;
            let _ = queue.stats().await.unwrap();
        });
    });
}

#[derive(Debug, Clone)]
struct PoolInput {
    concurrency: Option<usize>,
    fetch_batch: Option<usize>,
    lease: Option<Duration>,
    poll: Option<Duration>,
    rescue: Option<Duration>,
    grace: Option<Duration>,
    worker_id: Option<String>,
}

fn pool_input() -> impl Strategy<Value = PoolInput> {
    (
        weighted(SET, usizes()),
        weighted(SET, usizes()),
        weighted(SET, durations()),
        weighted(SET, durations()),
        weighted(SET, durations()),
        weighted(SET, durations()),
        weighted(SET, names()),
    )
        .prop_map(|(concurrency, fetch_batch, lease, poll, rescue, grace, worker_id)| PoolInput {
            concurrency,
            fetch_batch,
            lease,
            poll,
            rescue,
            grace,
            worker_id,
        })
}

#[test]
fn worker_pool_builder_runs_one_task_and_shuts_down() {
    Fuzz::new("WorkerPool::builder").cases(128).run(pool_input(), |p| {
        block_on(async {
            let queue = TaskQueue::memory();
            let mut b = WorkerPool::builder(&queue);
            if let Some(n) = p.concurrency {
                b = b.concurrency(n);
            }
            if let Some(n) = p.fetch_batch {
                b = b.fetch_batch(n);
            }
            if let Some(d) = p.lease {
                b = b.lease(d);
            }
            if let Some(d) = p.poll {
                b = b.poll_interval(d);
            }
            if let Some(d) = p.rescue {
                b = b.rescue_interval(d);
            }
            if let Some(d) = p.grace {
                b = b.grace(d);
            }
            if let Some(id) = p.worker_id {
                b = b.worker_id(id);
            }
            let ran = Ran::default();
            let Ok(pool) = accept_all(b, "job", &ran).start() else { return };
            run_one(&queue, &pool, "job", &ran).await;
        });
    });
}

#[test]
fn pool_config_from_json_runs_one_task_or_is_refused() {
    let doc = (
        json_integers(),
        json_integers(),
        json_durations(),
        json_durations(),
        json_durations(),
        json_durations(),
        json_durations(),
        json_integers(),
        names(),
        proptest::collection::vec(any::<bool>(), 9),
    )
        .prop_map(|(conc, batch, lease, beat, poll, rescue, grace, completion, id, keep)| {
            // Each field is fuzzed or left at the default's value.
            let d = PoolConfig::default();
            let v = |k: usize, fuzzed: String, default: String| if keep[k] { default } else { fuzzed };
            let dur = |x: Duration| serde_json::to_string(&x).unwrap();
            format!(
                r#"{{"concurrency":{},"fetch_batch":{},"lease":{},"heartbeat":{},"poll_interval":{},"rescue_interval":{},"grace":{},"completion_batch":{},"worker_id":{}}}"#,
                v(0, conc, d.concurrency.to_string()),
                v(1, batch, d.fetch_batch.to_string()),
                v(2, lease, dur(d.lease)),
                v(3, beat, dur(d.heartbeat)),
                v(4, poll, dur(d.poll_interval)),
                v(5, rescue, dur(d.rescue_interval)),
                v(6, grace, dur(d.grace)),
                v(7, completion, d.completion_batch.to_string()),
                v(8, json_string(&id), json_string(&d.worker_id)),
            )
        });
    Fuzz::new("PoolConfig (JSON)").cases(128).run(doc, |doc| {
        let Ok(cfg) = serde_json::from_str::<PoolConfig>(&doc) else { return };
        block_on(async {
            let queue = TaskQueue::memory();
            let ran = Ran::default();
            let Ok(pool) = accept_all(WorkerPool::builder(&queue).config(cfg), "job", &ran).start() else { return };
            run_one(&queue, &pool, "job", &ran).await;
        });
    });
}

#[derive(Debug, Clone)]
struct MemoryInput {
    capacity: Option<usize>,
    reject: bool,
    aging: Option<Duration>,
    retention: Option<Duration>,
    retention_max: Option<usize>,
    shards: Option<usize>,
    max_payload: Option<usize>,
}

fn memory_input() -> impl Strategy<Value = MemoryInput> {
    (
        weighted(SET, usizes()),
        any::<bool>(),
        weighted(SET, durations()),
        weighted(SET, durations()),
        weighted(SET, usizes()),
        weighted(SET, usizes()),
        weighted(SET, usizes()),
    )
        .prop_map(|(capacity, reject, aging, retention, retention_max, shards, max_payload)| MemoryInput {
            capacity,
            reject,
            aging,
            retention,
            retention_max,
            shards,
            max_payload,
        })
}

#[test]
fn memory_backend_settings_run_one_task() {
    Fuzz::new("MemoryBackend::new + TaskQueue::with_limit").cases(128).run(memory_input(), |m| {
        let d = MemoryConfig::default();
        let cfg = MemoryConfig {
            capacity: m.capacity.unwrap_or(d.capacity),
            when_full: if m.reject { WhenFull::Reject } else { WhenFull::Wait },
            aging: m.aging.map_or(d.aging, Aging::per_level),
            retention: m.retention.unwrap_or(d.retention),
            retention_max: m.retention_max.unwrap_or(d.retention_max),
            shards: m.shards.unwrap_or(d.shards),
        };
        block_on(async {
            let backend = std::sync::Arc::new(MemoryBackend::new(cfg));
            let queue = match m.max_payload {
                Some(n) => TaskQueue::with_limit(backend, n),
                None => TaskQueue::with_limit(backend, perfstack_task_queue::DEFAULT_MAX_PAYLOAD_BYTES),
            };
            let ran = Ran::default();
            let pool = accept_all(WorkerPool::builder(&queue), "job", &ran).start().unwrap();
            match queue.submit(Task::new("job", &1).unwrap()).await {
                Ok(id) => {
                    let state = settle(&queue, id, &ran, FINISHES_WITHIN, completed).await;
                    assert!(completed(state, ran.count()), "a ready task did not complete: {state:?}");
                }
                Err(e) => assert!(matches!(e, QueueError::PayloadTooLarge { .. }), "{e}"),
            }
            let _ = queue.submit(Task::new("job", &2).unwrap().delay(Duration::from_secs(60))).await;
            let _ = pool.shutdown().await;
            let _ = queue.stats().await.unwrap();
        });
    });
}

#[test]
fn memory_config_from_json_builds_a_backend_or_is_refused() {
    let doc = (json_integers(), json_durations(), json_durations(), json_integers(), json_integers()).prop_map(
        |(capacity, step, retention, retention_max, shards)| {
            format!(
                r#"{{"capacity":{capacity},"when_full":"reject","aging":{{"step":{step}}},"retention":{retention},"retention_max":{retention_max},"shards":{shards}}}"#
            )
        },
    );
    Fuzz::new("MemoryConfig (JSON)").cases(96).run(doc, |doc| {
        let Ok(cfg) = serde_json::from_str::<MemoryConfig>(&doc) else { return };
        block_on(async {
            let queue = TaskQueue::new(MemoryBackend::new(cfg));
            let ran = Ran::default();
            let pool = accept_all(WorkerPool::builder(&queue), "job", &ran).start().unwrap();
            run_one(&queue, &pool, "job", &ran).await;
        });
    });
}

#[test]
fn backoff_policy_answers_any_attempt_within_its_cap() {
    let input = (any::<bool>(), durations(), durations(), u32s(), any::<bool>());
    Fuzz::new("BackoffPolicy").cases(128).run(input, |(constant, a, b, attempt, jitter)| {
        let policy = if constant { BackoffPolicy::constant(a) } else { BackoffPolicy::exponential(a, b) };
        let policy = if jitter { policy.with_jitter() } else { policy };
        let json = serde_json::to_string(&policy).unwrap();
        assert_eq!(serde_json::from_str::<BackoffPolicy>(&json).unwrap(), policy);
        for n in [1, 2, attempt] {
            let _ = policy.delay(n);
        }
    });
}

#[test]
fn backoff_policy_from_json_answers_or_is_refused() {
    let doc = prop_oneof![
        json_integers().prop_map(|d| format!(r#"{{"kind":"constant","delay_ms":{d}}}"#)),
        (json_integers(), json_integers(), any::<bool>())
            .prop_map(|(i, m, j)| format!(r#"{{"kind":"exponential","initial_ms":{i},"max_ms":{m},"jitter":{j}}}"#)),
    ];
    Fuzz::new("BackoffPolicy (JSON)").cases(96).run((doc, u32s()), |(doc, attempt)| {
        let Ok(policy) = serde_json::from_str::<BackoffPolicy>(&doc) else { return };
        let _ = (policy.delay(1), policy.delay(attempt));
        // A task carrying the policy still runs.
        block_on(async {
            let queue = TaskQueue::memory();
            let ran = Ran::default();
            let pool = accept_all(WorkerPool::builder(&queue), "job", &ran).start().unwrap();
            let id = queue.submit(Task::new("job", &1).unwrap().backoff(policy)).await.unwrap();
            let state = settle(&queue, id, &ran, FINISHES_WITHIN, completed).await;
            assert!(completed(state, ran.count()), "{state:?}");
            pool.shutdown().await;
        });
    });
}

#[test]
fn unreadable_payloads_and_odd_kinds_dead_letter_instead_of_panicking() {
    Fuzz::new("Task::from_json_bytes").cases(96).run((names(), names()), |(kind, payload)| {
        block_on(async {
            let queue = TaskQueue::memory();
            let pool = WorkerPool::builder(&queue)
                .handler(kind.clone(), handler_fn(|_ctx: TaskContext, _n: u64| async { Ok::<_, TaskError>(()) }))
                .start();
            let Ok(pool) = pool else { return };
            let task = Task::from_json_bytes(kind, payload.into_bytes()).max_attempts(1);
            if let Ok(id) = queue.submit(task).await {
                let over = |s: Option<TaskState>, _| matches!(s, Some(TaskState::Dead | TaskState::Completed));
                let state = settle(&queue, id, &Ran::default(), FINISHES_WITHIN, over).await;
                assert!(over(state, 0), "{state:?}");
            }
            pool.shutdown().await;
        });
    });
}

/// The known bad inputs reported to the task-queue crate, kept as explicit cases.
mod known {
    use super::*;

    fn submit_and_run(task: Task) {
        block_on(async {
            let queue = TaskQueue::memory();
            let ran = Ran::default();
            let pool = accept_all(WorkerPool::builder(&queue), "job", &ran).start().unwrap();
            if let Ok(id) = queue.submit(task).await {
                let _ = settle(&queue, id, &ran, Duration::from_millis(200), completed).await;
            }
            pool.shutdown().await;
        });
    }

    #[test]
    fn task_delay_of_duration_max() {
        Fuzz::new("Task::delay").check(Duration::MAX, |d| submit_and_run(Task::new("job", &1).unwrap().delay(d)));
    }

    #[test]
    fn task_timeout_of_duration_max() {
        Fuzz::new("Task::timeout").check(Duration::MAX, |d| submit_and_run(Task::new("job", &1).unwrap().timeout(d)));
    }

    #[test]
    fn pool_poll_interval_of_duration_max() {
        Fuzz::new("WorkerPoolBuilder::poll_interval").check(Duration::MAX, |d| {
            block_on(async {
                let queue = TaskQueue::memory();
                let ran = Ran::default();
                let Ok(pool) = accept_all(WorkerPool::builder(&queue).poll_interval(d), "job", &ran).start() else {
                    return;
                };
                run_one(&queue, &pool, "job", &ran).await;
            });
        });
    }

    #[test]
    fn pool_config_with_zero_lease_zero_concurrency_or_late_heartbeat() {
        let cases = [
            PoolConfig { lease: Duration::ZERO, heartbeat: Duration::ZERO, ..PoolConfig::default() },
            PoolConfig { concurrency: 0, ..PoolConfig::default() },
            PoolConfig { heartbeat: Duration::from_secs(60), ..PoolConfig::default() },
        ];
        for cfg in cases {
            Fuzz::new("PoolConfig").check(cfg, |cfg| {
                block_on(async {
                    let queue = TaskQueue::memory();
                    let ran = Ran::default();
                    let Ok(pool) = accept_all(WorkerPool::builder(&queue).config(cfg), "job", &ran).start() else {
                        return;
                    };
                    run_one(&queue, &pool, "job", &ran).await;
                });
            });
        }
    }
}
