#!/usr/bin/env bash
# Speed and memory on both databases (BENCH.md method; issue 14): the rows of the comparison with
# Directus 11.3.5, on the same binary and defaults a user runs.
#   bare    GET /health/live (the baseline of every phase)
#   list    GET /api/items/articles?filter={"status":{"_eq":"published"}}&limit=20&sort=-id
#   one     GET /api/items/articles/{id of the 500th item}
#   create  POST /api/items/articles, one ~500-byte item (measured after the reads: it grows the data)
# Phases, each on a fresh server and database with BENCH.md's 1,000 items:
#   sqlite, postgres                  the defaults (query cache on: repeated reads are cache hits)
#   sqlite-nocache, postgres-nocache  TB_CACHE=false, so every read reaches the database
# On PostgreSQL each row also reports the CPU of the PostgreSQL processes per request. Memory per
# phase: RSS idle (after start and seeding), peak under the rows (VmHWM, reset after seeding), and
# RSS after a burst of 200 logins (8 at a time) once it has settled for 3 s.
# Usage: deploy/bench/speed.sh   (BENCH_POSTGRES=postgres://superuser@host:port; BENCH_DURATION=10s;
#   BENCH_PHASES="sqlite postgres" to run some phases only; BENCH_BINARY=path to measure another
#   build, such as the one before a change)
set -euo pipefail
cd "$(dirname "$0")/../.."
OWNER="${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
PHASES="${BENCH_PHASES:-sqlite sqlite-nocache postgres postgres-nocache}"
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }
DURATION="${BENCH_DURATION:-10s}"
results=$(mktemp -d)
BINARY="${BENCH_BINARY:-target/release/tenantbase}"
[ -n "${BENCH_BINARY:-}" ] || cargo build --release --quiet
# shellcheck source=../lib/server.sh
. deploy/lib/server.sh
# shellcheck source=../lib/measure.sh
. deploy/lib/measure.sh
# shellcheck source=../lib/seed.sh
. deploy/lib/seed.sh

mib() { echo $(($1 / 1024)); }

# phase NAME: a fresh server for NAME (database and cache from the name), seeded and measured.
phase() {
  local name=$1 owner="" idle
  case $name in postgres*) owner=$OWNER ;; esac
  case $name in *-nocache) export TB_CACHE=false ;; *) export TB_CACHE=true ;; esac
  if [ -n "$owner" ]; then export DB_CPU=postgres; else unset DB_CPU; fi
  start_tenantbase "$BINARY" "${BENCH_PORT:-18780}" speed "$owner"
  seed acme
  sleep 2
  idle=$(_rss_kb)
  # The peak under the rows, not the seeding's logins: reset VmHWM to the current RSS.
  echo 5 >"/proc/$server/clear_refs"
  bare=("$base/health/live")
  list=("$base/api/items/articles?filter=%7B%22status%22%3A%7B%22_eq%22%3A%22published%22%7D%7D&limit=20&sort=-id"
    -H "Host: acme.localhost" -H "Authorization: Bearer $token")
  one=("$base/api/items/articles/$item500" -H "Host: acme.localhost" -H "Authorization: Bearer $token")
  create=("$base/api/items/articles" -s deploy/bench/create.lua -H "Host: acme.localhost" -H "Authorization: Bearer $token")
  warm_up bare list one
  measure_rows 2 "$name" bare list one
  warm_up create
  measure_rows 2 "$name" bare create
  local peak
  peak=$(_hwm_kb)
  seq 200 | xargs -P 8 -I{} sh -c "curl -sf '$base/api/auth/login' -H 'Host: acme.localhost' \
    -H 'content-type: application/json' -d '{\"email\":\"admin@acme.example\",\"password\":\"bench-acme-password\"}' >/dev/null"
  sleep 3
  echo "$name memory: idle $(mib "$idle") MiB, peak under the rows $(mib "$peak") MiB," \
    "after 200 logins $(mib "$(_rss_kb)") MiB (peak $(mib "$(_hwm_kb)") MiB)" >>"$results/memory.txt"
  cat "$work/rows.txt" >>"$results/rows.txt"
  cp "$work"/*.*.*.txt "$results/"
  _stop_tenantbase
}

for name in $PHASES; do phase "$name"; done
work=$(mktemp -d)
cp "$results"/*.txt "$work/"
report
echo
cat "$results/memory.txt"
rm -rf "$results" "$work"
