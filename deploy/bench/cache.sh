#!/usr/bin/env bash
# Query cache and rate limit benchmark on PostgreSQL (BENCH.md method; issue 13).
#   bare  GET /health/live (the baseline of every phase)
#   list  GET /api/items/articles?filter={"status":{"_eq":"published"}}&limit=20&sort=-id
#   one   GET /api/items/articles/{id of the 500th item}
# Phases:
#   cache-off   a server with TB_CACHE=false
#   cache-on    a server with the cache on (the default); also runs the two below
#   quiet       tenant B's list with no other load
#   noisy       tenant B's list while tenant A floods at ten times its limit (A's quota is set to
#               6,000/min = 100/s by a platform override; the flood is paced to about 1,000/s)
# Usage: deploy/bench/cache.sh   (BENCH_POSTGRES=postgres://superuser@host:port; BENCH_DURATION=10s)
set -euo pipefail
cd "$(dirname "$0")/../.."
OWNER="${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
results=$(mktemp -d)
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
DURATION="${BENCH_DURATION:-10s}"
cargo build --release --quiet
# shellcheck source=../lib/server.sh
. deploy/lib/server.sh
# shellcheck source=../lib/measure.sh
. deploy/lib/measure.sh

# shellcheck source=../lib/seed.sh
. deploy/lib/seed.sh
filter="filter=%7B%22status%22%3A%7B%22_eq%22%3A%22published%22%7D%7D&limit=20&sort=-id"
rows_for() {
  bare=("$base/health/live")
  list=("$base/api/items/articles?$filter" -H "Host: $1.localhost" -H "Authorization: Bearer $token")
  one=("$base/api/items/articles/$item500" -H "Host: $1.localhost" -H "Authorization: Bearer $token")
}
keep() { cat "$work/rows.txt" >>"$results/rows.txt"; cp "$work"/*.*.*.txt "$results/"; }

# cache_server CACHE NAME: a fresh server with TB_CACHE=CACHE, seeded, its rows measured as phase NAME.
cache_server() {
  export TB_CACHE=$1
  start_tenantbase target/release/tenantbase "${BENCH_PORT:-18779}" "${2//-/}" "$OWNER"
  seed acme
  rows_for acme
  warm_up bare list one
  measure_rows 2 "$2" bare list one
}

cache_server false cache-off
keep
_stop_tenantbase
cache_server true cache-on

seed noisy
noisy_token=$token
noisy_id=$(curl -sf "$base/api/tenants/noisy" -H "authorization: Bearer $root_token" | json '["data"]["id"]')
curl -sf -X PATCH "$base/api/tenants/$noisy_id" -H "authorization: Bearer $root_token" -H 'content-type: application/json' \
  -d '{"rate_limits":{"tenant_per_minute":6000,"caller_per_minute":6000}}' >/dev/null
seed quiet
rows_for quiet
measure_rows 2 quiet bare list
seconds=${DURATION%s}
FLOOD_PAUSE_MS=4 wrk -t1 -c4 -d"$((seconds * 4 + 5))s" -s deploy/bench/flood.lua \
  "$base/api/items/articles?$filter" -H "Host: noisy.localhost" -H "Authorization: Bearer $noisy_token" \
  >"$results/flood.txt" &
flood=$!
sleep 1
measure_rows 2 noisy bare list
wait "$flood"
keep
cp "$results"/*.txt "$work/"
report
echo
echo "tenant A's flood (limit 100/s):"
grep -E "Requests/sec|Non-2xx|requests in" "$results/flood.txt"
rm -rf "$results"
