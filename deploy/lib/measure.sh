# Sourced by the benchmarks: measures wrk rows against the server started by server.sh
# (BENCH.md method) and prints them as a table.
#
#   warm_up ROW...        3 s of wrk per row, thrown away
#   measure_rows PASSES PHASE ROW...
#                         measures each ROW (a bash array: URL [wrk args]) PASSES times, the passes
#                         interleaved so drift on a shared machine hits every row alike (call it
#                         again with the rows in another order to even out order effects)
#   report                the table; each row's ratio is to `bare` of the same phase
#
# Expects `server`, `work` (server.sh) and DURATION. With DB_CPU=postgres set, each row also
# records the CPU of every PostgreSQL process on the machine (the database's side of the work).

_cpu_ticks() { awk '{print $14 + $15}' "/proc/$server/stat"; }
_db_ticks() {
  [ "${DB_CPU:-}" = postgres ] || { echo 0; return; }
  local pid total=0
  for pid in $(pgrep -x postgres); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
_rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$server/status"; }
_hwm_kb() { awk '/^VmHWM/ {print $2}' "/proc/$server/status"; }

warm_up() {
  local row
  for row in "$@"; do
    declare -n _args=$row
    wrk -t2 -c16 -d3s --timeout 10s "${_args[@]}" >/dev/null
  done
}

_passes_done=0
measure_rows() {
  local passes=$1 phase=$2 pass row before db_before; shift 2
  for pass in $(seq $((_passes_done + 1)) $((_passes_done + passes))); do
    for row in "$@"; do
      declare -n _args=$row
      before=$(_cpu_ticks)
      db_before=$(_db_ticks)
      wrk -t2 -c16 -d"$DURATION" --latency --timeout 10s "${_args[@]}" >"$work/$phase.$row.$pass.txt"
      echo "$phase $row $pass $(( $(_cpu_ticks) - before )) $(_rss_kb) $(_hwm_kb) $(( $(_db_ticks) - db_before ))" \
        >>"$work/rows.txt"
    done
  done
  _passes_done=$((_passes_done + passes))
}

report() {
  python3 - "$work" "$(getconf CLK_TCK)" <<'PY'
import re, sys, pathlib
work, hz = pathlib.Path(sys.argv[1]), int(sys.argv[2])
def ms(v):
    n, unit = re.match(r"([\d.]+)(\w+)", v).groups()
    return float(n) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
rows = []
for line in (work / "rows.txt").read_text().split("\n"):
    if not line: continue
    phase, name, p, ticks, rss, hwm, *db = line.split()
    db_ticks = int(db[0]) if db else 0
    text = (work / f"{phase}.{name}.{p}.txt").read_text()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    read = re.search(r"requests in [\d.]+\w+, ([\d.]+)(\w+) read", text)
    size = float(read.group(1)) * {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3}[read.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    errors = int(non2xx.group(1)) if non2xx else 0
    p50, p99 = (ms(re.search(rf"\s{q}%\s+(\S+)", text).group(1)) for q in ("50", "99"))
    rows.append((phase, name, p, rps, p50, p99, size / total, int(ticks) / hz, int(ticks) / hz / total * 1e6, int(rss) // 1024, int(hwm) // 1024, errors, db_ticks / hz / total * 1e6))
def mean(phase, name):
    values = [r[3] for r in rows if r[0] == phase and r[1] == name]
    return sum(values) / len(values)
db = any(r[12] for r in rows)
print("| phase | row | pass | req/s | ratio to bare | p50 ms | p99 ms | bytes/resp | server CPU s | CPU µs/req |"
      + (" DB CPU µs/req |" if db else "") + " RSS MiB | peak RSS MiB | non-2xx |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if db else ""))
for phase, name, p, rps, p50, p99, size, cpu, per_req, rss, hwm, errors, db_per_req in rows:
    print(f"| {phase} | {name} | {p} | {rps:,.0f} | {rps / mean(phase, 'bare'):.3f} | {p50:.2f} | {p99:.2f} | {size:.0f} | {cpu:.1f} | {per_req:.1f} |"
          + (f" {db_per_req:.1f} |" if db else "") + f" {rss} | {hwm} | {errors} |")
print()
for phase in dict.fromkeys(r[0] for r in rows):
    bare = mean(phase, "bare")
    for name in dict.fromkeys(r[1] for r in rows if r[0] == phase and r[1] != "bare"):
        print(f"{phase} {name}: mean {mean(phase, name):,.0f} req/s = {mean(phase, name) / bare:.3f} of bare ({bare:,.0f} req/s)")
if any(r[11] for r in rows):
    sys.exit("non-2xx responses in a measured row: the numbers are not valid")
PY
}
