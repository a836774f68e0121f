//! Sliding windows of call outcomes with O(1) aggregation.

mod count;
mod sliding;
mod time;

pub(crate) use count::CountWindow;
pub(crate) use sliding::{clamp, Snapshot, Window, FAIL, SLOW};
pub(crate) use time::TimeWindow;
