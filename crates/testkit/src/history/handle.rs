//! [`History`]: the shared, append-only record of a test's operations.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::time::Instant;

/// The operations of a test, in the order they were recorded. Clones share one record, so
/// every task of a load generator can hold its own handle.
///
/// See the [module docs](super) for what the [`Checker`](super::Checker) makes of it.
#[derive(Clone, Default)]
pub struct History {
    ops: Arc<Mutex<Vec<Op>>>,
}

/// One recorded operation.
#[derive(Debug, Clone)]
pub struct Op {
    /// The instance (process, client, cache layer) that ran it.
    pub instance: usize,
    /// The key it touched.
    pub key: String,
    /// What it did and what it returned.
    pub kind: OpKind,
    /// When the caller started it.
    pub start: Instant,
    /// When it returned to the caller.
    pub end: Instant,
}

/// What an [`Op`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpKind {
    /// A write of this version that returned `Ok`, confirmed everywhere (the other instances
    /// see it within the propagation bound).
    Write(u64),
    /// A write of this version that returned `Ok` but is applied on its own instance only for
    /// now (the shared tier was unreachable; it is propagated later). Judged like
    /// [`OpKind::Write`] except inside a pending-grace window
    /// ([`Checker::pending_grace`](super::Checker::pending_grace)).
    WritePending(u64),
    /// A read that returned this version (`None`: nothing, not cached).
    Read(Option<u64>),
    /// A caller-visible error of any operation.
    Error(String),
}

impl History {
    /// An empty history.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A write of `version` to `key` by `instance` that started at `start` and returned (Ok) at
    /// `end`.
    pub fn write(&self, instance: usize, key: &str, version: u64, start: Instant, end: Instant) {
        self.push(instance, key, OpKind::Write(version), start, end);
    }

    /// A write of `version` that returned Ok but is *pending*: applied on `instance` only so far,
    /// to be propagated to the others once the shared tier is reachable again (e.g. the cache's
    /// `Propagation::Pending`). It produces `version` like any write and binds `instance` at
    /// once (read-your-writes); other instances are excused from seeing it only within a
    /// [`Checker::pending_grace`](super::Checker::pending_grace) window, and otherwise judged
    /// as for [`write`](Self::write).
    pub fn write_pending(&self, instance: usize, key: &str, version: u64, start: Instant, end: Instant) {
        self.push(instance, key, OpKind::WritePending(version), start, end);
    }

    /// A read that returned `version` (`None`: nothing / not cached; never stale).
    pub fn read(&self, instance: usize, key: &str, version: Option<u64>, start: Instant, end: Instant) {
        self.push(instance, key, OpKind::Read(version), start, end);
    }

    /// A caller-visible error of any operation.
    pub fn error(&self, instance: usize, key: &str, what: &str, start: Instant, end: Instant) {
        self.push(instance, key, OpKind::Error(what.to_owned()), start, end);
    }

    /// The number of recorded operations.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// True when nothing was recorded.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// A copy of the recorded operations, in recording order.
    #[must_use]
    pub fn ops(&self) -> Vec<Op> {
        self.lock().clone()
    }

    fn push(&self, instance: usize, key: &str, kind: OpKind, start: Instant, end: Instant) {
        self.lock().push(Op { instance, key: key.to_owned(), kind, start, end });
    }

    // A test that panicked while recording leaves whole ops behind: keep them.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Op>> {
        self.ops.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl fmt::Debug for History {
    // Not the ops: a history may hold hundreds of thousands.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("History").field("len", &self.len()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}

    #[test]
    fn history_is_a_shareable_handle() {
        assert_send_sync::<History>();
    }

    #[test]
    fn clones_record_into_one_history_in_order() {
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(1);
        let history = History::new();
        assert!(history.is_empty());
        let other = history.clone();
        history.write(0, "k", 1, t0, t1);
        other.read(1, "k", None, t0, t1);
        other.error(2, "j", "timed out", t0, t1);
        history.write_pending(1, "k", 2, t0, t1);

        assert_eq!(history.len(), 4);
        let kinds: Vec<_> = history.ops().into_iter().map(|op| (op.instance, op.key, op.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                (0, "k".to_owned(), OpKind::Write(1)),
                (1, "k".to_owned(), OpKind::Read(None)),
                (2, "j".to_owned(), OpKind::Error("timed out".to_owned())),
                (1, "k".to_owned(), OpKind::WritePending(2)),
            ]
        );
        assert_eq!(format!("{history:?}"), "History { len: 4, .. }");
    }
}
