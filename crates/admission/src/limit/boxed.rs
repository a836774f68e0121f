//! A boxed limit is a limit, so a controller holds any algorithm behind one type.

use super::{Limit, Sample};

impl Limit for Box<dyn Limit> {
    fn limit(&self) -> usize {
        (**self).limit()
    }
    fn update(&mut self, sample: &Sample) -> usize {
        (**self).update(sample)
    }
    fn name(&self) -> &'static str {
        (**self).name()
    }
}
