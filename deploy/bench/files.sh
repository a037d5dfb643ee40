#!/usr/bin/env bash
# Presign benchmark (BENCH.md method; issue 12): `POST /api/files` on one tenant against the bare
# route, in one run. A presign reserves quota, records the pending file (one transaction) and
# signs a PUT URL locally; the store is never called, so none runs here (its endpoint points
# nowhere, and CORS management is off).
# Usage: deploy/bench/files.sh   (SQLite; BENCH_POSTGRES=postgres://superuser@host:port for a fresh
#   PostgreSQL database, dropped afterwards; BENCH_DURATION=10s)
set -euo pipefail
cd "$(dirname "$0")/../.."
export TB_S3_ENDPOINT=http://127.0.0.1:9 TB_S3_BUCKET=bench TB_S3_ACCESS_KEY_ID=bench-key \
  TB_S3_SECRET_ACCESS_KEY=bench-secret TB_S3_MANAGE_CORS=false TB_FILES_QUOTA_FREE=1099511627776
# shellcheck source=../lib/bench.sh
. deploy/lib/bench.sh
start_bench files 18781 "${BENCH_POSTGRES:-}"

curl -sf "$base/api/tenants" -H "authorization: Bearer $root_token" -H 'content-type: application/json' \
  -d '{"slug":"acme","name":"Acme","admin":{"email":"admin@acme.example","password":"bench-acme-password"}}' >/dev/null
token=$(curl -sf "$base/api/auth/login" -H "Host: acme.localhost" -H 'content-type: application/json' \
  -d '{"email":"admin@acme.example","password":"bench-acme-password"}' | json '["data"]["access_token"]')

bare=("$base/health/live")
presign=("$base/api/files" -s deploy/bench/presign.lua -H "Host: acme.localhost" -H "Authorization: Bearer $token")
rows=(bare presign)

warm_up "${rows[@]}"
measure_rows 1 files bare presign
measure_rows 1 files presign bare
report
