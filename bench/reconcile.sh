#!/usr/bin/env bash
# The server's reconciliation at steady state: imports DAYS days of per-minute results of
# TARGETS provider-tagged targets, times a whole read of the window (`probity scorecard`),
# then runs `probity run` on that store for SECONDS seconds and reports the CPU it used
# after its first pass (which reads the window whole), sampled from /proc every 5 s.
#
#   bash bench/reconcile.sh              # 20 targets, 30 days, 65 s
#   bash bench/reconcile.sh 100 30 65    # 100 targets
#   bash bench/reconcile.sh 20 30 65 10  # and 10 SLOs over every target (30 days each)
#   PROBITY_BIN=path/to/probity bash bench/reconcile.sh 2 1 12   # another build (the test's)
set -euo pipefail
cd "$(dirname "$0")/.."
targets="${1:-20}"
days="${2:-30}"
seconds="${3:-65}"
slos="${4:-0}"
# shellcheck source=bench/lib.sh
source bench/lib.sh
work="$(mktemp -d)"
trap '{ kill "${server:-0}" && wait "$server"; } 2>/dev/null || true; rm -rf "$work"' EXIT
cd "$work"
{
  printf '[server]\nlisten = "127.0.0.1:0"\ndata_dir = "data"\n'
  for t in $(seq 1 "$targets"); do
    printf '\n[[target]]\nname = "t%s"\nkind = "tcp"\nprovider = "azure"\nservice = "Storage"\nregion = "West Europe"\naddress = "127.0.0.1:9"\ninterval = "60s"\n' "$t"
  done
  for s in $(seq 1 "$slos"); do
    printf '\n[[slo]]\nname = "s%s"\nprovider = "azure"\nobjective = 99.9\nwindow = "30d"\n' "$s"
  done
} > probity.toml
python3 - "$targets" "$days" > in.jsonl <<'PY'
import datetime, sys, time
targets, days = int(sys.argv[1]), int(sys.argv[2])
end = int(time.time()) // 60 * 60
out = sys.stdout
for m in range(days * 1440):
    at = datetime.datetime.fromtimestamp(end - (days * 1440 - m) * 60, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    for t in range(1, targets + 1):
        if m % 997 == t:
            out.write('{"target":"t%d","at":"%s","ok":false,"error":"refused","error_class":"connect"}\n' % (t, at))
        else:
            out.write('{"target":"t%d","at":"%s","ok":true,"latency_ms":1.5}\n' % (t, at))
PY
"$bin" results import in.jsonl >/dev/null
echo "targets: $targets, days: $days, results: $(wc -l < in.jsonl)$([ "$slos" = 0 ] || echo ", SLOs: $slos")"
echo "scorecard (whole read): $(/usr/bin/time -f "%e s, peak %M KiB resident" "$bin" scorecard --window "${days}d" --json 2>&1 >/dev/null | tail -1)"
"$bin" run >run.log 2>&1 &
server=$!
cpu() {
  if ! awk '{printf "%.2f", ($14 + $15) / 100}' "/proc/$server/stat" 2>/dev/null; then
    echo "probity run stopped:" >&2
    cat run.log >&2
    exit 1
  fi
}
sleep 5
first="$(cpu)"
echo "run: $first cpu-s in its first 5 s (the first pass reads the window whole)"
sleep $((seconds - 5))
last="$(cpu)"
echo "run: $(python3 -c "print(f'{($last - $first) / ($seconds - 5) * 100:.2f}')")% of a core over the next $((seconds - 5)) s"
