//! Settings of the in-memory backend.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::aging::Aging;
use crate::backend::WhenFull;

/// Settings of the in-memory backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryConfig {
    /// Most tasks waiting (pending or delayed, not counting retries) at once. Default 10,000.
    pub capacity: usize,
    /// Wait or refuse when full. Default: wait.
    pub when_full: WhenFull,
    /// Priority aging. Default: one second per level.
    pub aging: Aging,
    /// Finished tasks are kept this long for `status`. Default: 10 minutes.
    pub retention: Duration,
    /// About this many finished tasks are kept for `status` (each shard keeps its share, rounded
    /// up). Default: 10,000. They are kept as small records in their own map, apart from the
    /// live tasks; a larger number still costs memory and some cache misses when the oldest
    /// are purged.
    pub retention_max: usize,
    /// Independent shards, each with its own lock, so that producers and workers on different
    /// threads seldom wait for each other. A submit goes to a shard chosen per thread (by unique
    /// key when it has one); a worker leases from the shard whose next task ranks first, and
    /// never past a task another shard ranks earlier, so priority order and aging hold across
    /// shards except for tasks submitted while a worker chooses. 1 gives a single ordered
    /// queue. 0 (the default) means twice the available parallelism, at most 16.
    #[serde(default)]
    pub shards: usize,
}

impl Default for MemoryConfig {
    fn default() -> Self {
        Self {
            capacity: 10_000,
            when_full: WhenFull::Wait,
            aging: Aging::default(),
            retention: Duration::from_secs(600),
            retention_max: 10_000,
            shards: 0,
        }
    }
}
