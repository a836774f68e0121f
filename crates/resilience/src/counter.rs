//! Counters registered on first use, labelled with the instance name.

use std::sync::{Arc, OnceLock};

/// A counter whose handle is registered the first time it counts: a path that never counts
/// builds no metric key, and every later count reuses the handle (no key building, no
/// allocation). Install the recorder before traffic.
#[derive(Debug)]
pub(crate) struct LazyCounter {
    metric: &'static str,
    name: Arc<str>,
    handle: OnceLock<metrics::Counter>,
}

impl LazyCounter {
    /// The counter `metric{name="<name>"}`.
    pub(crate) fn new(metric: &'static str, name: Arc<str>) -> Self {
        Self { metric, name, handle: OnceLock::new() }
    }

    /// The instance name in the label.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Adds one.
    #[inline]
    pub(crate) fn increment(&self) {
        self.handle.get_or_init(|| metrics::counter!(self.metric, "name" => self.name.clone())).increment(1);
    }
}
