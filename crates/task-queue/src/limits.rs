//! Bounds on what the queue stores and adds to a clock, so that no setting or handler output
//! can overflow an `Instant`, a PostgreSQL `timestamptz`/`interval`, or be refused by a
//! PostgreSQL `text` column; and the default payload limit.

use std::time::Duration;

/// The longest delay the queue stores: a task's `delay`, a retry's backoff delay, a cleanup
/// age. Longer ones (up to `Duration::MAX`) are clamped to it: 100 years, which is "never" for
/// a queue and still fits an `Instant` and a PostgreSQL `timestamptz` added to now.
pub const MAX_DELAY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Default payload limit: 256 KiB.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// Longest accepted kind, in bytes (a kind is 1 to this many bytes, without NUL); also the
/// longest worker id.
pub const MAX_KIND_LEN: usize = 200;

/// The longest error message kept with a task (`TaskInfo::last_error`), in bytes; a longer
/// one is cut at a character boundary and marked as truncated.
pub const MAX_ERROR_LEN: usize = 8 * 1024;

/// `d`, at most [`MAX_DELAY`].
pub(crate) fn clamp_delay(d: Duration) -> Duration {
    d.min(MAX_DELAY)
}

/// An error message as it can be stored anywhere: NUL bytes (which PostgreSQL `text` refuses)
/// replaced by U+FFFD, and at most [`MAX_ERROR_LEN`] bytes. Returns `s` itself when it is
/// already fine (the common case: no copy).
pub(crate) fn error_text(s: String) -> String {
    if s.len() <= MAX_ERROR_LEN && !s.contains('\0') {
        return s;
    }
    let total = s.len();
    let mut out = s.replace('\0', "\u{FFFD}");
    if out.len() > MAX_ERROR_LEN {
        let suffix = format!(" … (truncated from {total} bytes)");
        let mut cut = MAX_ERROR_LEN.saturating_sub(suffix.len());
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
        out.push_str(&suffix);
    }
    out
}

/// True when `s` can be a name the queue stores (a kind, a worker id): 1 to `max` bytes, no NUL.
pub(crate) fn is_name(s: &str, max: usize) -> bool {
    !s.is_empty() && s.len() <= max && !s.contains('\0')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_replaces_nul_and_bounds_the_length() {
        assert_eq!(error_text("plain".into()), "plain");
        assert_eq!(error_text("a\0b".into()), "a\u{FFFD}b");
        let long = "é".repeat(MAX_ERROR_LEN); // two bytes each
        let cut = error_text(long);
        assert!(cut.len() <= MAX_ERROR_LEN, "{}", cut.len());
        assert!(cut.ends_with(&format!("(truncated from {} bytes)", 2 * MAX_ERROR_LEN)));
        let nul_long = "\0".repeat(2 * MAX_ERROR_LEN);
        let cut = error_text(nul_long);
        assert!(cut.len() <= MAX_ERROR_LEN && !cut.contains('\0'));
    }

    #[test]
    fn delays_are_clamped() {
        assert_eq!(clamp_delay(Duration::from_secs(5)), Duration::from_secs(5));
        assert_eq!(clamp_delay(Duration::MAX), MAX_DELAY);
    }
}
