//! Names that no other test, process or earlier run uses.

use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A lowercase identifier `<pid>_<counter>_<random>`: unique among the tests of a process and
/// across processes running at once; safe in SQL identifiers and Redis keys.
pub(crate) fn unique_suffix() -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let r: u32 = rand::random();
    format!("{}_{}_{:08x}", std::process::id(), n, r)
}

/// The current test's name reduced to `[a-z0-9_]`, at most 24 characters, for readable names.
pub(crate) fn test_tag() -> String {
    let name = std::thread::current().name().unwrap_or("t").to_owned();
    let last = name.rsplit("::").next().unwrap_or("t");
    let tag: String =
        last.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).take(24).collect();
    if tag.is_empty() {
        "t".to_owned()
    } else {
        tag
    }
}
