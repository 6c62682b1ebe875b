#!/usr/bin/env bash
# Compact results measured on real results: runs probity with N HTTP targets probed every
# second against a loopback server for S seconds, then compacts a copy of its store with the
# store's own compaction (examples/chunk_bench), checks that every result and every evidence
# record reads back the same, and reports bytes per result before (rows, indexes, evidence
# records) and after (chunks, their indexes, the leaves that name them).
#
#   bash bench/compact.sh            # 100 targets for 360 s: 36,000 results, 360 a chunk
#   bash bench/compact.sh 60 20      # 60 s, 20 targets
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-360}"
n="${2:-100}"
# The binary and the examples are built together (one set of features, no rebuild); the
# tests pass their own build in PROBITY_BIN, with its examples beside it.
if [ -z "${PROBITY_BIN:-}" ]; then
  cargo build --release -q -p probity --bin probity --example bench_server --example chunk_bench
  bin="$(pwd)/target/release/probity"
else
  bin="$PROBITY_BIN"
fi
examples="$(dirname "$bin")/examples"
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
http_port="$(free_port)"
work="$(mktemp -d)"
"$examples/bench_server" "$http_port" "$(free_port)" &
server=$!
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
{
  printf '[server]\nlisten = "127.0.0.1:0"\ndata_dir = "data"\n'
  for t in $(seq 1 "$n"); do
    printf '\n[[target]]\nname = "h%s"\nkind = "http"\nurl = "http://127.0.0.1:%s/"\ninterval = "1s"\n' "$t" "$http_port"
  done
} > probity.toml
echo "targets: $n, seconds: $secs"
timeout -s TERM "$secs" "$bin" run >/dev/null 2>&1 || true
"$examples/chunk_bench" data
