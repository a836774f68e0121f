#!/usr/bin/env bash
# Runs perfstack's criterion benches and simulations, then writes docs/benchmarks.md and
# target/perfstack-bench/summary.json from what they measured (scripts never type figures).
#
#   scripts/bench.sh              # full mode: criterion's default sampling (tens of minutes)
#   scripts/bench.sh --quick      # quick mode for CI and a first look (a few minutes)
#   scripts/bench.sh --quick resilience admission   # only these bench files; other rows kept
#   scripts/bench.sh --quick peers-apalis           # the apalis peer (benches/peers-apalis)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"

mode=full
benches=()
for arg in "$@"; do
  case "$arg" in
    --quick) mode=quick ;;
    --full) mode=full ;;
    -h|--help) sed -n '2,9p' "$0"; exit 0 ;;
    -*) echo "bench: unknown option $arg" >&2; exit 2 ;;
    *) benches+=("$arg") ;;
  esac
done

bash scripts/ensure-toolchain.sh
bash scripts/services.sh

target="${CARGO_TARGET_DIR:-$root/target}"
export PERFSTACK_BENCH_OUT="$target/perfstack-bench"
export PERFSTACK_PLOT_DIR="$root/docs/plots"
mkdir -p "$PERFSTACK_BENCH_OUT" "$PERFSTACK_PLOT_DIR"
if [ -z "${PERFSTACK_TRACE_DIR:-}" ] && [ -d "$root/../shared/data/cache-traces" ]; then
  export PERFSTACK_TRACE_DIR="$root/../shared/data/cache-traces"
fi
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"

criterion_args=()
if [ "$mode" = quick ]; then
  export PERFSTACK_BENCH_QUICK=1
  criterion_args=(--warm-up-time 0.5 --measurement-time 1.5 --sample-size 10)
fi

# Three packages, run apart so their features never unify: perfstack-benches (criterion
# micro-benches, a production tokio), perfstack-sims (simulations on tokio's paused clock,
# whose "test-util" feature slows every tokio::time::Instant::now()) and
# perfstack-peers-admission (tower_governor, whose governor features would change the raw
# governor baseline of perfstack-benches; docs/decisions/0035-*).
micro=()
sims=()
peers_admission=()
peers=0
if [ "${#benches[@]}" -eq 0 ]; then
  peers=1
  # A full run starts from nothing, so no row outlives the bench that produced it.
  rm -rf "$PERFSTACK_BENCH_OUT/figures.jsonl" "$PERFSTACK_BENCH_OUT/sections"
  micro=(--benches)
  sims=(--benches)
  peers_admission=(--benches)
else
  for b in "${benches[@]}"; do
    if [ "$b" = peers-apalis ]; then
      peers=1
    elif grep -q "^name = \"$b\"" benches/sims/Cargo.toml; then
      sims+=(--bench "$b")
    elif grep -q "^name = \"$b\"" benches/peers-admission/Cargo.toml; then
      peers_admission+=(--bench "$b")
    elif grep -q "^name = \"$b\"" benches/Cargo.toml; then
      micro+=(--bench "$b")
    else
      echo "bench: no bench named $b in benches/Cargo.toml, benches/sims/Cargo.toml or benches/peers-admission/Cargo.toml" >&2
      exit 2
    fi
  done
fi

start=$(date +%s)
# Stamped on every figure this run records: a report merged from several runs says when each
# crate's rows were measured.
export PERFSTACK_BENCH_STAMP="$(date -u '+%Y-%m-%d %H:%M')"
if [ "${#micro[@]}" -gt 0 ]; then
  echo "bench: $mode mode, cargo bench -p perfstack-benches ${micro[*]}"
  cargo bench -p perfstack-benches "${micro[@]}" -- "${criterion_args[@]}"
fi
if [ "${#sims[@]}" -gt 0 ]; then
  echo "bench: $mode mode, cargo bench -p perfstack-sims ${sims[*]}"
  cargo bench -p perfstack-sims "${sims[@]}" -- "${criterion_args[@]}"
fi
if [ "${#peers_admission[@]}" -gt 0 ]; then
  echo "bench: $mode mode, cargo bench -p perfstack-peers-admission ${peers_admission[*]}"
  cargo bench -p perfstack-peers-admission "${peers_admission[@]}" -- "${criterion_args[@]}"
fi
# perfstack-task-queue against apalis 1.0 + apalis-postgres, in one process: its own cargo
# workspace (sqlx is a long build; docs/decisions/0045-*), built in a folder of the same target
# dir so later runs reuse it. SQLX_OFFLINE: apalis-postgres's query macros use their shipped
# metadata instead of the DATABASE_URL exported above.
if [ "$peers" = 1 ]; then
  echo "bench: $mode mode, peers-apalis (benches/peers-apalis, its own workspace)"
  # A failure here must not lose the rest of the run's report: warn, keep going.
  SQLX_OFFLINE=true CARGO_TARGET_DIR="$target/peers-apalis" \
    cargo run -q --release --manifest-path benches/peers-apalis/Cargo.toml ||
    echo "bench: WARNING: peers-apalis failed; its rows are missing from this report" >&2
fi
# Against reality: the admission example drives a PostgreSQL-backed axum handler on loopback at
# 2x its measured capacity (bounded in count and time). Always its full length: a quick run is
# too short for the uncontrolled backlog to show.
if [ "${#benches[@]}" -eq 0 ]; then
  echo "bench: admission example (loopback, real PostgreSQL handler)"
  section="$PERFSTACK_BENCH_OUT/sections/admission"
  mkdir -p "$section"
  if out="$(cargo run -q --release -p perfstack-examples --bin admission 2>&1)"; then
    {
      echo "### Against reality: the axum example on loopback"
      echo
      echo "\`cargo run --release -p perfstack-examples --bin admission\`, in the same run: goodput and latency"
      echo "(from the scheduled start) with and without admission, at 2× the handler's measured capacity."
      echo
      echo '```text'
      printf '%s\n' "$out"
      echo '```'
    } >"$section/90-reality.md"
  else
    echo "bench: admission example failed:" >&2
    printf '%s\n' "$out" >&2
  fi
fi
echo "bench: benches took $(( $(date +%s) - start )) s"

cargo run -q --release -p perfstack-benches --bin bench-report -- \
  --criterion-dir "$target/criterion" \
  --markdown "$root/docs/benchmarks.md" \
  --mode "$mode" \
  --date "$(date -u '+%Y-%m-%d %H:%M')"
