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
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 1; }

DURATION="${BENCH_DURATION:-10s}"
PORT="${BENCH_PORT:-18777}"
cargo build --release --quiet
# shellcheck source=../lib/server.sh
. deploy/lib/server.sh
start_tenantbase target/release/tenantbase "$PORT" bench "${BENCH_POSTGRES:-}"
curl -sf "$base/api/tenants" -H "authorization: Bearer $root_token" -H 'content-type: application/json' \
  -d '{"slug":"acme","name":"Acme","admin":{"email":"admin@acme.example","password":"bench-acme-password"}}' >/dev/null
token=$(curl -sf "$base/api/auth/login" -H 'Host: acme.localhost' -H 'content-type: application/json' \
  -d '{"email":"admin@acme.example","password":"bench-acme-password"}' | json '["data"]["access_token"]')

cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$server/status"; }

# measure NAME PASS URL [wrk header args...]
measure() {
  local name=$1 pass=$2 url=$3; shift 3
  local before; before=$(cpu_ticks)
  wrk -t2 -c16 -d"$DURATION" --latency --timeout 10s "$@" "$url" >"$work/$name.$pass.txt"
  echo "$name $pass $(( $(cpu_ticks) - before )) $(rss_kb) $(hwm_kb)" >>"$work/rows.txt"
}
bare=("$base/health/live")
resolved=("$base/api/tenant" -H "Host: acme.localhost" -H "Authorization: Bearer $token")
me=("$base/api/users/me" -H "Authorization: Bearer $token")
login=("$base/api/auth/login" -s deploy/bench/login.lua)
rows=(bare resolved me login)

# Warm up every row, then interleave the passes so that drift on a shared machine hits every
# row alike.
for row in "${rows[@]}"; do
  declare -n args=$row
  wrk -t2 -c16 -d3s --timeout 10s "${args[@]}" >/dev/null
done
for pass in 1 2; do
  for row in "${rows[@]}"; do
    declare -n args=$row
    measure "$row" "$pass" "${args[@]}"
  done
done

python3 - "$work" "$(getconf CLK_TCK)" <<'PY'
import re, sys, pathlib
work, hz = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def ms(v):
    n, unit = re.match(r"([\d.]+)(\w+)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
rows = []
for line in (work / "rows.txt").read_text().split("\n"):
    if not line: continue
    name, p, ticks, rss, hwm = line.split()
    text = (work / f"{name}.{p}.txt").read_text()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    read = re.search(r"requests in [\d.]+\w+, ([\d.]+)(\w+) read", text)
    size = float(read.group(1)) * {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[read.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = int(non2xx.group(1)) if non2xx else 0
    p50, p99 = (ms(re.search(rf"\s{q}%\s+(\S+)", text).group(1)) for q in ("50", "99"))
    rows.append((name, p, rps, p50, p99, size / total, int(ticks) / hz, int(ticks) / hz / total * 1e6, int(rss) // 1024, int(hwm) // 1024, errors))
bare = sum(r[2] for r in rows if r[0] == "bare") / 2
print("| row | pass | req/s | ratio to bare | p50 ms | p99 ms | bytes/resp | server CPU s | CPU µs/req | RSS MiB | peak RSS MiB | non-2xx |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
for name, p, rps, p50, p99, size, cpu, per_req, rss, hwm, errors in rows:
    print(f"| {name} | {p} | {rps:,.0f} | {rps / bare:.2f} | {p50:.2f} | {p99:.2f} | {size:.0f} | {cpu:.1f} | {per_req:.1f} | {rss} | {hwm} | {errors} |")
for name in sorted({r[0] for r in rows} - {"bare"}):
    mean = sum(r[2] for r in rows if r[0] == name) / 2
    print(f"\n{name}: mean {mean:,.0f} req/s = {mean / bare:.1%} of bare ({bare:,.0f} req/s)")
if any(r[10] for r in rows):
    sys.exit("non-2xx responses in a measured row: the numbers are not valid")
PY
