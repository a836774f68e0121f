//! A per-thread spare reference to a controller, so that an owned [`Permit`](super::Permit)
//! does not touch the `Arc`'s reference count on the admitted path.
//!
//! A dropped permit leaves its `Arc` here instead of decrementing it; the next owned permit of
//! the same controller on this thread takes it instead of incrementing. Both reference-count
//! operations are locked read-modify-writes (about 5 ns each on the 2-core bench machine, a
//! third of the admitted path's overhead); a thread-local `Cell` swap is a plain load and store.
//! The cost: a controller whose last handle is dropped stays allocated until a permit of another
//! controller drops on each thread that holds it as its spare, or that thread exits (at most
//! one controller per thread). So only controllers that own nothing but memory and metric
//! handles keep a spare: one with an overload signal (which may run a probe task, like
//! [`SchedulerDelay`](crate::overload::SchedulerDelay)) or a rate-limit store (a Redis
//! connection) is never kept, and its last handle and permit dropping stop those at once.
//!
//! The saving holds only when a permit drops on the thread that took it; one dropped on another
//! thread (a tokio worker that stole the task) replaces that thread's spare, and the next permit
//! on the first thread clones again.

use std::cell::Cell;
use std::sync::Arc;

use super::inner::Inner;

thread_local! {
    static SPARE: Cell<Option<Arc<Inner>>> = const { Cell::new(None) };
}

/// A reference to `inner`: this thread's spare if it is the same controller, else a clone.
#[inline]
pub(crate) fn take_or_clone(inner: &Arc<Inner>) -> Arc<Inner> {
    if !inner.keeps_spare {
        return Arc::clone(inner);
    }
    SPARE
        .try_with(|spare| match spare.take() {
            Some(own) if Arc::ptr_eq(&own, inner) => own,
            other => {
                spare.set(other);
                Arc::clone(inner)
            }
        })
        .unwrap_or_else(|_| Arc::clone(inner))
}

/// Keeps `inner` as this thread's spare (the previous spare, another controller, is dropped),
/// or drops it if the controller keeps no spare.
#[inline]
pub(crate) fn keep(inner: Arc<Inner>) {
    if !inner.keeps_spare {
        return;
    }
    // After thread-local destruction, `try_with` fails and drops the closure, so the reference too.
    let _ = SPARE.try_with(move |spare| drop(spare.replace(Some(inner))));
}
