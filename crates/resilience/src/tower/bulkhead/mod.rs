//! The bulkhead as tower middleware: [`BulkheadLayer`] makes [`Bulkhead`] services.

pub mod future;
mod layer;
mod service;

pub use layer::BulkheadLayer;
pub use service::Bulkhead;
