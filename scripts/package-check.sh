#!/usr/bin/env bash
# What crates.io would receive: for every published crate (publish not false), the file list of
# `cargo package` must hold no test data, no proptest regression files and nothing over 1 MiB
# (a crate ships src/, README.md, CHANGELOG.md, LICENSE and Cargo.toml; see `include` in its
# manifest). Then `cargo publish --dry-run` of all of them together.
#
#   scripts/package-check.sh        # fails with the offending files, per crate
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"

max_bytes=$((1024 * 1024))
# Folders that hold test data wherever they sit, and file types that are data, not code.
data_dirs='(^|/)(data|testdata|test-data|test_data|fixtures|snapshots|golden|corpus)/'
data_files='\.(proptest-regressions|json|jsonl|csv|tsv|rdb|aof|bin|dat|db|sqlite|gz|zst|tar|zip|log|svg|png)$'

# name<TAB>directory of every package whose publish is not false (cargo metadata: null = anywhere).
published=$(cargo metadata --no-deps --format-version 1 |
  jq -r '.packages[] | select(.publish == null or (.publish | length) > 0)
         | "\(.name)\t\(.manifest_path | sub("/Cargo.toml$"; ""))"' | sort)
if [ -z "$published" ]; then
  echo "package-check: ERROR: no published crate found by cargo metadata" >&2
  exit 1
fi

failed=0
while IFS=$'\t' read -r pkg dir; do
  list=$(cargo package -p "$pkg" --no-verify --list --allow-dirty)
  bad=""
  while IFS= read -r file; do
    [ -n "$file" ] || continue
    why=""
    case "$file" in
      # Written by cargo package itself, not taken from the tree.
      .cargo_vcs_info.json | Cargo.toml.orig | Cargo.lock) continue ;;
      *.proptest-regressions) why="proptest regressions" ;;
      tests/*.rs | tests/*/*.rs) ;;
      tests/*) why="test data under tests/" ;;
    esac
    if [ -z "$why" ] && [[ "$file" =~ $data_dirs ]]; then why="test data folder"; fi
    if [ -z "$why" ] && [[ "$file" != src/* ]] && [[ "$file" =~ $data_files ]]; then why="data file"; fi
    if [ -z "$why" ] && [ -f "$dir/$file" ]; then
      size=$(stat -c %s "$dir/$file")
      if [ "$size" -gt "$max_bytes" ]; then why="$size bytes, over 1 MiB"; fi
    fi
    if [ -n "$why" ]; then bad+="    ${dir#"$PWD"/}/$file ($why)"$'\n'; fi
  done <<<"$list"
  count=$(grep -c . <<<"$list" || true)
  if [ -n "$bad" ]; then
    printf 'package-check: FAIL %s would ship:\n%s' "$pkg" "$bad" >&2
    failed=1
  else
    echo "package-check: ok $pkg ($count files)"
  fi
done <<<"$published"

if [ "$failed" -ne 0 ]; then
  echo "package-check: FAILED: set include = [...] in the crate's Cargo.toml to ship only src/, README.md, CHANGELOG.md, LICENSE and Cargo.toml" >&2
  exit 1
fi

# A dry-run publish packages each crate, resolves its dependencies as crates.io would and builds
# it from the packaged files alone (so a file missing from `include` fails here). Only
# perfstack-resilience has no perfstack dependency: dry-run alone, the others would look for
# perfstack-resilience 0.1.0 on crates.io, where it is not yet. Dry-run together (cargo 1.90 or
# later), cargo resolves them against a local registry of the crates it just packaged, in
# dependency order, so every published crate is checked before any is on crates.io.
crates=$(cut -f1 <<<"$published" | sed 's/^/-p /' | tr '\n' ' ')
echo "package-check: cargo publish --dry-run $crates"
# shellcheck disable=SC2086 # one word per -p and crate name
if ! cargo publish --dry-run --allow-dirty $crates; then
  echo "package-check: FAILED: cargo publish --dry-run (output above)" >&2
  exit 1
fi
echo "package-check: all published crates package and build cleanly"
