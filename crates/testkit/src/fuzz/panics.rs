//! A panic hook that records every panic during a case, on any thread: a panic that tokio
//! catches in a spawned task (a worker loop that dies) never reaches the case's own
//! `catch_unwind`, but it is a failure all the same.

use std::cell::Cell;
use std::panic::PanicHookInfo;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once, PoisonError};

static INSTALL: Once = Once::new();
static ACTIVE: AtomicBool = AtomicBool::new(false);
static RECORD: Mutex<Option<Recorded>> = Mutex::new(None);

thread_local! {
    // Threads of the harness itself (a test reporting its failure by panicking) are not cases.
    static HARNESS: Cell<bool> = const { Cell::new(false) };
}

/// The first panic seen during a case, and how many there were.
#[derive(Debug, Clone)]
pub(crate) struct Recorded {
    pub(crate) thread: String,
    pub(crate) location: String,
    pub(crate) message: String,
    pub(crate) count: usize,
}

/// Installs the recording hook once, in front of the hook already there (which still prints).
pub(crate) fn install() {
    INSTALL.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            record(info);
            previous(info);
        }));
    });
}

fn record(info: &PanicHookInfo<'_>) {
    if !ACTIVE.load(Ordering::SeqCst) || HARNESS.with(Cell::get) {
        return;
    }
    let mut slot = RECORD.lock().unwrap_or_else(PoisonError::into_inner);
    match slot.as_mut() {
        Some(r) => r.count += 1,
        None => {
            *slot = Some(Recorded {
                thread: std::thread::current().name().unwrap_or("<unnamed>").to_owned(),
                location: info.location().map_or_else(|| "<unknown>".to_owned(), ToString::to_string),
                message: message(info.payload()),
                count: 1,
            });
        }
    }
}

/// The text of a panic payload.
pub(crate) fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}

/// Starts recording for a case.
pub(crate) fn begin() {
    *RECORD.lock().unwrap_or_else(PoisonError::into_inner) = None;
    ACTIVE.store(true, Ordering::SeqCst);
}

/// Stops recording and returns what was seen.
pub(crate) fn end() -> Option<Recorded> {
    ACTIVE.store(false, Ordering::SeqCst);
    RECORD.lock().unwrap_or_else(PoisonError::into_inner).take()
}

/// Marks the current thread as the harness's while it lives.
#[derive(Debug)]
pub(crate) struct HarnessThread {
    was: bool,
}

impl HarnessThread {
    pub(crate) fn enter() -> Self {
        Self { was: HARNESS.with(|h| h.replace(true)) }
    }
}

impl Drop for HarnessThread {
    fn drop(&mut self) {
        let was = self.was;
        HARNESS.with(|h| h.set(was));
    }
}
