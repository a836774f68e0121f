//! Adaptive throttling as tower middleware: [`ThrottleLayer`] makes [`Throttle`] services.

pub mod future;
mod layer;
mod service;

pub use layer::ThrottleLayer;
pub use service::Throttle;
