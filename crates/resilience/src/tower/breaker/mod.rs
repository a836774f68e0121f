//! The circuit breaker as tower middleware: [`BreakerLayer`] makes [`Breaker`] services.

pub mod future;
mod layer;
mod service;

pub use layer::BreakerLayer;
pub use service::Breaker;
