#!/usr/bin/env bash
# Measures probity's scheduler and probers on this machine against loopback servers, and
# Prometheus' blackbox_exporter in the same run for comparison. Prints a Markdown report.
#
#   bash bench/run.sh            # full run, about 6 minutes
#   QUICK=1 bash bench/run.sh    # shorter phases, for a smoke test
#   PHASES=10k,blackbox bash bench/run.sh   # only some phases: 1k, 10k, sat, tcp, blackbox
#
# Needs: a Rust toolchain, python3; blackbox_exporter from Debian's
# prometheus-blackbox-exporter package (installed here when missing and running as root).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v prometheus-blackbox-exporter >/dev/null && [ "$(id -u)" = 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus-blackbox-exporter >/dev/null
fi
cargo build --release -q -p probity --bin probity --example bench_server
exec python3 bench/measure.py
