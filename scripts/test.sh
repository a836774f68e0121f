#!/usr/bin/env bash
# The one test command: makes sure PostgreSQL and Redis are up (scripts/services.sh), then runs
# every test of the workspace (unit, integration, doc tests) with services required, so a test
# that cannot reach a service fails instead of skipping.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh -p perfstack-testkit   # extra arguments go to cargo test
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-toolchain.sh
bash scripts/services.sh

export PERFSTACK_REQUIRE_SERVICES=1
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"

echo "test: cargo test --workspace --all-features $*"
cargo test --workspace --all-features --no-fail-fast "$@"
