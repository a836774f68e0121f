//! The handlers a pool runs: one [`Registered`] per task kind.

use std::collections::HashMap;
use std::sync::Arc;

use crate::backoff::Backoff;
use crate::handler::TaskHandler;

/// A handler registered for a kind, with the retry schedule that overrides the tasks' own.
#[derive(Debug, Clone)]
pub(super) struct Registered {
    pub(super) handler: Arc<dyn TaskHandler>,
    pub(super) backoff: Option<Arc<dyn Backoff>>,
}

/// Handlers by kind.
pub(super) type Handlers = HashMap<String, Registered>;
