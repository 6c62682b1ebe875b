#!/usr/bin/env bash
# The long commands in bounded memory: imports N results (10 targets, one result a second
# each, 1% failures) with `probity results import`, audits the log with `evidence audit`,
# has `probity run` sign a checkpoint, exports every record with `evidence export` and
# checks the bundle with `evidence verify`; reports the time and peak resident memory of
# each, and the bundle's size. Needs GNU time (/usr/bin/time).
#
#   bash bench/import.sh             # 2,000,000 results (about 170 MB of JSON lines)
#   bash bench/import.sh 10000000    # 10,000,000: about 850 MB, and 4 GB of store
#   bash bench/import.sh 200000 10   # batches of 10 results: 20,000 leaves
#   PROBITY_BIN=path/to/probity bash bench/import.sh 2000   # another build (the test's)
#   PROBITY_BENCH_STORE=postgres://USER@HOST/EMPTY_DB bash bench/import.sh 200000
#                                    # the same on a PostgreSQL store ([store] url)
set -euo pipefail
cd "$(dirname "$0")/.."
n="${1:-2000000}"
batch="${2:-10000}"
# shellcheck source=bench/lib.sh
source bench/lib.sh
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
{
  printf '[server]\nlisten = "127.0.0.1:0"\ndata_dir = "data"\n'
  for t in 0 1 2 3 4 5 6 7 8 9; do
    printf '\n[[target]]\nname = "t%s"\nkind = "tcp"\naddress = "127.0.0.1:9"\ninterval = "1s"\n' "$t"
  done
  if [ -n "${PROBITY_BENCH_STORE:-}" ]; then
    printf '\n[store]\nurl = "%s"\n' "$PROBITY_BENCH_STORE"
  fi
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
started=$(date +%s.%N)
echo "import: $(measure results import in.jsonl --batch-size "$batch")"
echo "rate:   $(python3 -c "import sys; print(f'{int(sys.argv[1]) / (float(sys.argv[3]) - float(sys.argv[2])):,.0f} results/s')" "$n" "$started" "$(date +%s.%N)")"
echo "store:  $("$bin" store stats --json | python3 -c "import json, sys; print(f'{json.load(sys.stdin)[\"database_bytes\"] / 1048576:.1f} MiB')")"
echo "audit:  $(measure evidence audit)"
# A checkpoint is signed by a running server: one is started until it has signed one.
"$bin" run >/dev/null 2>&1 &
server=$!
for _ in $(seq 1 240); do
  sleep 0.5
  if "$bin" evidence export --from 2000-01-01T00:00:00Z --out bundle.json >/dev/null 2>&1; then
    break
  fi
done
kill -INT "$server"
wait "$server" || true
echo "export: $(measure evidence export --from 2000-01-01T00:00:00Z --out bundle.json)"
echo "bundle: $(stat -c %s bundle.json) bytes"
echo "verify: $(measure evidence verify bundle.json)"
