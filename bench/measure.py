"""Drives the benchmark phases for bench/run.sh and prints a Markdown report.

Each phase starts `probity run` with a generated configuration against a loopback server,
lets it warm up, then measures over a window: probes per second (from probity_probes_total),
CPU time of the probity process (from /proc), resident memory, and scheduling lateness (from
the probity_schedule_lateness_seconds histogram, as the upper bound of the bucket that holds
the quantile).
"""
import json, os, signal, socket, subprocess, sys, tempfile, threading, time, urllib.request

QUICK = os.environ.get("QUICK") == "1"
# SMOKE=1: tiny phases that only prove the harness works (the test suite runs this).
SMOKE = os.environ.get("SMOKE") == "1"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROBITY = os.environ.get("PROBITY", os.path.join(ROOT, "target/release/probity"))
SERVER = os.environ.get("BENCH_SERVER", os.path.join(ROOT, "target/release/examples/bench_server"))
TICK = os.sysconf("SC_CLK_TCK")


# PROBITY_BENCH_STORE=postgres://USER@HOST/DB: the phases run on that database.
STORE = os.environ.get("PROBITY_BENCH_STORE")
# Seconds of running before a phase's window, at least (steady state: WARMUP=600).
WARMUP = int(os.environ.get("WARMUP", "0"))


def db_cpu_seconds():
    """User + system CPU of every PostgreSQL process on this machine (the database's share
    of the work when probity writes to a local PostgreSQL)."""
    if not STORE:
        return 0.0
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            stat = open(f"/proc/{pid}/stat").read()
        except OSError:
            continue
        if "(postgres)" not in stat:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def scrape(port):
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30).read().decode()
    probes, buckets, count = 0, {}, 0
    for line in text.splitlines():
        if line.startswith("probity_probes_total{"):
            probes += float(line.rsplit(" ", 1)[1])
        elif line.startswith("probity_schedule_lateness_seconds_bucket{"):
            le = line.split('le="')[1].split('"')[0]
            buckets[le] = float(line.rsplit(" ", 1)[1])
        elif line.startswith("probity_schedule_lateness_seconds_count"):
            count = float(line.rsplit(" ", 1)[1])
    return probes, buckets, count


def quantile(b0, b1, q):
    """Upper bound of the bucket holding quantile q of the observations between two scrapes."""
    total = b1["+Inf"] - b0.get("+Inf", 0)
    if total <= 0:
        return None
    for le in sorted((k for k in b1 if k != "+Inf"), key=float):
        if b1[le] - b0.get(le, 0) >= q * total:
            return float(le)
    return float("inf")


def fmt_le(v):
    if v is None:
        return "n/a"
    if v == float("inf"):
        return "> 5 s"
    return f"≤ {v * 1000:g} ms"


def phase(name, kind, targets, interval, warmup, window, http_port, tcp_port):
    if SMOKE:
        # Few targets on a short interval, so a 3 s window always holds probes.
        targets, warmup, interval = max(10, targets // 100), 2, "500ms"
    d = tempfile.mkdtemp(prefix="probity-bench-")
    api = free_port()
    cfg = [f'[server]\nlisten = "127.0.0.1:{api}"\ndata_dir = "data"\n']
    for i in range(targets):
        if kind == "http":
            cfg.append(f'[[target]]\nname = "t{i}"\nkind = "http"\nurl = "http://127.0.0.1:{http_port}/t{i}"\n'
                       f'interval = "{interval}"\ntimeout = "5s"\n')
        else:
            cfg.append(f'[[target]]\nname = "t{i}"\nkind = "tcp"\naddress = "127.0.0.1:{tcp_port}"\n'
                       f'interval = "{interval}"\ntimeout = "5s"\n')
    if STORE:
        # A PostgreSQL database (empty, or left from an earlier phase) instead of SQLite.
        cfg.append(f'[store]\nurl = "{STORE}"\n')
    path = os.path.join(d, "probity.toml")
    open(path, "w").write("\n".join(cfg))
    p = subprocess.Popen([PROBITY, "run", "--config", path], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env={**os.environ, "RUST_LOG": "warn"})
    try:
        for _ in range(300):
            try:
                scrape(api)
                break
            except Exception:
                time.sleep(0.1)
        time.sleep(max(warmup, WARMUP))
        d0 = db_cpu_seconds()
        c0, (n0, b0, _), t0 = cpu_seconds(p.pid), scrape(api), time.monotonic()
        time.sleep(window)
        c1, (n1, b1, _), t1 = cpu_seconds(p.pid), scrape(api), time.monotonic()
        d1 = db_cpu_seconds()
        rss = rss_mib(p.pid)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=60)
    probes = n1 - n0
    return {
        "phase": name,
        "targets": targets,
        "interval": interval,
        "probes_per_s": probes / (t1 - t0),
        "cpu_us_per_probe": (c1 - c0) / probes * 1e6 if probes else None,
        "cpu_s_per_1000": (c1 - c0) / probes * 1000 if probes else None,
        "cpu_share": (c1 - c0) / (t1 - t0),
        "db_cpu_us_per_probe": (d1 - d0) / probes * 1e6 if probes and STORE else None,
        "rss_mib": rss,
        "late_p50": quantile(b0, b1, 0.50),
        "late_p99": quantile(b0, b1, 0.99),
    }


def blackbox(http_port, seconds):
    """CPU per probe of blackbox_exporter's http prober, driven as fast as 4 clients go."""
    exe = "prometheus-blackbox-exporter"
    if subprocess.run(["sh", "-c", f"command -v {exe}"], capture_output=True).returncode != 0:
        return None
    d = tempfile.mkdtemp(prefix="blackbox-")
    conf = os.path.join(d, "blackbox.yml")
    open(conf, "w").write("modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n")
    port = free_port()
    p = subprocess.Popen([exe, f"--config.file={conf}", f"--web.listen-address=127.0.0.1:{port}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/probe?module=http_2xx&target=http://127.0.0.1:{http_port}/"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(url, timeout=5).read()
                break
            except Exception:
                time.sleep(0.1)
        done = [0]
        stop = time.monotonic() + seconds
        def client():
            while time.monotonic() < stop:
                body = urllib.request.urlopen(url, timeout=10).read()
                assert b"probe_success 1" in body
                done[0] += 1
        c0, t0 = cpu_seconds(p.pid), time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(4)]
        for t in threads: t.start()
        for t in threads: t.join()
        c1, t1 = cpu_seconds(p.pid), time.monotonic()
    finally:
        p.terminate()
        p.wait()
    return {"probes_per_s": done[0] / (t1 - t0), "cpu_us_per_probe": (c1 - c0) / done[0] * 1e6}


def main():
    http_port, tcp_port = free_port(), free_port()
    server = subprocess.Popen([SERVER, str(http_port), str(tcp_port)])
    time.sleep(0.5)
    w = 3 if SMOKE else 10 if QUICK else 30
    try:
        only = os.environ.get("PHASES", "1k,10k,sat,tcp,blackbox").split(",")
        plan = [
            ("1k", ("http, 1,000 targets", "http", 1000, "10s", 12)),
            ("10k", ("http, 10,000 targets", "http", 10000, "10s", 15)),
            ("sat", ("http, saturated", "http", 2000, "200ms", 8)),
            ("tcp", ("tcp, 1,000 targets", "tcp", 1000, "1s", 5)),
        ]
        rows = [phase(*args[:5], w, http_port, tcp_port) for key, args in plan if key in only]
        bb = blackbox(http_port, w) if "blackbox" in only else None
    finally:
        server.terminate()
    print(f"Machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}; window {w} s per phase.\n")
    print("| phase | targets | interval | probes/s | CPU µs/probe | CPU s per 1,000 probes | CPU (cores) | RSS MiB | lateness p50 | lateness p99 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['phase']} | {r['targets']} | {r['interval']} | {r['probes_per_s']:.0f} | "
              f"{r['cpu_us_per_probe']:.0f} | {r['cpu_s_per_1000']:.3f} | {r['cpu_share']:.2f} | {r['rss_mib']:.0f} | "
              f"{fmt_le(r['late_p50'])} | {fmt_le(r['late_p99'])} |")
    if STORE:
        print("\nOn PostgreSQL: CPU of the database's processes per probe (beside probity's own): "
              + ", ".join(f"{r['phase']} {r['db_cpu_us_per_probe']:.0f} µs" for r in rows if r['db_cpu_us_per_probe'] is not None))
    if bb:
        print(f"\nblackbox_exporter (http_2xx, 4 clients as fast as they go): {bb['probes_per_s']:.0f} probes/s, "
              f"{bb['cpu_us_per_probe']:.0f} µs CPU per probe.")
    else:
        print("\nblackbox_exporter: not measured in this run (not installed, or left out by PHASES).")
    if not SMOKE:
        json.dump({"rows": rows, "blackbox": bb}, open(os.path.join(ROOT, "target/bench-results.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
