//! A tokio runtime for one case.

use std::future::Future;

/// Runs `future` to completion on a fresh current-thread runtime with real time and I/O, the
/// way an application would; the runtime (and every task the case spawned) is dropped when it
/// returns. Call it inside a case: each case runs on a thread of its own.
///
/// # Panics
///
/// When the runtime cannot be built.
pub fn block_on<F: Future>(future: F) -> F::Output {
    match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt.block_on(future),
        Err(e) => panic!("cannot build a tokio runtime for a fuzz case: {e}"),
    }
}
