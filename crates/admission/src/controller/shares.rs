//! [`PriorityShares`]: the share of the concurrency limit reserved for each priority level.

use serde::{Deserialize, Serialize};

use crate::{ConfigError, Priority};

/// The share of the concurrency limit reserved for each priority level: a level may use the
/// limit minus what every *higher* level reserves. So as load rises, `Low` hits its cap first,
/// then `Normal`, and so on up: shedding goes lowest level first, in strict order, and
/// `Critical` always has its reserve.
///
/// Default reserves (of the limit): Normal 5 %, High 10 %, Urgent 10 %, Critical 15 %, which
/// caps Low at 60 %, Normal at 65 %, High at 75 %, Urgent at 85 % and Critical at 100 %.
///
/// # Examples
///
/// ```
/// use perfstack_admission::{Priority, PriorityShares};
/// let s = PriorityShares::default();
/// assert_eq!(s.cap(Priority::Critical, 100), 100);
/// assert_eq!(s.cap(Priority::Low, 100), 60);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawShares")]
pub struct PriorityShares {
    reserved: [f64; 5],
}

/// The serialised form, checked by [`PriorityShares::new`] on the way in, so shares read from
/// configuration are refused exactly as the constructor refuses them.
#[derive(Deserialize)]
struct RawShares {
    reserved: [f64; 5],
}

impl TryFrom<RawShares> for PriorityShares {
    type Error = ConfigError;

    fn try_from(raw: RawShares) -> Result<Self, ConfigError> {
        Self::new(raw.reserved)
    }
}

impl Default for PriorityShares {
    fn default() -> Self {
        Self { reserved: [0.0, 0.05, 0.10, 0.10, 0.15] }
    }
}

impl PriorityShares {
    /// No reserves: every level may use the whole limit (no priority shedding).
    #[must_use]
    pub fn none() -> Self {
        Self { reserved: [0.0; 5] }
    }

    /// Reserves, lowest level first (the `Low` entry is ignored: nothing is below it).
    ///
    /// # Errors
    ///
    /// A reserve that is NaN, negative or ≥ 1, or reserves that leave `Low` no share.
    pub fn new(reserved: [f64; 5]) -> Result<Self, ConfigError> {
        let mut above_low = 0.0;
        for (i, r) in reserved.iter().enumerate() {
            if !r.is_finite() || *r < 0.0 || *r >= 1.0 {
                return Err(ConfigError::Share { priority: Priority::ALL[i], value: *r });
            }
            if i > 0 {
                above_low += r;
            }
        }
        if above_low >= 1.0 {
            return Err(ConfigError::SharesTooLarge(above_low));
        }
        Ok(Self { reserved: [0.0, reserved[1], reserved[2], reserved[3], reserved[4]] })
    }

    /// The fraction of the limit `priority` may use.
    #[must_use]
    pub fn fraction(&self, priority: Priority) -> f64 {
        1.0 - self.reserved[priority.index() + 1..].iter().sum::<f64>()
    }

    /// How many requests of `priority` may be in flight under `limit` (monotone in priority).
    /// `Critical` may always use the whole limit (at least 1); a lower level's cap may be 0
    /// when the limit is too small to cover the reserves above it (below 1 / reserve: at limit
    /// 1 with the default reserves). Whole slots cannot honour a fraction of one, so the
    /// controller is then work-conserving rather than strict: a level with cap 0 still runs
    /// when nothing else is in flight (and while it runs, `Critical` waits or is refused like
    /// everyone else). Strict zero caps would let an adaptive limit that fell to 1 under
    /// lower-level traffic refuse everything, receive no latency sample and never rise again.
    ///
    /// ```
    /// use perfstack_admission::{Priority, PriorityShares};
    /// let s = PriorityShares::default();
    /// assert_eq!((s.cap(Priority::Low, 1), s.cap(Priority::Critical, 1)), (0, 1));
    /// assert_eq!((s.cap(Priority::Low, 2), s.cap(Priority::Critical, 2)), (1, 2));
    /// ```
    #[must_use]
    pub fn cap(&self, priority: Priority, limit: usize) -> usize {
        let cap = ((limit as f64 * self.fraction(priority)).floor() as usize).min(limit);
        if priority == Priority::Critical {
            cap.max(1)
        } else {
            cap
        }
    }

    pub(crate) fn caps(&self, limit: usize) -> [usize; 5] {
        Priority::ALL.map(|p| self.cap(p, limit))
    }
}
