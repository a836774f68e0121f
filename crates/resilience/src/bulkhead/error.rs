//! The bulkhead's refusal.

use std::sync::Arc;

use crate::error::Error;

/// Refused: the bulkhead was full and could not queue, or the wait expired.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bulkhead {name} is full")]
pub struct BulkheadFull {
    /// The bulkhead's name.
    pub name: Arc<str>,
}

impl<E> From<BulkheadFull> for Error<E> {
    fn from(e: BulkheadFull) -> Self {
        Error::BulkheadFull { name: e.name }
    }
}
