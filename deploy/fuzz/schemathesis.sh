#!/usr/bin/env bash
# Fuzzes every route of the OpenAPI document with Schemathesis (pip install schemathesis) and
# fails on any 5xx. Runs the debug build on a fresh PostgreSQL database through the runtime role
# (BENCH_POSTGRES-style owner URL in FUZZ_POSTGRES, default postgres://postgres@127.0.0.1:5432),
# or on SQLite with FUZZ_POSTGRES=none. Usage: deploy/fuzz/schemathesis.sh [seed...]
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v st >/dev/null || { echo "schemathesis is not installed (pip install schemathesis)" >&2; exit 1; }

owner="${FUZZ_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
port="${FUZZ_PORT:-18785}"
cargo build --quiet
[ "$owner" = none ] && owner=
# shellcheck source=../lib/server.sh
. deploy/lib/server.sh
start_tenantbase target/debug/tenantbase "$port" fuzz "$owner"
token=$root_token
curl -sf "$base/api/tenants" -H "authorization: Bearer $token" -H 'content-type: application/json' \
  -d '{"slug":"acme","name":"Acme"}' >/dev/null

seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
status=0
for seed in "${seeds[@]}"; do
  st run "$base/api/openapi.json" -H "Authorization: Bearer $token" -H "X-Tenant-ID: acme" \
    --checks not_a_server_error --max-examples 80 --workers 2 --seed "$seed" || status=1
done
if grep -E "request failed" "$work/server.log"; then status=1; fi
exit $status
