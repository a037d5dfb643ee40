#!/usr/bin/env bash
# Hook pipeline benchmark (BENCH.md method; issue 6): item create throughput on three tenants of
# one server, in one run, so the ratios compare like with like.
#   bare    GET /health/live
#   plain   POST /api/items/articles on a tenant with no hooks at all (audit turned off)
#   noop    the same on a tenant with the `bench_noop` extension: five filter hooks that do nothing
#   audit   the same on a tenant with the audit log on (an action hook writes an entry per create)
# Usage: deploy/bench/hooks.sh   (SQLite; BENCH_POSTGRES=postgres://superuser@host:port for a fresh
#   PostgreSQL database, dropped afterwards; BENCH_DURATION=10s)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib/bench.sh
. deploy/lib/bench.sh
start_bench hooks 18779 "${BENCH_POSTGRES:-}"

# shellcheck source=../lib/seed.sh
. deploy/lib/seed.sh
# tenant SLUG EXTENSIONS: creates it with an admin and articles; prints the admin's token.
tenant() {
  curl -sf "$base/api/tenants" -H "authorization: Bearer $root_token" -H 'content-type: application/json' \
    -d "{\"slug\":\"$1\",\"name\":\"$1\",\"settings\":{\"extensions\":$2},
         \"admin\":{\"email\":\"admin@$1.example\",\"password\":\"bench-$1-password\"}}" >/dev/null
  curl -sf "$base/api/collections" -H "Host: $1.localhost" -H "authorization: Bearer $root_token" \
    -H 'content-type: application/json' -d "$articles" >/dev/null
  curl -sf "$base/api/auth/login" -H "Host: $1.localhost" -H 'content-type: application/json' \
    -d "{\"email\":\"admin@$1.example\",\"password\":\"bench-$1-password\"}" | json '["data"]["access_token"]'
}
plain_token=$(tenant plain '{"audit":false}')
noop_token=$(tenant noop '{"audit":false,"bench_noop":true}')
audit_token=$(tenant audit '{}')

bare=("$base/health/live")
plain=("$base/api/items/articles" -s deploy/bench/create.lua -H "Host: plain.localhost" -H "Authorization: Bearer $plain_token")
noop=("$base/api/items/articles" -s deploy/bench/create.lua -H "Host: noop.localhost" -H "Authorization: Bearer $noop_token")
audit=("$base/api/items/articles" -s deploy/bench/create.lua -H "Host: audit.localhost" -H "Authorization: Bearer $audit_token")
rows=(bare plain noop audit)

warm_up "${rows[@]}"
# Creates grow the table as the run goes on: rotate the order so no row always comes first.
measure_rows 1 hooks bare plain noop audit
measure_rows 1 hooks bare noop audit plain
measure_rows 1 hooks bare audit plain noop
report
entries=$(curl -sf "$base/api/activity?limit=1&meta=total_count" -H "Host: audit.localhost" \
  -H "authorization: Bearer $audit_token" | json '["meta"]["total_count"]')
echo "audit entries written for the audit tenant: $entries"
