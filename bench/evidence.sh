#!/usr/bin/env bash
# The evidence log's benchmark: appends per second (memory and SQLite) and proof latency on
# a 10-million-leaf log. About 2 minutes and 3 GB of temporary disk.
#
#   bash bench/evidence.sh            # 10,000,000 leaves
#   bash bench/evidence.sh 1000000    # fewer
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p probity --example evidence_bench
exec target/release/examples/evidence_bench "${1:-10000000}"
