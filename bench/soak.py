"""The fault campaign of docs/BENCHMARKS.md ("Soak"), repeatable: kill -9 at random moments,
a store that refuses writes for a spell, and a hostile agent, against one probity data
directory; then counts what a user of the evidence would care about. Prints a Markdown
report. Run by bench/soak.sh (release build); SMOKE=1 makes it short (the tests run that).

Figures:
- kills survived: `kill -9` rounds after which probity started again on the same store;
- results lost at kills: probes the target server answered minus results stored (each kill
  loses what was measured and not yet committed: at most one commit interval's worth);
- duplicate result ids and alerts delivered twice (the webhook receiver counts deliveries
  per idempotency key; at-least-once delivery may repeat one after a kill, which the key
  lets the receiver drop);
- incidents whose alert never arrived;
- false incidents: incidents on targets that were never down (the object store's among
  them: a canary written just before a kill must not read as corruption after it);
- evidence audit findings after everything;
- hostile pushes stored (must be 0).
"""
import http.server, json, os, random, signal, socket, sqlite3, subprocess, sys, tempfile, threading, time, urllib.request

SMOKE = os.environ.get("SMOKE") == "1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBITY = os.environ.get("PROBITY", os.path.join(ROOT, "target/release/probity"))
KILLS = int(os.environ.get("KILLS", "3" if SMOKE else "25"))
TARGETS = 4 if SMOKE else 20
SPELL_S = 3 if SMOKE else 40
random.seed(int(os.environ.get("SEED", "7")))


class Target(http.server.BaseHTTPRequestHandler):
    """Loopback targets: /t/N answers 200, except /t/0 while `down` is set."""
    down = False
    hits = {}
    lock = threading.Lock()

    def do_GET(self):
        with Target.lock:
            Target.hits[self.path] = Target.hits.get(self.path, 0) + 1
        code = 503 if (self.path == "/t/0" and Target.down) else 200
        self.send_response(code)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *a):
        pass


class Hook(http.server.BaseHTTPRequestHandler):
    """The webhook receiver: counts deliveries per idempotency key."""
    deliveries = {}
    lock = threading.Lock()

    def do_POST(self):
        n = int(self.headers.get("content-length", "0"))
        self.rfile.read(n)
        key = self.headers.get("idempotency-key", "")
        with Hook.lock:
            Hook.deliveries[key] = Hook.deliveries.get(key, 0) + 1
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


def serve(handler):
    s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=s.serve_forever, daemon=True).start()
    return s.server_address[1]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def wait_up(port, proc, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise SystemExit(f"probity exited with {proc.returncode}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).read()
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit("probity did not start")


def main():
    work = tempfile.mkdtemp(prefix="probity-soak-")
    tport, hport, port = serve(Target), serve(Hook), free_port()
    cfg = os.path.join(work, "probity.toml")
    with open(cfg, "w") as f:
        f.write(f'[server]\nlisten = "127.0.0.1:{port}"\ndata_dir = "data"\n\n')
        f.write('[evidence]\ncheckpoint_interval = "1s"\n\n')
        for i in range(TARGETS):
            f.write(f'[[target]]\nname = "t{i}"\nkind = "http"\nurl = "http://127.0.0.1:{tport}/t/{i}"\n'
                    f'interval = "250ms"\nfailure_threshold = 2\nsuccess_threshold = 2\n\n')
        # An object store (a directory) whose canaries rotate every few seconds: a kill
        # between a canary's PUT and its commit must not read as corruption afterwards.
        os.makedirs(os.path.join(work, "blob"), exist_ok=True)
        f.write('[[target]]\nname = "s0"\nkind = "object_store"\nurl = "file://blob"\n'
                'interval = "500ms"\ncanaries = 5\ncanary_interval = "1s"\ncanary_rotation = "2s"\n'
                'failure_threshold = 2\nsuccess_threshold = 2\n\n')
        f.write(f'[[vantage]]\nname = "edge"\ntargets = ["t1"]\n\n')
        f.write(f'[[channel]]\nname = "hook"\ntype = "webhook"\nurl = "http://127.0.0.1:{hport}/hook"\n\n')
        f.write('[[alert]]\nname = "all"\non = ["incident_opened", "incident_resolved"]\nchannels = ["hook"]\n')
    env = dict(os.environ, RUST_LOG="warn")

    def start():
        p = subprocess.Popen([PROBITY, "run", "--config", cfg], cwd=work, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_up(port, p)
        return p

    # 1. kill -9 at random moments, with target t0 going down and up between rounds.
    survived = 0
    for k in range(KILLS):
        p = start()
        survived += 1
        if k % 3 == 1:
            Target.down = not Target.down
        time.sleep(random.uniform(0.5, 1.5 if SMOKE else 3.0))
        p.send_signal(signal.SIGKILL)
        p.wait()
    Target.down = False

    # 2. A spell in which the store refuses every write (a table taken away, as a full disk
    #    refuses): health must turn 503, and what was measured meanwhile must be written after.
    p = start()
    time.sleep(1)
    db = sqlite3.connect(os.path.join(work, "data", "probity.db"), timeout=10)
    db.execute("ALTER TABLE results RENAME TO results_away")
    db.commit()
    unhealthy = False
    spell_from = int(time.time() * 1000)
    end = time.time() + SPELL_S
    while time.time() < end:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
        except urllib.error.HTTPError as e:
            unhealthy = unhealthy or e.code == 503
        time.sleep(0.5)
    db.execute("ALTER TABLE results_away RENAME TO results")
    db.commit()
    spell_to = int(time.time() * 1000)
    time.sleep(3)
    spell_written = db.execute("SELECT count(*) FROM results WHERE vantage = 'local' AND target LIKE 't%' AND at_ms BETWEEN ? AND ?",
                               (spell_from, spell_to)).fetchone()[0]
    spell_expected = int((spell_to - spell_from) / 250 * TARGETS)

    # 3. A hostile agent: results from the future, from 2000, oversized, for others' targets.
    tok = subprocess.run([PROBITY, "token", "create", "--config", cfg, "--agent", "edge"],
                         cwd=work, capture_output=True, text=True).stdout.strip()
    now = int(time.time() * 1000)
    bad = [
        {"id": "f1", "target": "t1", "at_ms": now + 86_400_000, "health": "down"},
        {"id": "f2", "target": "t1", "at_ms": 946_684_800_000, "health": "down"},
        {"id": "f3", "target": "t1", "at_ms": now - 1000, "health": "down", "error": "e" * 100_000},
        {"id": "f4", "target": "t2", "at_ms": now - 1000, "health": "down"},
    ]
    body = json.dumps({"vantage": "edge", "sent_at_ms": now, "clock_offset_ms": -20 * 86_400_000,
                       "results": bad}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/agent/results", data=body,
                                 headers={"authorization": f"Bearer {tok}", "content-type": "application/json"})
    try:
        answer = json.loads(urllib.request.urlopen(req, timeout=5).read())
        status = 200
    except urllib.error.HTTPError as e:
        status, answer = e.code, json.loads(e.read() or b"{}")
    hostile_refused = len(answer.get("rejected", []))
    hostile_stored = db.execute(
        "SELECT count(*) FROM results WHERE origin IN ('f1','f2','f3','f4')").fetchone()[0]

    # A clean stop, then the figures.
    time.sleep(2)
    p.send_signal(signal.SIGTERM)
    clean_stop = p.wait(timeout=60) == 0
    audit = subprocess.run([PROBITY, "evidence", "audit", "--config", cfg, "--json"],
                           cwd=work, capture_output=True, text=True)
    findings = len(json.loads(audit.stdout)["findings"]) if audit.stdout.strip() else -1
    stored = db.execute("SELECT count(*) FROM results WHERE vantage = 'local' AND target LIKE 't%'").fetchone()[0]
    storage_results, storage_failed = db.execute(
        "SELECT count(*), coalesce(sum(health != 'up'), 0) FROM results WHERE target = 's0'").fetchone()
    canary_rows, canary_generations = db.execute(
        "SELECT count(*), coalesce(max(generation), 0) FROM canaries").fetchone()
    dup_ids = db.execute(
        "SELECT count(*) - count(DISTINCT id) FROM results").fetchone()[0]
    hits = sum(Target.hits.values())
    incidents = db.execute("SELECT id, target FROM incidents").fetchall()
    false_incidents = sum(1 for _, t in incidents if t != "t0")
    keys = Hook.deliveries
    opened_keys = [k for k in keys if "incident_opened" in k]
    missing = sum(1 for i, t in incidents if t == "t0" and
                  not any(k.startswith(f"incident-{i}-incident_opened") for k in keys))
    twice = sum(n - 1 for n in keys.values() if n > 1)

    print(f"## Soak ({time.strftime('%Y-%m-%d')}, {KILLS} kills, {TARGETS} targets @250 ms, {SPELL_S} s write spell)\n")
    print("| figure | value |")
    print("|---|---|")
    print(f"| kill -9 rounds survived (restarted on the same store) | {survived} of {KILLS} |")
    print(f"| probes answered by the targets | {hits} |")
    print(f"| results stored (server's own vantage) | {stored} |")
    print(f"| results lost at kills (answered, not committed) | {max(0, hits - stored)} ({(hits - stored) / max(1, KILLS):.1f} per kill) |")
    print(f"| duplicate result ids | {dup_ids} |")
    long_spell = SPELL_S > 12
    print(f"| health 503 during the write spell | {('yes' if unhealthy else 'NO') if long_spell else 'n/a (spell under the 10 s bound)'} |")
    print(f"| results measured during the spell, written after it | {spell_written} (about {spell_expected} probes were due) |")
    print(f"| incidents (t0 went down and up) / false incidents (other targets) | {len(incidents)} / {false_incidents} |")
    print(f"| object-store cycles / failed (canaries rotating every 2 s through the kills) | {storage_results} / {storage_failed} |")
    print(f"| canary manifest entries (generations up to) | {canary_rows} ({canary_generations}) |")
    print(f"| alert keys delivered / of them incident_opened | {len(keys)} / {len(opened_keys)} |")
    print(f"| alerts delivered twice (before the receiver's deduplication) | {twice} |")
    print(f"| incidents whose opening alert never arrived | {missing} |")
    print(f"| hostile results refused / stored (future, year 2000, oversized, foreign target) | {hostile_refused} / {hostile_stored} of 4 (HTTP {status}) |")
    print(f"| clean SIGTERM stop | {'yes' if clean_stop else 'NO'} |")
    print(f"| evidence audit findings | {findings} |")
    ok = (survived == KILLS and dup_ids == 0 and storage_failed == 0 and (unhealthy or not long_spell) and false_incidents == 0
          and missing == 0 and hostile_refused == 4 and hostile_stored == 0 and clean_stop and findings == 0
          and spell_written >= spell_expected * 0.8)
    print(f"\nverdict: {'ok' if ok else 'PROBLEMS'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
