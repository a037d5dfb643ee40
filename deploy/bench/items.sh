#!/usr/bin/env bash
# Items benchmark on PostgreSQL (BENCH.md method; issue 5): the list and single-item rows as the
# data grows around and inside one tenant.
#   list  GET /api/items/articles?filter={"status":{"_eq":"published"}}&limit=20&sort=-id
#   one   GET /api/items/articles/{id of the 500th item}
#   bare  GET /health/live, measured in every phase for the ratios
# Phases (acme is the measured tenant; `status` is an indexed field):
#   alone     acme with 1,000 items (BENCH.md data, created through the API), no other tenant
#   others    + 99 tenants with 10,000 items each (copied in SQL from acme's rows): 991,000 rows
#   t10k      acme grown to 10,000: 100 tenants x 10,000 items
#   t100k     acme grown to 100,000
# Usage: deploy/bench/items.sh   (BENCH_POSTGRES=postgres://superuser@host:port, default the
#   local postgres; a fresh database is created and dropped; BENCH_DURATION=10s)
set -euo pipefail
cd "$(dirname "$0")/../.."
OWNER="${BENCH_POSTGRES:-postgres://postgres@127.0.0.1:5432}"
# shellcheck source=../lib/bench.sh
. deploy/lib/bench.sh
start_bench items 18778 "$OWNER"

# The owner is a superuser, so these bulk copies are not held to row-level security.
sql() { psql "$TB_MIGRATE_DATABASE_URL" -qAtc "$1"; }
# shellcheck source=../lib/seed.sh
. deploy/lib/seed.sh
seed acme
acme=$(sql "SELECT id FROM tenants WHERE slug = 'acme'")

slots="k1, k2, k3, k4, k5, k6, k7, k8, u1, u2, u3, u4"
articles_of() { echo "(SELECT id FROM collections WHERE tenant_id = '$1' AND name = 'articles')"; }
# copy_acme_items INTO_CONDITION COPIES: acme's current articles, COPIES times, into the `articles`
# collections of the tenants matching the condition (new ids, same values and keys). Only
# articles: acme's activity log holds items too.
copy_acme_items() {
  sql "INSERT INTO items (tenant_id, collection_id, id, data, version, date_created, date_updated, user_created, $slots)
       SELECT c.tenant_id, c.id, gen_random_uuid(), i.data, 1, i.date_created, i.date_updated, NULL, $slots
       FROM (SELECT data, date_created, date_updated, $slots FROM items
             WHERE tenant_id = '$acme' AND collection_id = $(articles_of "$acme")) i
       CROSS JOIN generate_series(1, $2) CROSS JOIN collections c WHERE c.name = 'articles' AND $1;
       ANALYZE items;"
}

bare=("$base/health/live")
list=("$base/api/items/articles?filter=%7B%22status%22%3A%7B%22_eq%22%3A%22published%22%7D%7D&limit=20&sort=-id"
  -H "Host: acme.localhost" -H "Authorization: Bearer $token")
one=("$base/api/items/articles/$item500" -H "Host: acme.localhost" -H "Authorization: Bearer $token")
rows=(bare list one)
phase() {
  local in_acme all
  in_acme=$(sql "SELECT count(*) FROM items WHERE tenant_id = '$acme' AND collection_id = $(articles_of "$acme")")
  all=$(sql "SELECT count(*) FROM items i JOIN collections c ON c.id = i.collection_id WHERE c.name = 'articles'")
  echo "phase $1: $in_acme articles in acme, $all in all" >&2
  warm_up "${rows[@]}"
  measure_rows 2 "$1" "${rows[@]}"
}

sql "ANALYZE items"
phase alone
for t in $(seq 1 99); do
  post localhost /api/tenants "{\"slug\":\"t$t\",\"name\":\"Tenant $t\"}" >/dev/null
  post "t$t.localhost" /api/collections "$articles" >/dev/null
done
copy_acme_items "c.tenant_id <> '$acme'" 10
phase others
copy_acme_items "c.tenant_id = '$acme'" 9
phase t10k
copy_acme_items "c.tenant_id = '$acme'" 9
phase t100k
report
