//! [`HedgeLayer`]: a budgeted backup call for slow calls of the services it makes.

use tower_layer::Layer;

use super::service::Hedge;

/// Hedged requests for a service: a backup call (on a clone of the service, with a clone of
/// the request) after the hedge delay; the first success wins. Backups are budgeted by the
/// shared [`Hedge`](crate::Hedge)'s budget.
#[derive(Debug, Clone)]
pub struct HedgeLayer {
    hedge: crate::Hedge,
}

impl HedgeLayer {
    /// A layer for `hedge`.
    #[must_use]
    pub fn new(hedge: crate::Hedge) -> Self {
        Self { hedge }
    }
}

impl<S> Layer<S> for HedgeLayer {
    type Service = Hedge<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Hedge::new(inner, self.hedge.clone())
    }
}
