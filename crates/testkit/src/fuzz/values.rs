//! Strategies for the values users pass by mistake, mixed with ordinary ones so that some
//! combinations build and the built object gets used.
//!
//! Each strategy picks an edge value three times in four and an ordinary random value
//! otherwise. Edge lists start with a plausible value, so shrinking moves towards it and a
//! reported input keeps only the values that matter.

use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::select;

/// 1 MiB, the size of the long strings in [`names`].
pub const MIB: usize = 1 << 20;

/// Durations: zero, 1 ns, ordinary ones, a day, a year, 2^32 ms, 2^40 s, `u32::MAX` s,
/// `u64::MAX` ns, `i64::MAX` s, `Duration::from_secs(u64::MAX)` and `Duration::MAX`; or a random
/// one (below 10 s, or anywhere).
pub fn durations() -> BoxedStrategy<Duration> {
    let edges = vec![
        Duration::from_secs(1),
        Duration::from_millis(100),
        Duration::from_millis(1),
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_micros(1),
        Duration::from_secs(60),
        Duration::from_secs(86_400),
        Duration::from_secs(365 * 86_400),
        Duration::from_millis(1 << 32),
        Duration::from_secs(1 << 40),
        Duration::from_secs(u64::from(u32::MAX)),
        Duration::from_nanos(u64::MAX),
        Duration::from_secs(i64::MAX.unsigned_abs()),
        Duration::from_secs(u64::MAX),
        Duration::MAX,
    ];
    prop_oneof![
        3 => select(edges),
        1 => (0_u64..10_000_000_000).prop_map(Duration::from_nanos),
        1 => (any::<u64>(), 0_u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
    ]
    .boxed()
}

/// `u32`: 0, 1, 2, 255, 256, 65 535, 65 536, `i32::MAX`, `u32::MAX - 1`, `u32::MAX`; or random.
pub fn u32s() -> BoxedStrategy<u32> {
    let edges = vec![10, 1, 0, 2, 255, 256, 65_535, 65_536, i32::MAX.unsigned_abs(), u32::MAX - 1, u32::MAX];
    prop_oneof![3 => select(edges), 1 => 0_u32..1_000, 1 => any::<u32>()].boxed()
}

/// `u64`: 0, 1, 2, `u32::MAX`, 2^32, 2^53, `i64::MAX`, `u64::MAX - 1`, `u64::MAX`; or random.
pub fn u64s() -> BoxedStrategy<u64> {
    let edges =
        vec![10, 1, 0, 2, u64::from(u32::MAX), 1 << 32, 1 << 53, i64::MAX.unsigned_abs(), u64::MAX - 1, u64::MAX];
    prop_oneof![3 => select(edges), 1 => 0_u64..1_000, 1 => any::<u64>()].boxed()
}

/// `usize`: 0, 1, 2, 1 024, `u32::MAX`, `isize::MAX`, `usize::MAX - 1`, `usize::MAX`; or random.
pub fn usizes() -> BoxedStrategy<usize> {
    let edges = vec![
        8,
        1,
        0,
        2,
        1024,
        usize::try_from(u32::MAX).unwrap_or(usize::MAX),
        isize::MAX.unsigned_abs(),
        usize::MAX - 1,
        usize::MAX,
    ];
    prop_oneof![3 => select(edges), 1 => 0_usize..1_000, 1 => any::<usize>()].boxed()
}

/// Any `f64` a setting may get: NaN, ±infinity, ±0, negatives, tiny and huge magnitudes,
/// subnormals, `f64::MAX`/`MIN`, values just past 1 and 100; or random.
pub fn f64s() -> BoxedStrategy<f64> {
    let edges = vec![
        1.0,
        0.5,
        0.0,
        -0.0,
        -1.0,
        2.0,
        100.0,
        100.000_001,
        1.000_000_1,
        1e-9,
        5e-324,
        f64::MIN_POSITIVE,
        f64::EPSILON,
        1e300,
        f64::MAX,
        f64::MIN,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    prop_oneof![3 => select(edges), 1 => -1_000.0..1_000.0_f64, 1 => any::<f64>()].boxed()
}

/// Ratios and fractions: in `[0, 1]`, just outside it, negative, above 1, NaN and ±infinity;
/// or random in `[0, 1]` or `[-2, 3]`.
pub fn ratios() -> BoxedStrategy<f64> {
    let edges = vec![
        0.1,
        0.5,
        0.0,
        -0.0,
        1.0,
        1e-9,
        0.001,
        0.999_999,
        1.000_000_1,
        1.5,
        2.0,
        100.0,
        -0.1,
        -1.0,
        1e308,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
    ];
    prop_oneof![3 => select(edges), 1 => 0.0..=1.0_f64, 1 => -2.0..3.0_f64].boxed()
}

/// Names, keys and free text: empty, blank, quotes, newlines, NUL, format specifiers, path
/// tricks, non-ASCII (accents, CJK, emoji, right-to-left override, BOM), 257 B, 64 KiB and
/// 1 MiB strings (ASCII and two-byte characters); or random printable text.
pub fn names() -> BoxedStrategy<String> {
    let edges: Vec<String> = [
        "name",
        "",
        " ",
        "a",
        "\"quoted\"",
        "it's",
        "line\nbreak",
        "cr\r\nlf",
        "tab\there",
        "nul\0byte",
        "\0",
        "{}",
        "%s%n",
        "back\\slash",
        "../../etc/passwd",
        "名前",
        "ünïcödé",
        "🚀🔥",
        "\u{202e}rtl",
        "\u{feff}bom",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain(["k".repeat(257), "k".repeat(64 * 1024), "x".repeat(MIB), "é".repeat(MIB / 2)])
    .collect();
    prop_oneof![3 => select(edges), 1 => "\\PC{0,24}"].boxed()
}
