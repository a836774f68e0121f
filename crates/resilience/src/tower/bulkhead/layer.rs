//! [`BulkheadLayer`]: caps concurrent calls across every service it makes.

use tower_layer::Layer;

use super::service::Bulkhead;

/// Caps concurrent calls across every clone of the service with a shared
/// [`Bulkhead`](crate::Bulkhead).
///
/// A free slot is taken without allocation; when full, the call waits in the bulkhead's queue
/// (boxed future) or is refused at once.
#[derive(Debug, Clone)]
pub struct BulkheadLayer {
    bulkhead: crate::Bulkhead,
}

impl BulkheadLayer {
    /// A layer for `bulkhead`.
    #[must_use]
    pub fn new(bulkhead: crate::Bulkhead) -> Self {
        Self { bulkhead }
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = Bulkhead<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Bulkhead::new(inner, self.bulkhead.clone())
    }
}
