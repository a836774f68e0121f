//! One obvious way to stack policies around an async call, in a fixed order.

mod policy;

pub use policy::{Pipeline, PipelineBuilder};
