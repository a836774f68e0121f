//! The submitting span is the parent of the task's span. Alone in its test binary: tracing
//! caches callsite interest per process, and tests without a subscriber running in parallel
//! would make it flaky.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use perfstack_task_queue::{handler_fn, Task, TaskContext, TaskId, TaskQueue, TaskState, WorkerPool};

async fn wait_for(queue: &TaskQueue, id: TaskId, state: TaskState) {
    for _ in 0..1_000_000 {
        if queue.status(id).await.unwrap().map(|i| i.state) == Some(state) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("task {id} never reached {state:?}");
}

use tracing::span::{Attributes, Id};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// (span name, parent span name) pairs.
type Seen = Vec<(String, Option<String>)>;

#[derive(Clone, Default)]
struct Parents(Arc<Mutex<Seen>>);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Parents {
    fn on_new_span(&self, _attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let span = ctx.span(id).unwrap();
        let parent = span.parent().map(|p| p.name().to_string());
        self.0.lock().push((span.name().to_string(), parent));
    }
}

#[tokio::test(start_paused = true)]
async fn the_submitting_span_is_the_parent_of_the_task_span() {
    let parents = Parents::default();
    let subscriber = tracing_subscriber::registry().with(parents.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let queue = TaskQueue::memory();
    let pool = WorkerPool::builder(&queue)
        .handler("traced", handler_fn(|_: TaskContext, (): ()| async { Ok(()) }))
        .start()
        .unwrap();
    let id = {
        let span = tracing::info_span!("http_request");
        let _e = span.enter();
        queue.submit(Task::new("traced", &()).unwrap()).await.unwrap()
    };
    wait_for(&queue, id, TaskState::Completed).await;
    pool.shutdown().await;
    let seen = parents.0.lock().clone();
    assert!(seen.contains(&("task".to_string(), Some("http_request".to_string()))), "{seen:?}");
}
