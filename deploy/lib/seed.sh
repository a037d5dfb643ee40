# Sourced by the benchmarks: BENCH.md's data. `articles` is the collection's definition;
# `batch FIRST` prints items FIRST..FIRST+499 as a JSON array (a ~400-character body, every
# even item `published`, views = i*37 % 1000).

articles='{"name":"articles","fields":[
  {"name":"title","type":"string","required":true,"max_length":255},{"name":"body","type":"text"},
  {"name":"status","type":"string","default":"draft","indexed":true},{"name":"views","type":"integer","default":0}]}'

batch() {
  python3 -c "import json, sys; first = int(sys.argv[1]); print(json.dumps([
    {'title': f'Article {i}', 'body': ('Lorem ipsum dolor sit amet ' * 15)[:400],
     'status': 'published' if i % 2 == 0 else 'draft', 'views': i * 37 % 1000}
    for i in range(first, first + 500)]))" "$1"
}
