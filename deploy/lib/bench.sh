# Sourced by the benchmarks under deploy/bench/: checks for wrk, builds the release binary, starts
# a throwaway server (server.sh) and loads the measuring functions (measure.sh).
#
#   start_bench NAME DEFAULT_PORT [POSTGRES_OWNER_URL]
#
# Honours BENCH_DURATION (default 10s) and BENCH_PORT.

start_bench() {
  local name=$1 default_port=$2 owner=${3:-}
  command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
  DURATION="${BENCH_DURATION:-10s}"
  cargo build --release --quiet
  # shellcheck source=server.sh
  . deploy/lib/server.sh
  start_tenantbase target/release/tenantbase "${BENCH_PORT:-$default_port}" "$name" "$owner"
  # shellcheck source=measure.sh
  . deploy/lib/measure.sh
}
