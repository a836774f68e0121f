//! Level changes, passed to `on_change` callbacks.

use std::sync::Arc;

use serde::Serialize;

/// A level change, passed to `on_change` callbacks.
#[derive(Debug, Clone, Serialize)]
pub struct LevelChange {
    /// Level before.
    pub from: String,
    /// Level after.
    pub to: String,
    /// Index of the level after (0 = normal).
    pub to_index: usize,
    /// The pressure that caused it.
    pub pressure: f64,
}

pub(crate) type ChangeListener = Arc<dyn Fn(&LevelChange) + Send + Sync>;
