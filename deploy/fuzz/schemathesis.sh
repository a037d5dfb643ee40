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
db="tb_fuzz_$$"
work=$(mktemp -d)
cargo build --quiet
cleanup() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [ "$owner" != none ]; then psql "$owner/postgres" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
if [ "$owner" != none ]; then
  psql "$owner/postgres" -qc "CREATE DATABASE $db"
  export TB_MIGRATE_DATABASE_URL="$owner/$db" TB_DATABASE_URL="postgres://tb_fuzz_runtime@${owner#*@}/$db"
  target/debug/tenantbase migrate >/dev/null
fi
TB_DATA_DIR="$work" TB_BIND="127.0.0.1:$port" TB_LOG=warn \
  TB_LOGIN_ATTEMPTS_PER_IP=1000000 TB_LOGIN_ATTEMPTS_PER_ACCOUNT=1000000 \
  TB_ADMIN_EMAIL=fuzz@tenantbase.localhost TB_ADMIN_PASSWORD=fuzz-root-password \
  target/debug/tenantbase serve >"$work/server.log" 2>&1 &
server=$!
base="http://127.0.0.1:$port"
for _ in $(seq 50); do curl -sf "$base/health/live" >/dev/null && break; sleep 0.1; done
token=$(curl -sf "$base/api/auth/login" -H 'content-type: application/json' \
  -d '{"email":"fuzz@tenantbase.localhost","password":"fuzz-root-password"}' |
  python3 -c 'import sys, json; print(json.load(sys.stdin)["data"]["access_token"])')
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
