#!/usr/bin/env bash
# The demo: starts PostgreSQL and Redis when it can (scripts/services.sh), then runs the tour,
# one section per crate. If the services cannot be provided the tour still runs, on in-memory
# parts, and says so.
#
#   scripts/demo.sh           # the full tour
#   scripts/demo.sh --quick   # a short one (what CI runs)
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-toolchain.sh || exit 1
if ! bash scripts/services.sh; then
  echo "demo: services could not be provided; the tour falls back to in-memory parts"
fi
exec cargo run -q -p perfstack-examples --bin demo -- "$@"
