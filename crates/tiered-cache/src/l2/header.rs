//! The small versioned header in front of every L2 value.
//!
//! ```text
//! 0..2  magic  b"pC"        2     format version (2)   3  header length (38)
//! 4     codec id            5     flags (bit 0: negative entry, "not found")
//! 6..14 created-at (unix ms, LE)   14..22 soft expiry   22..30 hard expiry
//! 30..38 key fingerprint (rapidhash v3 of the cache key, LE; since version 2)
//! ```
//!
//! A reader accepts any format version whose header is at least as long as version 1's, and
//! skips bytes it does not know: a newer instance may append fields without breaking older
//! ones. Anything else (foreign bytes, truncation, another codec) is a [`DecodeError`].
//!
//! The key fingerprint makes an entry answer only for its own key: a reply that reaches the
//! wrong command (a client whose replies got out of step with its commands, decision 0049)
//! or an entry copied to another key is refused ([`DecodeError::WrongKey`]) instead of
//! serving one key's value for another. A version-1 entry has none and is read as before.

use crate::error::DecodeError;

/// Magic bytes at the start of every entry.
pub(crate) const MAGIC: [u8; 2] = *b"pC";
/// The format this version writes.
pub(crate) const FORMAT_VERSION: u8 = 2;
/// Length of a version-1 header: the least a reader accepts.
const V1_LEN: usize = 30;
/// Length of the header this version writes.
pub(crate) const HEADER_LEN: usize = 38;
const FLAG_NEGATIVE: u8 = 1;

/// Decoded header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) codec: u8,
    pub(crate) negative: bool,
    pub(crate) created_ms: u64,
    pub(crate) soft_ms: u64,
    pub(crate) hard_ms: u64,
    /// [`key_fingerprint`] of the key the entry was written for (`None` in a version-1 entry).
    pub(crate) key: Option<u64>,
}

/// The fingerprint of a cache key stored in its entries' headers: a portable hash whose
/// output is fixed across platforms and crate versions, so instances built apart agree.
#[inline]
pub(crate) fn key_fingerprint(key: &str) -> u64 {
    rapidhash::v3::rapidhash_v3(key.as_bytes())
}

impl Header {
    /// Writes the header into an empty buffer; the payload is appended after it.
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&MAGIC);
        out.push(FORMAT_VERSION);
        out.push(HEADER_LEN as u8);
        out.push(self.codec);
        out.push(if self.negative { FLAG_NEGATIVE } else { 0 });
        out.extend_from_slice(&self.created_ms.to_le_bytes());
        out.extend_from_slice(&self.soft_ms.to_le_bytes());
        out.extend_from_slice(&self.hard_ms.to_le_bytes());
        out.extend_from_slice(&self.key.unwrap_or(0).to_le_bytes());
    }

    /// Parses a header and returns it with the payload that follows. `key` is the
    /// [`key_fingerprint`] of the key that was read: an entry written for another key is
    /// [`DecodeError::WrongKey`].
    pub(crate) fn read(bytes: &[u8], expected_codec: u8, key: u64) -> Result<(Header, &[u8]), DecodeError> {
        if bytes.len() < 4 {
            return Err(DecodeError::Truncated(bytes.len()));
        }
        if bytes[0..2] != MAGIC {
            return Err(DecodeError::BadMagic);
        }
        let version = bytes[2];
        let len = usize::from(bytes[3]);
        if version == 0 || len < V1_LEN {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        if bytes.len() < len {
            return Err(DecodeError::Truncated(bytes.len()));
        }
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let header = Header {
            codec: bytes[4],
            negative: bytes[5] & FLAG_NEGATIVE != 0,
            created_ms: u64_at(6),
            soft_ms: u64_at(14),
            hard_ms: u64_at(22),
            key: (len >= HEADER_LEN).then(|| u64_at(30)),
        };
        if header.key.is_some_and(|k| k != key) {
            return Err(DecodeError::WrongKey);
        }
        if header.codec != expected_codec && !header.negative {
            return Err(DecodeError::CodecMismatch { found: header.codec, expected: expected_codec });
        }
        Ok((header, &bytes[len..]))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample() -> Header {
        Header { codec: 1, negative: false, created_ms: 10, soft_ms: 20, hard_ms: 30, key: Some(key_fingerprint("k")) }
    }

    const K: &str = "k";
    /// rapidhash v3 of `user:7`, as rapidhash 4.5.1 computed it when the format was fixed.
    const FINGERPRINT_USER_7: u64 = 0x7533_206d_6ae0_4246;

    #[test]
    fn codec_mismatch_is_detected() {
        let mut out = Vec::new();
        sample().write(&mut out);
        assert!(matches!(
            Header::read(&out, 2, key_fingerprint(K)).unwrap_err(),
            DecodeError::CodecMismatch { found: 1, expected: 2 }
        ));
    }

    #[test]
    fn newer_format_with_longer_header_is_still_read() {
        let mut out = Vec::new();
        sample().write(&mut out);
        out[2] = 2; // a future version
        out[3] = (HEADER_LEN + 4) as u8;
        out.extend_from_slice(&[9, 9, 9, 9]); // its extra field
        out.extend_from_slice(b"payload");
        let (h, payload) = Header::read(&out, 1, key_fingerprint(K)).unwrap();
        assert_eq!(h, sample());
        assert_eq!(payload, b"payload");
    }

    #[test]
    fn foreign_bytes_are_rejected() {
        assert!(matches!(
            Header::read(b"hello world, not ours, long enough", 1, 0).unwrap_err(),
            DecodeError::BadMagic
        ));
        assert!(matches!(Header::read(b"p", 1, 0).unwrap_err(), DecodeError::Truncated(1)));
    }

    #[test]
    fn an_entry_of_another_key_is_refused() {
        let mut out = Vec::new();
        sample().write(&mut out);
        assert!(matches!(Header::read(&out, 1, key_fingerprint("k2")).unwrap_err(), DecodeError::WrongKey));
        assert!(Header::read(&out, 1, key_fingerprint(K)).is_ok());
    }

    #[test]
    fn a_version_1_entry_has_no_fingerprint_and_is_read_for_any_key() {
        // Exactly what version 1 wrote: 30 bytes of header, then the payload.
        let mut out = vec![b'p', b'C', 1, 30, 1, 0];
        for v in [10u64, 20, 30] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(b"payload");
        let (h, payload) = Header::read(&out, 1, key_fingerprint("any")).unwrap();
        assert_eq!(h, Header { key: None, ..sample() });
        assert_eq!(payload, b"payload");
    }

    #[test]
    fn the_fingerprint_is_the_portable_rapidhash_v3() {
        // Fixed output: instances built apart (other platforms, later versions of this crate
        // or of rapidhash) must agree, or every entry would read as another key's.
        assert_eq!(key_fingerprint(""), rapidhash::v3::rapidhash_v3(b""));
        assert_eq!(key_fingerprint("user:7"), FINGERPRINT_USER_7);
    }

    proptest! {
        #[test]
        fn round_trip(codec in 0u8.., neg: bool, c: u64, s: u64, h: u64, key in ".{0,40}", payload in proptest::collection::vec(any::<u8>(), 0..64)) {
            let header = Header { codec, negative: neg, created_ms: c, soft_ms: s, hard_ms: h, key: Some(key_fingerprint(&key)) };
            let mut out = Vec::new();
            header.write(&mut out);
            out.extend_from_slice(&payload);
            let (back, rest) = Header::read(&out, codec, key_fingerprint(&key)).unwrap();
            prop_assert_eq!(back, header);
            prop_assert_eq!(rest, &payload[..]);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            let _ = Header::read(&bytes, 1, 0);
        }
    }
}
