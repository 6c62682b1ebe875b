#!/usr/bin/env bash
# `probity results import` in bounded memory: imports N results (10 targets, one result a
# second each, 1% failures) and reports the peak resident memory of the import and of the
# evidence audit afterwards, with the time each took. Needs GNU time (/usr/bin/time).
#
#   bash bench/import.sh             # 2,000,000 results (about 170 MB of JSON lines)
#   bash bench/import.sh 10000000    # 10,000,000: about 850 MB, and 4 GB of store
#   PROBITY_BIN=path/to/probity bash bench/import.sh 2000   # another build (the test's)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-2000000}"
if [ -z "${PROBITY_BIN:-}" ]; then
  cargo build --release -q -p probity
  bin="$(pwd)/target/release/probity"
else
  bin="$PROBITY_BIN"
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
{
  printf '[server]\nlisten = "127.0.0.1:0"\ndata_dir = "data"\n'
  for t in 0 1 2 3 4 5 6 7 8 9; do
    printf '\n[[target]]\nname = "t%s"\nkind = "tcp"\naddress = "127.0.0.1:9"\ninterval = "1s"\n' "$t"
  done
} > probity.toml
python3 - "$n" > in.jsonl <<'PY'
import sys, datetime
n = int(sys.argv[1])
start = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc).timestamp()
out = sys.stdout
for i in range(n):
    t, s = i % 10, start + i // 10
    at = datetime.datetime.fromtimestamp(s, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    if i % 100 == 7:
        out.write('{"target":"t%d","at":"%s","ok":false,"error":"connection refused","error_class":"connect"}\n' % (t, at))
    else:
        out.write('{"target":"t%d","at":"%s","ok":true,"latency_ms":%.1f}\n' % (t, at, 1 + (i % 37) / 10))
PY
echo "results: $n, file: $(du -h in.jsonl | cut -f1)"
measure() {
  /usr/bin/time -f "%e s, peak %M KiB resident" "$bin" "$@" 2>&1 >/dev/null | tail -1
}
echo "import: $(measure results import in.jsonl)"
echo "store:  $(du -sh data | cut -f1)"
echo "audit:  $(measure evidence audit)"
