//! One obvious way to stack policies around an async call, in a fixed order.

mod builder;
mod handle;

pub use builder::PipelineBuilder;
pub use handle::Pipeline;
