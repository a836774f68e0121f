#!/usr/bin/env bash
# Makes sure cargo with rustfmt and clippy is there; installs the stable toolchain through
# rustup when it is missing. Prints what it found.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"
if ! command -v cargo >/dev/null 2>&1; then
  if command -v rustup >/dev/null 2>&1; then
    echo "toolchain: installing stable with rustup"
    rustup toolchain install stable --profile minimal --component rustfmt,clippy
  else
    echo "toolchain: ERROR: no cargo and no rustup; install Rust (https://rustup.rs) first" >&2
    exit 1
  fi
fi
for comp in rustfmt clippy; do
  if ! cargo "${comp/rustfmt/fmt}" --version >/dev/null 2>&1; then
    echo "toolchain: adding $comp"
    rustup component add "$comp"
  fi
done
echo "toolchain: $(cargo --version)"
