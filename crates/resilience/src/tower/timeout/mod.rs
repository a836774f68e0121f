//! The timeout as tower middleware: [`TimeoutLayer`] makes [`Timeout`] services.

pub mod future;
mod layer;
mod service;

pub use layer::TimeoutLayer;
pub use service::Timeout;
