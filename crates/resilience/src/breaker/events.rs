//! State-change events.

use std::sync::Arc;

use serde::Serialize;

use super::state::State;

/// Why the breaker changed state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Reason {
    /// The failure rate reached its threshold.
    FailureRate,
    /// The slow-call rate reached its threshold.
    SlowCallRate,
    /// The open duration elapsed.
    OpenDurationElapsed,
    /// Enough half-open probes succeeded.
    ProbesSucceeded,
    /// Half-open probes failed.
    ProbesFailed,
    /// An operator call (force open, force closed, disable, reset).
    Manual,
}

/// One state change, passed to every `on_state_change` callback.
#[derive(Debug, Clone, Serialize)]
pub struct StateChange {
    /// The breaker's name.
    #[serde(serialize_with = "ser_name")]
    pub name: Arc<str>,
    /// The state before.
    pub from: State,
    /// The state after.
    pub to: State,
    /// The generation after the change.
    pub generation: u64,
    /// Why.
    pub reason: Reason,
}

pub(crate) type Listener = Arc<dyn Fn(&StateChange) + Send + Sync>;

/// A listener held weakly (by a breaker, for a watcher that owns it).
pub(crate) type WeakListener = std::sync::Weak<dyn Fn(&StateChange) + Send + Sync>;

fn ser_name<S: serde::Serializer>(name: &Arc<str>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(name)
}
