//! The workspace layout rules of docs/architecture.md ("Layout inside a crate", "Dependency rules"), checked.
//!
//! Line-based on purpose (no parser dependency): each rule scans the text of `crates/*/src/**.rs`
//! or `crates/*/Cargo.toml` and reports every offence as `path:line: what`, so one run lists
//! everything to fix. The scanners are unit-tested below on small strings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::path::{Path, PathBuf};

/// Files under `src/` stay at or under this many lines.
const MAX_LINES: usize = 450;

/// The only perfstack crates another crate may name in `[dependencies]` (docs/architecture.md,
/// "Dependency rules"). `perfstack-testkit` is a dev-dependency only; examples and benches live
/// outside `crates/` and may use anything.
const SHARED_SIBLINGS: &[&str] = &["perfstack-resilience"];

// ---- the rules, over the workspace ----

#[test]
fn mod_rs_files_declare_and_reexport_only() {
    let offences: Vec<String> = source_files()
        .iter()
        .filter(|path| path.file_name().is_some_and(|name| name == "mod.rs"))
        .flat_map(|path| {
            let text = read(path);
            mod_rs_logic(&text).into_iter().map(move |(line, what)| {
                format!("{}:{line}: {what} in a mod.rs (move it to a file of its own)", shown(path))
            })
        })
        .collect();
    assert_none(&offences, "mod.rs files declare (mod), re-export (pub use) and document; no logic");
}

#[test]
fn source_files_stay_under_the_line_limit() {
    let offences: Vec<String> = source_files()
        .iter()
        .filter_map(|path| {
            let lines = read(path).lines().count();
            (lines > MAX_LINES)
                .then(|| format!("{}:{}: {lines} lines, over the {MAX_LINES}-line limit", shown(path), MAX_LINES + 1))
        })
        .collect();
    assert_none(&offences, "files under crates/*/src stay at or under 450 lines (split by job)");
}

#[test]
fn source_files_open_with_a_line_saying_their_job() {
    let offences: Vec<String> = source_files()
        .iter()
        .filter(|path| !opens_with_doc_line(path.ends_with("src/lib.rs"), &read(path)))
        .map(|path| format!("{}:1: does not open with a one-line `//!` saying its job", shown(path)))
        .collect();
    assert_none(&offences, "every file under crates/*/src opens with a `//!` line");
}

#[test]
fn crates_depend_only_on_shared_siblings() {
    let mut offences = Vec::new();
    for manifest in crate_dirs().iter().map(|dir| dir.join("Cargo.toml")) {
        for (line, sibling) in sibling_dependencies(&read(&manifest)) {
            if !SHARED_SIBLINGS.contains(&sibling.as_str()) {
                offences.push(format!(
                    "{}:{line}: depends on `{sibling}`; a crate may use only {SHARED_SIBLINGS:?} \
                     (perfstack-testkit as a dev-dependency)",
                    shown(&manifest)
                ));
            }
        }
    }
    assert_none(&offences, "dependency rules of docs/architecture.md");
}

/// The constant above and the rule it enforces stay in step.
#[test]
fn the_dependency_rule_is_the_documented_one() {
    let doc = read(&root().join("docs/architecture.md"));
    let rules = doc.split("## Dependency rules").nth(1).expect("docs/architecture.md has '## Dependency rules'");
    let rules = rules.split("\n## ").next().unwrap_or(rules);
    for sibling in SHARED_SIBLINGS.iter().chain(&["perfstack-testkit"]) {
        assert!(
            rules.contains(&format!("`{sibling}`")),
            "docs/architecture.md's dependency rules no longer name {sibling}"
        );
    }
}

fn assert_none(offences: &[String], rule: &str) {
    assert!(offences.is_empty(), "{rule} (docs/architecture.md):\n{}", offences.join("\n"));
}

// ---- the files ----

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap()
}

fn crate_dirs() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = fs::read_dir(root().join("crates"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|dir| dir.join("Cargo.toml").is_file())
        .collect();
    assert!(dirs.len() >= 2, "no crates found under {}", root().join("crates").display());
    dirs.sort();
    dirs
}

/// Every `.rs` file under `crates/*/src`, sorted.
fn source_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    for dir in crate_dirs() {
        walk(&dir.join("src"), &mut files);
    }
    files.sort();
    files
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The path from the workspace root, as an editor or terminal opens it with `:line`.
fn shown(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

// ---- the scanners ----

/// Lines (1-based) of a `mod.rs` that hold logic: an `impl` block, or a function with a body
/// (trait methods with a default body included; signatures ending in `;` are fine).
fn mod_rs_logic(source: &str) -> Vec<(usize, &'static str)> {
    let lines: Vec<&str> = source.lines().collect();
    let mut in_comment = false;
    let mut found = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let item = item_after_prefixes(code_of(line, &mut in_comment));
        if ["impl ", "impl<"].iter().any(|start| item.starts_with(start)) {
            found.push((i + 1, "an impl block"));
        } else if item.starts_with("fn ") && fn_has_body(item, &lines[i + 1..], in_comment) {
            found.push((i + 1, "a function with a body"));
        }
    }
    found
}

/// The code of one line: without `//` comments and without `/* */` comments that open a line.
fn code_of<'a>(line: &'a str, in_comment: &mut bool) -> &'a str {
    let mut code = line.trim();
    if *in_comment {
        match code.find("*/") {
            Some(end) => {
                *in_comment = false;
                code = code[end + 2..].trim();
            }
            None => return "",
        }
    }
    if let Some(rest) = code.strip_prefix("/*") {
        match rest.find("*/") {
            Some(end) => code = rest[end + 2..].trim(),
            None => {
                *in_comment = true;
                return "";
            }
        }
    }
    code.find("//").map_or(code, |start| code[..start].trim_end())
}

/// An item without its attributes, visibility and qualifiers: `#[inline] pub(crate) const unsafe
/// fn f()` gives `fn f()`.
fn item_after_prefixes(mut item: &str) -> &str {
    loop {
        item = item.trim_start();
        let next = if item.starts_with("#[") {
            after_closing(item, '[', ']')
        } else if item.starts_with("pub(") {
            after_closing(item, '(', ')')
        } else if let Some(abi) = item.strip_prefix('"') {
            abi.split_once('"').map(|(_, rest)| rest) // extern "C" fn
        } else {
            ["pub ", "const ", "async ", "unsafe ", "default ", "extern "]
                .iter()
                .find_map(|word| item.strip_prefix(word))
        };
        match next {
            Some(rest) => item = rest,
            None => return item,
        }
    }
}

/// The text after the bracket that closes the first `open` of `text`.
fn after_closing(text: &str, open: char, close: char) -> Option<&str> {
    let mut depth = 0;
    text.char_indices()
        .find(|&(_, c)| {
            depth += i32::from(c == open) - i32::from(c == close);
            c == close && depth == 0
        })
        .map(|(at, _)| &text[at + 1..])
}

/// Whether the function whose signature starts at `first` (continued on `rest`) has a body:
/// the signature ends at the first `{` (a body) or `;` (none) outside brackets.
fn fn_has_body(first: &str, rest: &[&str], mut in_comment: bool) -> bool {
    let mut depth = 0i32;
    for code in std::iter::once(first).chain(rest.iter().map(|line| code_of(line, &mut in_comment))) {
        for c in code.chars() {
            match c {
                '(' | '[' => depth += 1,
                ')' | ']' => depth -= 1,
                '{' if depth == 0 => return true,
                ';' if depth == 0 => return false,
                _ => {}
            }
        }
    }
    false
}

/// Whether a source file opens with a `//!` line. A `lib.rs` may instead open with its README
/// as crate docs, whose first line says the crate's job.
fn opens_with_doc_line(is_lib: bool, source: &str) -> bool {
    let first = source.lines().next().unwrap_or("").trim();
    first.starts_with("//!") || (is_lib && first == r#"#![doc = include_str!("../README.md")]"#)
}

/// The perfstack crates a manifest names outside its dev-dependencies, with their lines: in
/// `[dependencies]`, `[build-dependencies]`, their `[target.'…'.…]` forms, as keys, dotted keys,
/// `[dependencies.perfstack-x]` tables or renamed with `package = "perfstack-x"`.
fn sibling_dependencies(manifest: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut in_dependencies = false;
    for (i, line) in manifest.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(header) = line.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            let header = header.trim();
            let after = header.rfind("dependencies").map(|at| &header[at + "dependencies".len()..]);
            in_dependencies = after.is_some() && !header.contains("dev-dependencies");
            let table = after.and_then(|rest| rest.strip_prefix('.'));
            if let Some(name) = table.filter(|_| in_dependencies).map(|name| name.trim_matches('"')) {
                if name.starts_with("perfstack-") {
                    found.push((i + 1, name.to_string()));
                }
            }
            continue;
        }
        if !in_dependencies {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let key = key.split('.').next().unwrap_or("").trim().trim_matches('"');
        let package = value
            .match_indices("package")
            .find_map(|(at, word)| value[at + word.len()..].trim_start().strip_prefix('='))
            .and_then(|rest| rest.split('"').nth(1));
        if let Some(name) = package.or(Some(key)).filter(|name| name.starts_with("perfstack-")) {
            found.push((i + 1, name.to_string()));
        }
    }
    found
}

// ---- the scanners, on small strings ----

#[test]
fn declarations_reexports_docs_and_signature_only_traits_pass() {
    let source = r#"//! Breakers.
//!
//! ```
//! fn main() { let b = Breaker::new(); }
//! ```
mod builder;
#[cfg(test)]
mod tests;
pub use builder::BreakerBuilder;
pub(crate) use handle::{Breaker, BreakerState as State};
/* fn commented_out() {
   impl Foo {} */
/// A clock: signatures only, even over several lines or with arrays.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> u64; // { not a body }
    fn fill(&self, buf: [u8; 4])
        -> [u8; 4];
    unsafe fn raw<const N: usize>(&self) -> *const u8
    where
        Self: Sized;
}
pub type Callback = fn(u64) -> u64;
pub const IMPLS: usize = 3;
"#;
    assert_eq!(mod_rs_logic(source), vec![]);
}

#[test]
fn functions_with_bodies_and_impl_blocks_fail_with_their_line() {
    let source = "//! Logic.
pub fn build() -> u32 {
    1
}
impl Breaker {
}
impl<T: Clone> From<T> for Wrapper<T> {}
unsafe impl Send for Raw {}
#[inline] pub(crate) const fn tiny() -> u8 { 0 }
pub(in crate::breaker) async fn long(
    a: [u8; 2],
) -> u8 {
    a[0]
}
pub trait Named {
    fn name(&self) -> &str { \"breaker\" }
}
#[cfg(test)]
mod tests {
    #[test]
    fn inline_test() {}
}
extern \"C\" fn callback() {}
";
    assert_eq!(
        mod_rs_logic(source),
        vec![
            (2, "a function with a body"),
            (5, "an impl block"),
            (7, "an impl block"),
            (8, "an impl block"),
            (9, "a function with a body"),
            (10, "a function with a body"),
            (16, "a function with a body"),
            (21, "a function with a body"),
            (23, "a function with a body"),
        ]
    );
}

#[test]
fn the_first_line_must_be_a_doc_line() {
    assert!(opens_with_doc_line(false, "//! Retry with backoff.\nuse std::time::Duration;\n"));
    assert!(!opens_with_doc_line(false, "use std::time::Duration;\n//! Too late.\n"));
    assert!(!opens_with_doc_line(false, "#![allow(clippy::unwrap_used)]\n//! Tests.\n"));
    assert!(!opens_with_doc_line(false, "/// An item doc is not a file doc.\npub struct A;\n"));
    assert!(!opens_with_doc_line(false, ""));
    assert!(opens_with_doc_line(true, "#![doc = include_str!(\"../README.md\")]\n#![deny(missing_docs)]\n"));
    assert!(!opens_with_doc_line(false, "#![doc = include_str!(\"../README.md\")]\n"));
}

#[test]
fn only_non_dev_perfstack_dependencies_are_listed() {
    let manifest = r#"[package]
name = "perfstack-admission"

[features]
sim = ["perfstack-tiered-cache/redis"]

[dependencies]
perfstack-resilience = { workspace = true, features = ["tower"] }
tokio = { workspace = true }
perfstack-task-queue.workspace = true
cache = { version = "0.1", features = ["package-x"], package = "perfstack-tiered-cache" } # renamed
# perfstack-admission = { workspace = true }

[target.'cfg(target_os = "linux")'.dependencies]
perfstack-testkit = { workspace = true }

[dev-dependencies]
perfstack-testkit = { workspace = true }
perfstack-tiered-cache = { workspace = true }

[target.'cfg(unix)'.dev-dependencies]
perfstack-admission = { workspace = true }

[dependencies.perfstack-examples]
workspace = true

[build-dependencies]
"perfstack-benches" = { path = "../../benches" }

[lints]
workspace = true
"#;
    let found = sibling_dependencies(manifest);
    let found: Vec<(usize, &str)> = found.iter().map(|(line, name)| (*line, name.as_str())).collect();
    assert_eq!(
        found,
        [
            (8, "perfstack-resilience"),
            (10, "perfstack-task-queue"),
            (11, "perfstack-tiered-cache"),
            (15, "perfstack-testkit"),
            (24, "perfstack-examples"),
            (28, "perfstack-benches"),
        ]
    );
}
