# Sourced by the benchmarks: BENCH.md's data. `articles` is the collection's definition;
# `batch FIRST` prints items FIRST..FIRST+499 as a JSON array (a ~400-character body, every
# even item `published`, views = i*37 % 1000); `post HOST PATH BODY` posts as the platform admin
# (server.sh's `root_token`); `seed SLUG` creates the tenant, its articles and their 1,000 items
# and sets `token` (its admin's) and `item500` (the 500th item's id).

articles='{"name":"articles","fields":[
  {"name":"title","type":"string","required":true,"max_length":255},{"name":"body","type":"text"},
  {"name":"status","type":"string","default":"draft","indexed":true},{"name":"views","type":"integer","default":0}]}'

batch() {
  python3 -c "import json, sys; first = int(sys.argv[1]); print(json.dumps([
    {'title': f'Article {i}', 'body': ('Lorem ipsum dolor sit amet ' * 15)[:400],
     'status': 'published' if i % 2 == 0 else 'draft', 'views': i * 37 % 1000}
    for i in range(first, first + 500)]))" "$1"
}

post() {
  printf '%s' "$3" | curl -sf "$base$2" -H "Host: $1" -H "authorization: Bearer $root_token" \
    -H 'content-type: application/json' --data-binary @-
}

seed() {
  post localhost /api/tenants \
    "{\"slug\":\"$1\",\"name\":\"$1\",\"admin\":{\"email\":\"admin@$1.example\",\"password\":\"bench-$1-password\"}}" >/dev/null
  post "$1.localhost" /api/collections "$articles" >/dev/null
  token=$(curl -sf "$base/api/auth/login" -H "Host: $1.localhost" -H 'content-type: application/json' \
    -d "{\"email\":\"admin@$1.example\",\"password\":\"bench-$1-password\"}" | json '["data"]["access_token"]')
  item500=$(post "$1.localhost" /api/items/articles "$(batch 1)" | json '["data"][499]["id"]')
  post "$1.localhost" /api/items/articles "$(batch 501)" >/dev/null
}
