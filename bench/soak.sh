#!/usr/bin/env bash
# The fault campaign: kill -9 at random moments, a spell of refused writes, a hostile agent;
# prints the figures docs/BENCHMARKS.md records. About 3 minutes.
#
#   bash bench/soak.sh              # 25 kills, 20 targets, a 40 s spell
#   KILLS=100 bash bench/soak.sh    # more kills
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p probity --bin probity
exec python3 bench/soak.py
