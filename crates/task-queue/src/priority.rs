//! The five priority levels (shared with the rest of perfstack) and how the queue indexes them.

pub use perfstack_resilience::Priority;

/// `Low` = 0 … `Critical` = 4.
pub(crate) fn level(p: Priority) -> u8 {
    u8::try_from(p.index()).unwrap_or(4)
}

/// The inverse of [`level`]; out-of-range values clamp to the nearest level.
pub(crate) fn from_level(l: i64) -> Priority {
    let i = usize::try_from(l.clamp(0, 4)).unwrap_or(0);
    Priority::from_index(i).unwrap_or(Priority::Critical)
}

/// A short lower-case name, used as a metric label.
pub(crate) fn label(p: Priority) -> &'static str {
    p.as_str()
}
