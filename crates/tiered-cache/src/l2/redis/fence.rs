//! The write fence: the deadline, in Redis's clock, that every value write carries (see
//! `scripts`), so a write its caller gave up on can no longer land.

use std::time::Duration;

use fred::prelude::{Client, Error};

use super::scripts::{self, Script};

static CLOCK: Script = Script::new(scripts::CLOCK);

/// Deadlines for value writes in Redis's clock: this machine's wall clock plus the offset to
/// Redis's (measured at setup and with the heartbeats), plus the command timeout. A write the
/// caller has given up on (fred's timeout fired) can no longer land.
#[derive(Debug)]
pub(crate) struct Fence {
    offset_ms: std::sync::atomic::AtomicI64,
    window_ms: i64,
}

impl Fence {
    pub(super) fn new(window: Duration) -> Self {
        Fence {
            offset_ms: std::sync::atomic::AtomicI64::new(0),
            window_ms: i64::try_from(window.as_millis()).unwrap_or(i64::MAX).max(1),
        }
    }

    fn wall_ms() -> i64 {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
    }

    pub(super) fn deadline_ms(&self) -> i64 {
        Self::wall_ms()
            .saturating_add(self.offset_ms.load(std::sync::atomic::Ordering::Relaxed))
            .saturating_add(self.window_ms)
    }

    /// Measures the offset to Redis's clock through `client` (the midpoint of one round trip).
    pub(crate) async fn measure(&self, client: &Client) -> Result<(), Error> {
        let before = Self::wall_ms();
        let server: i64 = CLOCK.run(client, vec![], vec![]).await?;
        let after = Self::wall_ms();
        let mid = before.saturating_add(after.saturating_sub(before) / 2);
        self.offset_ms.store(server.saturating_sub(mid), std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }
}
