//! Hedged requests as tower middleware: [`HedgeLayer`] makes [`Hedge`] services.

pub mod future;
mod layer;
mod service;

pub use layer::HedgeLayer;
pub use service::Hedge;
