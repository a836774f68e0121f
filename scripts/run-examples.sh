#!/usr/bin/env bash
# Builds and runs every example binary of perfstack-examples, each in quick mode and with a
# time limit; fails when one fails.
set -euo pipefail
cd "$(dirname "$0")/.."
limit="${PERFSTACK_EXAMPLE_TIMEOUT:-180}"
cargo build -q -p perfstack-examples --bins --all-features
target="${CARGO_TARGET_DIR:-$PWD/target}"
failed=0
for src in examples/src/bin/*.rs; do
  name="$(basename "$src" .rs)"
  echo "examples: running $name --quick"
  if ! timeout "$limit" "$target/debug/$name" --quick; then
    echo "examples: $name FAILED" >&2
    failed=1
  fi
done
[ "$failed" -eq 0 ] && echo "examples: all passed"
exit "$failed"
