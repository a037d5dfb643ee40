#!/usr/bin/env bash
# Load benchmark (../../shared BENCH.md method): the release build on loopback, wrk -t2 -c16 -d10s,
# a 3 s warm-up thrown away, each row measured twice. Rows:
#   bare      GET /health/live                      (the framework's ceiling)
#   resolved  GET /api/tenant, Host: acme.localhost, tenant admin token (tenant cache hit)
#   me        GET /api/users/me, tenant admin token (token + live member check, user row read)
#   login     POST /api/auth/login on acme (argon2id m=19456 KiB, t=2, p=1, and a new session)
# Prints requests/s, p50/p99, bytes per response, server CPU (total and per request) and RSS per
# row, and each row's throughput as a ratio to `bare` measured in the same run. On a shared
# machine single runs drift by ±15%: the passes are interleaved, and it is worth running twice.
# Usage: deploy/bench/run.sh        (needs wrk: apt-get install wrk)
#   On the embedded SQLite default; with BENCH_POSTGRES=postgres://owner@127.0.0.1:5432 on a fresh
#   PostgreSQL database (dropped afterwards), served through the non-owner runtime role.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=../lib/bench.sh
. deploy/lib/bench.sh
start_bench bench 18777 "${BENCH_POSTGRES:-}"
curl -sf "$base/api/tenants" -H "authorization: Bearer $root_token" -H 'content-type: application/json' \
  -d '{"slug":"acme","name":"Acme","admin":{"email":"admin@acme.example","password":"bench-acme-password"}}' >/dev/null
token=$(curl -sf "$base/api/auth/login" -H 'Host: acme.localhost' -H 'content-type: application/json' \
  -d '{"email":"admin@acme.example","password":"bench-acme-password"}' | json '["data"]["access_token"]')

bare=("$base/health/live")
resolved=("$base/api/tenant" -H "Host: acme.localhost" -H "Authorization: Bearer $token")
me=("$base/api/users/me" -H "Authorization: Bearer $token")
login=("$base/api/auth/login" -s deploy/bench/login.lua)
rows=(bare resolved me login)

warm_up "${rows[@]}"
measure_rows 2 run "${rows[@]}"
report
