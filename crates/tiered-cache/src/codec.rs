//! How values become bytes in L2.

use serde::{de::DeserializeOwned, Serialize};

use crate::error::CodecError;

/// Turns values into bytes and back. The id is written into every entry header, so an
/// instance that reads an entry written with another codec sees a clean miss instead of
/// garbage.
///
/// # Examples
///
/// A codec for plain UTF-8 strings (no length prefix, no serde):
///
/// ```
/// use perfstack_tiered_cache::{Codec, CodecError, MemoryStore, TieredCache};
///
/// struct Utf8;
///
/// impl Codec<String> for Utf8 {
///     fn id(&self) -> u8 {
///         200
///     }
///     fn encode(&self, value: &String, out: &mut Vec<u8>) -> Result<(), CodecError> {
///         out.extend_from_slice(value.as_bytes());
///         Ok(())
///     }
///     fn decode(&self, bytes: &[u8]) -> Result<String, CodecError> {
///         String::from_utf8(bytes.to_vec()).map_err(CodecError::new)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let cache = TieredCache::<String>::builder("text").tier(MemoryStore::new().tier()).codec(Utf8).build().await?;
/// cache.set("greeting", "héllo".to_owned()).await?;
/// assert_eq!(cache.get("greeting").await?.as_deref(), Some("héllo"));
/// assert!(Utf8.decode(&[0xff]).is_err());
/// # Ok(()) }
/// ```
pub trait Codec<V>: Send + Sync + 'static {
    /// A stable id stored in the entry header (0–127 reserved for perfstack codecs).
    fn id(&self) -> u8;
    /// Appends the encoded value to `out`.
    ///
    /// # Errors
    ///
    /// When the value cannot be encoded.
    fn encode(&self, value: &V, out: &mut Vec<u8>) -> Result<(), CodecError>;
    /// Decodes a value from all of `bytes`.
    ///
    /// # Errors
    ///
    /// When the bytes are not a valid encoding, including a valid value followed by bytes it
    /// does not account for (an entry with extra bytes is corrupt, not a hit).
    fn decode(&self, bytes: &[u8]) -> Result<V, CodecError>;
}

/// The default codec: compact binary serde through `postcard` (id 1).
#[derive(Debug, Clone, Copy, Default)]
pub struct PostcardCodec;

impl<V: Serialize + DeserializeOwned> Codec<V> for PostcardCodec {
    fn id(&self) -> u8 {
        1
    }
    fn encode(&self, value: &V, out: &mut Vec<u8>) -> Result<(), CodecError> {
        let encoded = postcard::to_extend(value, std::mem::take(out)).map_err(CodecError::new)?;
        *out = encoded;
        Ok(())
    }
    fn decode(&self, bytes: &[u8]) -> Result<V, CodecError> {
        // `from_bytes` stops after the value and ignores the rest.
        let (value, rest) = postcard::take_from_bytes(bytes).map_err(CodecError::new)?;
        if !rest.is_empty() {
            return Err(CodecError::new(format!("{} bytes left over after the value", rest.len())));
        }
        Ok(value)
    }
}

/// JSON through `serde_json` (id 2): larger and slower, but readable in `redis-cli`.
///
/// Decoding rejects anything after the value except whitespace, which JSON allows around a
/// value (RFC 8259): the encoder never writes it, and it changes nothing in the value.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonCodec;

impl<V: Serialize + DeserializeOwned> Codec<V> for JsonCodec {
    fn id(&self) -> u8 {
        2
    }
    fn encode(&self, value: &V, out: &mut Vec<u8>) -> Result<(), CodecError> {
        serde_json::to_writer(out, value).map_err(CodecError::new)
    }
    fn decode(&self, bytes: &[u8]) -> Result<V, CodecError> {
        serde_json::from_slice(bytes).map_err(CodecError::new)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn postcard_and_json_round_trip() {
        let v = (String::from("héllo"), 42u64, vec![1u8, 2, 3]);
        for codec in [&PostcardCodec as &dyn Codec<_>, &JsonCodec] {
            let mut out = Vec::new();
            codec.encode(&v, &mut out).unwrap();
            assert_eq!(codec.decode(&out).unwrap(), v);
        }
    }

    #[test]
    fn postcard_rejects_bytes_left_after_the_value() {
        let mut out = Vec::new();
        Codec::<String>::encode(&PostcardCodec, &"v".to_owned(), &mut out).unwrap();
        for junk in [&b"junk"[..], b"\0", b" "] {
            let mut bytes = out.clone();
            bytes.extend_from_slice(junk);
            let r: Result<String, _> = Codec::decode(&PostcardCodec, &bytes);
            assert!(r.unwrap_err().to_string().contains("left over"), "{junk:?} after the value was accepted");
        }
    }

    #[test]
    fn json_rejects_trailing_data_but_not_trailing_whitespace() {
        let mut out = Vec::new();
        Codec::<String>::encode(&JsonCodec, &"v".to_owned(), &mut out).unwrap();
        for junk in [&b"junk"[..], b"\"x\"", b" 1", b"\0"] {
            let mut bytes = out.clone();
            bytes.extend_from_slice(junk);
            assert!(Codec::<String>::decode(&JsonCodec, &bytes).is_err(), "{junk:?} after the value was accepted");
        }
        // Whitespace around a JSON value is part of valid JSON text (RFC 8259).
        let mut bytes = out.clone();
        bytes.extend_from_slice(b" \n\t\r");
        assert_eq!(Codec::<String>::decode(&JsonCodec, &bytes).unwrap(), "v");
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let r: Result<(String, u64), _> = Codec::decode(&PostcardCodec, &[0xff, 0xff, 0xff]);
        assert!(r.is_err());
    }
}
