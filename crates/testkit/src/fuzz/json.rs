//! JSON fragments for serde configurations: a config read from a file is user input too.
//!
//! Each strategy yields JSON *text* to splice into a document with `format!`, so the testkit
//! needs no JSON library: `format!(r#"{{"window": {}}}"#, d)`.

use proptest::prelude::*;
use proptest::sample::select;

use super::values::{u32s, u64s};

/// Integers as JSON: 0, negatives, `u32::MAX`, `u64::MAX`, one past it, a float, an exponent,
/// a huge literal, and wrong types (`null`, a string, `true`); or a random `u64`.
pub fn json_integers() -> BoxedStrategy<String> {
    let edges: Vec<String> = [
        "1",
        "0",
        "-1",
        "4294967295",
        "4294967296",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775808",
        "1.5",
        "1e3",
        "1e400",
        "99999999999999999999999999999",
        "null",
        "\"1\"",
        "true",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    prop_oneof![3 => select(edges), 1 => u64s().prop_map(|n| n.to_string())].boxed()
}

/// Floats as JSON: ordinary, negative, zero, tiny, huge, out of range (`1e400`), and wrong
/// types; JSON has no NaN or infinity, so those arrive as out-of-range literals or `null`.
pub fn json_floats() -> BoxedStrategy<String> {
    let edges: Vec<String> = [
        "0.5", "1", "0", "-0.0", "-1", "100", "100.0001", "1e-320", "1e308", "1e400", "-1e400", "null", "\"NaN\"",
        "true",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    prop_oneof![3 => select(edges), 1 => (-1e6..1e6_f64).prop_map(|f| f.to_string())].boxed()
}

/// `std::time::Duration` as serde writes it (`{"secs": s, "nanos": n}`), with absurd seconds,
/// nanoseconds of a second or more (which overflow when normalised), the sequence form, and
/// wrong shapes.
pub fn json_durations() -> BoxedStrategy<String> {
    let edges: Vec<String> = [
        r#"{"secs":1,"nanos":0}"#,
        r#"{"secs":0,"nanos":0}"#,
        r#"{"secs":0,"nanos":1}"#,
        r#"{"secs":18446744073709551615,"nanos":999999999}"#,
        r#"{"secs":18446744073709551615,"nanos":1000000000}"#,
        r#"{"secs":0,"nanos":4294967295}"#,
        r#"{"secs":1099511627776,"nanos":0}"#,
        r#"{"secs":-1,"nanos":0}"#,
        r#"{"secs":1}"#,
        r#"{}"#,
        "[1,0]",
        "[18446744073709551615,999999999]",
        "1",
        "null",
        "\"1s\"",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    prop_oneof![
        3 => select(edges),
        1 => (u64s(), u32s()).prop_map(|(s, n)| format!(r#"{{"secs":{s},"nanos":{n}}}"#)),
    ]
    .boxed()
}

/// A JSON string literal of `text` (quotes, backslashes and control characters escaped).
#[must_use]
pub fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
