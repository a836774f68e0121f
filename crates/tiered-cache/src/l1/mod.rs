//! L1: the in-process tier (quick_cache, sized in bytes), and what decides when it may be served and
//! what it keeps warm.

mod entry;
mod handle;
mod hot;
mod trust;

pub(crate) use entry::L1Entry;
pub(crate) use handle::{build, L1};
pub(crate) use hot::HotKeys;
pub(crate) use trust::Trust;
