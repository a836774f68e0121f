//! The fallback as tower middleware: [`FallbackLayer`] makes [`Fallback`] services.

pub mod future;
mod layer;
mod service;

pub use layer::FallbackLayer;
pub use service::Fallback;
