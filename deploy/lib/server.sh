# Sourced by the scripts under deploy/: starts a throwaway tenantbase for a load or fuzz run.
#
#   start_tenantbase BINARY PORT NAME [POSTGRES_OWNER_URL]
#
# With an owner URL (postgres://owner@host:port) it creates database tb_NAME_PID, migrates it and
# serves through the non-owner runtime role tb_NAME_runtime; without one it uses SQLite. Login
# limits and the free plan's request limits are raised so they do not shape the run (unless the
# caller set TB_RATE_LIMIT_TENANT_FREE / TB_RATE_LIMIT_CALLER_FREE itself). Sets `server` (pid), `base` (URL), `work` (temp
# dir with server.log) and `root_token` (a platform admin's access token); an EXIT trap stops the
# server and drops the database.

json() { python3 -c "import sys, json; print(json.load(sys.stdin)$1)"; }

start_tenantbase() {
  local binary=$1 port=$2 name=$3 owner=${4:-}
  work=$(mktemp -d)
  _tb_owner=$owner
  _tb_db="tb_${name}_$$"
  trap _stop_tenantbase EXIT
  if [ -n "$owner" ]; then
    psql "$owner/postgres" -qc "CREATE DATABASE $_tb_db"
    export TB_MIGRATE_DATABASE_URL="$owner/$_tb_db"
    export TB_DATABASE_URL="postgres://tb_${name}_runtime@${owner#*@}/$_tb_db"
    "$binary" migrate >/dev/null
  fi
  TB_DATA_DIR="$work" TB_BIND="127.0.0.1:$port" TB_LOG=warn \
    TB_LOGIN_ATTEMPTS_PER_IP=100000000 TB_LOGIN_ATTEMPTS_PER_ACCOUNT=100000000 \
    TB_LOGIN_ATTEMPTS_PER_IP_ALL_TENANTS=100000000 \
    TB_RATE_LIMIT_TENANT_FREE="${TB_RATE_LIMIT_TENANT_FREE:-1000000000}" \
    TB_RATE_LIMIT_CALLER_FREE="${TB_RATE_LIMIT_CALLER_FREE:-1000000000}" \
    TB_ADMIN_EMAIL="$name@tenantbase.localhost" TB_ADMIN_PASSWORD="$name-root-password" \
    "$binary" serve >"$work/server.log" 2>&1 &
  server=$!
  base="http://127.0.0.1:$port"
  for _ in $(seq 50); do curl -sf "$base/health/live" >/dev/null && break; sleep 0.1; done
  root_token=$(curl -sf "$base/api/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$name@tenantbase.localhost\",\"password\":\"$name-root-password\"}" |
    json '["data"]["access_token"]')
}

_stop_tenantbase() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  if [ -n "$_tb_owner" ]; then psql "$_tb_owner/postgres" -qc "DROP DATABASE IF EXISTS $_tb_db WITH (FORCE)" || true; fi
  rm -rf "$work"
}
