//! Key layout in Redis and the invalidation message format.

use serde::{Deserialize, Serialize};

/// Redis names of one cache: values under `{ns}v:`, leases under `{ns}l:`, per-key
/// invalidation versions under `{ns}g:`, the prefix-invalidation epoch at `{ns}epoch`,
/// metadata under `{ns}m:`, invalidation messages on `{ns}inval`, each instance's heartbeat
/// keys under `{ns}hb:{instance}:`.
#[derive(Debug, Clone)]
pub(crate) struct Names {
    pub(crate) values: String,
    pub(crate) leases: String,
    pub(crate) versions: String,
    pub(crate) epoch: String,
    pub(crate) meta: String,
    pub(crate) channel: String,
    pub(crate) beats: String,
}

/// `prefix` then `key`, in one allocation of the right size (`format!` costs about twice as
/// much, and this runs on every L2 read).
fn join(prefix: &str, key: &str) -> String {
    let mut s = String::with_capacity(prefix.len() + key.len());
    s.push_str(prefix);
    s.push_str(key);
    s
}

impl Names {
    pub(crate) fn new(ns: &str) -> Self {
        Names {
            values: format!("{ns}v:"),
            leases: format!("{ns}l:"),
            versions: format!("{ns}g:"),
            epoch: format!("{ns}epoch"),
            meta: format!("{ns}m:"),
            channel: format!("{ns}inval"),
            beats: format!("{ns}hb:"),
        }
    }
    pub(crate) fn value(&self, key: &str) -> String {
        join(&self.values, key)
    }
    pub(crate) fn lease(&self, key: &str) -> String {
        join(&self.leases, key)
    }
    pub(crate) fn version(&self, key: &str) -> String {
        join(&self.versions, key)
    }
    /// The prefix of instance `me`'s heartbeat keys (see `beats`).
    pub(crate) fn heartbeats(&self, me: &str) -> String {
        format!("{}{me}:", self.beats)
    }
}

/// A message on the invalidation channel (postcard-encoded).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Wire {
    /// Sender instance, so an instance ignores its own messages.
    pub(crate) from: String,
    pub(crate) kind: Kind,
    pub(crate) keys: Vec<String>,
}

/// What a [`Wire`] message says. Encoded as one byte: `Keys` and `Prefix` are the `false` and
/// `true` of the earlier `prefix: bool` field, so older instances still read them (and drop
/// the kinds they do not know).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Kind {
    /// These keys were invalidated.
    Keys,
    /// `keys[0]` is an invalidated prefix.
    Prefix,
    /// The lease of `keys[0]` was given up without a value: wake whoever waits for it.
    LeaseReleased,
    /// Sent by an instance to itself after its echo probe (`keys[0]` is the nonce).
    Barrier,
}

/// Escapes glob characters so a prefix matches literally in `SCAN MATCH`.
pub(crate) fn glob_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn wire_round_trips_and_globs_are_escaped() {
        let w = Wire { from: "a".into(), kind: Kind::Prefix, keys: vec!["user:".into()] };
        let b = postcard::to_allocvec(&w).unwrap();
        assert_eq!(postcard::from_bytes::<Wire>(&b).unwrap(), w);
        // The earlier format (`prefix: bool`) reads as Keys / Prefix.
        #[derive(Serialize)]
        struct Old {
            from: String,
            prefix: bool,
            keys: Vec<String>,
        }
        let old = postcard::to_allocvec(&Old { from: "a".into(), prefix: true, keys: vec!["user:".into()] }).unwrap();
        assert_eq!(postcard::from_bytes::<Wire>(&old).unwrap(), w);
        assert_eq!(glob_escape("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
