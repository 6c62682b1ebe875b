#!/usr/bin/env bash
# The status page's automatic incidents (`[status] auto_incidents`): the cost of the
# server's 2-second loop over a store with many observed incidents, a full pass (every
# incident of both kinds read and compared) against the check that skips a pass when
# nothing moved. About a minute (most of it posting the incidents, one transaction each).
#
#   bash bench/status.sh                  # 10,000 incidents over 1,000 targets, 100 open
#   bash bench/status.sh 2000 200 50      # fewer
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q -p probity --example status_bench
exec target/release/examples/status_bench "${1:-10000}" "${2:-1000}" "${3:-100}"
