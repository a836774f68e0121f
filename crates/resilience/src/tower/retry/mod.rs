//! Retries as tower middleware: [`RetryLayer`] makes [`Retry`] services.

pub mod future;
mod layer;
mod service;

pub use layer::RetryLayer;
pub use service::Retry;
