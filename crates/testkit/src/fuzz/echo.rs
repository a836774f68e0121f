//! Saying which input a case runs *before* it runs: a case that aborts the process (a stack
//! overflow, a double panic, an out-of-memory abort) cannot report afterwards.

use std::fmt::Debug;
use std::io::Write;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

/// Longest rendering of an input echoed before its case runs, in characters.
pub(crate) const ECHO_MAX: usize = 240;
/// Longest rendering of an input in a failure report, in characters.
pub(crate) const REPORT_MAX: usize = 1_500;
/// Size of the label buffer the allocator reads on its abort paths.
pub(crate) const LABEL_CAP: usize = 512;

// The current case's label, readable without allocating or locking (the allocator's abort
// paths print it). A torn read between two cases only garbles a diagnostic.
static LABEL: [AtomicU8; LABEL_CAP] = [const { AtomicU8::new(0) }; LABEL_CAP];
static LABEL_LEN: AtomicUsize = AtomicUsize::new(0);

/// `value`'s `Debug` form, cut to `max` characters (a 1 MiB string input stays one readable
/// line) with the full length noted.
pub(crate) fn render(value: &dyn Debug, max: usize) -> String {
    shorten(format!("{value:?}"), max)
}

/// `text` cut to `max` characters, with its full length noted.
pub(crate) fn shorten(text: String, max: usize) -> String {
    match text.char_indices().nth(max) {
        None => text,
        Some((cut, _)) => format!("{}… ({} bytes of Debug output in all)", &text[..cut], text.len()),
    }
}

/// Announces a case: stored for the abort paths and, unless `PERFSTACK_FUZZ_ECHO=0`, written
/// to stderr past libtest's capture (captured output is lost when the process aborts).
pub(crate) fn announce(label: &str, rendered: &str) {
    let line = format!("perfstack-testkit fuzz> {label}: {rendered}");
    set_label(&line);
    if enabled() {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(line.as_bytes());
        let _ = err.write_all(b"\n");
    }
}

fn enabled() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("PERFSTACK_FUZZ_ECHO").map_or(true, |v| v != "0"))
}

fn set_label(line: &str) {
    let mut end = line.len().min(LABEL_CAP);
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    for (slot, b) in LABEL.iter().zip(&line.as_bytes()[..end]) {
        slot.store(*b, Ordering::Relaxed);
    }
    LABEL_LEN.store(end, Ordering::Release);
}

/// Copies the current label into `out` and returns its length; allocates nothing.
pub(crate) fn copy_label(out: &mut [u8; LABEL_CAP]) -> usize {
    let len = LABEL_LEN.load(Ordering::Acquire).min(LABEL_CAP);
    for (o, slot) in out.iter_mut().zip(&LABEL[..len]) {
        *o = slot.load(Ordering::Relaxed);
    }
    len
}
