#!/usr/bin/env bash
# Fuzzes every route of the OpenAPI document with Schemathesis (pip install schemathesis) and
# fails on any 5xx, or on any response whose body does not match the document
# (response_schema_conformance). Runs the debug build on a fresh PostgreSQL database through the
# runtime role (owner URL in FUZZ_POSTGRES, default postgres://postgres@127.0.0.1:5432), or on
# SQLite with FUZZ_POSTGRES=none. Seeds a tenant with a collection, an item and a user, and
# points the path parameters at them (deploy/fuzz/schemathesis.toml), so success bodies are
# checked too. Usage: deploy/fuzz/schemathesis.sh [seed...]
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
api() { curl -sf "$base$1" -H "authorization: Bearer $token" -H 'X-Tenant-ID: acme' -H 'content-type: application/json' -d "$2"; }
api /api/tenants '{"slug":"acme","name":"Acme"}' >/dev/null
# Tenant routes get their own tenant, which a fuzzed DELETE may take away without emptying acme.
export FUZZ_TENANT_ID FUZZ_USER_ID FUZZ_ITEM_ID
FUZZ_TENANT_ID=$(api /api/tenants '{"slug":"fuzzed","name":"Fuzzed"}' | json '["data"]["id"]')
api /api/collections '{"name":"notes","fields":[{"name":"title","type":"string"},{"name":"views","type":"integer"}]}' >/dev/null
api /api/collections '{"name":"scratch","fields":[{"name":"title","type":"string"},{"name":"body","type":"text"}]}' >/dev/null
FUZZ_ITEM_ID=$(api /api/items/notes '{"title":"a note","views":3}' | json '["data"]["id"]')
FUZZ_USER_ID=$(api /api/users '{"email":"pat@acme.test","password":"fuzz-user-password","role":"viewer"}' | json '["data"]["id"]')

seeds=("$@")
[ ${#seeds[@]} -gt 0 ] || seeds=(1 2 3)
status=0
for seed in "${seeds[@]}"; do
  st --config-file deploy/fuzz/schemathesis.toml run "$base/api/openapi.json" \
    -H "Authorization: Bearer $token" -H "X-Tenant-ID: acme" \
    --checks not_a_server_error,response_schema_conformance --max-examples 80 --workers 2 --seed "$seed" || status=1
done
if grep -E "request failed" "$work/server.log"; then status=1; fi
exit $status
