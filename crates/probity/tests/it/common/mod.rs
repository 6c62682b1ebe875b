//! Helpers shared by the integration tests: real servers on loopback, the real binary.
#![allow(dead_code)]

pub mod pg;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Says that a test (or a check of it) was skipped, and why, on standard output itself:
/// libtest captures `println!` and `eprintln!` of a passing test, and a skip must show.
pub fn skipped(what: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "SKIPPED {what}");
}

/// A status-feed document from `tests/fixtures/feeds`.
pub fn feed_fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/feeds")
            .join(name),
    )
    .unwrap()
}

/// Whether a command is installed (it runs with `--version`).
pub fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Whether `cmd` is missing: then says so on standard output as `test`'s skip, and fails
/// the test instead when the environment variable `required` is set (CI sets it).
pub fn lacks(cmd: &str, required: &str, test: &str, what: &str) -> bool {
    if have(cmd) {
        return false;
    }
    assert!(
        std::env::var_os(required).is_none(),
        "{what} is required but missing"
    );
    skipped(&format!("{test}: {what} is not installed (no {cmd})"));
    true
}

/// Writes `DIR/probity.toml` for a test server: listening on a free loopback port, data in
/// `DIR/data`, with `server` added to `[server]` and `rest` after it; returns its path.
/// The `[server]` lines every test server starts with: a free loopback port, its data in
/// `data` beside the file.
pub const SERVER: &str = "[server]\nlisten = \"127.0.0.1:0\"\ndata_dir = \"data\"\n";

/// Writes a test server's configuration to `path`: [`SERVER`], then `rest` (further
/// `[server]` keys first, then the other tables).
pub fn write_config_at(path: &Path, rest: impl AsRef<str>) -> std::io::Result<()> {
    std::fs::write(path, format!("{SERVER}{}", rest.as_ref()))
}

/// Writes `dir/probity.toml` for a test server: [`SERVER`], `server` (more `[server]`
/// keys), then `rest`.
pub fn write_config(dir: &Path, server: &str, rest: &str) -> std::path::PathBuf {
    let path = dir.join("probity.toml");
    write_config_at(&path, format!("{server}\n{rest}")).unwrap();
    path
}

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_probity"))
}

/// Runs `probity ARGS` in `cwd`: exit code, stdout, stderr.
pub fn run(args: &[&str], cwd: &Path) -> (i32, String, String) {
    let out = bin()
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run probity");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A blocking HTTP GET returning status and body (std only, so tests need no client crate).
pub fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    get_with_headers(addr, path, "")
}

/// A GET with `Authorization: Bearer TOKEN`.
pub fn get_with_token(addr: SocketAddr, path: &str, token: &str) -> (u16, String) {
    get_with_headers(addr, path, &format!("Authorization: Bearer {token}\r\n"))
}

fn get_with_headers(addr: SocketAddr, path: &str, headers: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect to probity");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    (status, body)
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        body = &rest[n + 2..];
    }
    out
}

/// Like [`get_json`] but `None` on any failure, for readiness loops.
pub fn try_get_json(addr: SocketAddr, path: &str) -> Option<serde_json::Value> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    if head.split_whitespace().nth(1) != Some("200") {
        return None;
    }
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    serde_json::from_str(&body).ok()
}

pub fn get_json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, body) = get(addr, path);
    assert_eq!(status, 200, "GET {path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: {e}: {body}"))
}

/// Polls `f` until it returns Some or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A `probity run` child process, stopped with SIGTERM on drop.
pub struct Running {
    pub child: Child,
    pub addr: SocketAddr,
    /// Everything the server wrote to standard error so far (its log).
    pub log: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Running {
    /// Starts `probity run --config FILE` on a free port and waits until it serves.
    pub fn start(config: &Path) -> Running {
        Running::start_with_env(config, &[])
    }

    /// [`Running::start`] with extra environment variables for the child.
    pub fn start_with_env(config: &Path, env: &[(&str, String)]) -> Running {
        let mut cmd = bin();
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.args(["run", "--config"]).arg(config);
        Running::spawn(cmd)
    }

    /// [`Running::start`] after a shell runs `prelude` (a `ulimit`, say) in the server's
    /// own process.
    pub fn start_after(prelude: &str, config: &Path) -> Running {
        let mut cmd = Command::new("bash");
        cmd.arg("-c").arg(format!(
            "{prelude} && exec {} run --config {}",
            env!("CARGO_BIN_EXE_probity"),
            config.display()
        ));
        Running::spawn(cmd)
    }

    /// Spawns `cmd` (a `probity run`) and waits until it serves.
    fn spawn(mut cmd: Command) -> Running {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn probity run");
        // The server prints its address on stderr once it listens.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let keep = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead;
            let mut sent = false;
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if !sent && let Some(a) = line.strip_prefix("probity: serving on http://") {
                    let _ = tx.send(a.parse::<SocketAddr>().unwrap());
                    sent = true;
                }
                let mut log = keep.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("probity run did not start serving");
        Running { child, addr, log }
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn stop(mut self) -> std::process::ExitStatus {
        signal(&self.child, "TERM");
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }

    /// Kills the process outright (SIGKILL): nothing gets to clean up.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::mem::forget(self);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn signal(child: &Child, sig: &str) {
    let ok = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
}

/// Serves `app` on `listener` from a thread of its own (with its own runtime), for as long
/// as the test runs.
pub fn serve_on(listener: std::net::TcpListener, app: axum::Router) {
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
}

/// [`serve_on`] a free loopback port; its address.
pub fn serve(app: axum::Router) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    serve_on(listener, app);
    addr
}

/// An HTTP server whose `/` answers 200 or 503 as the switch says.
pub fn switchable_server() -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let up = std::sync::Arc::new(AtomicBool::new(true));
    let flag = up.clone();
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let up = flag.load(Ordering::SeqCst);
            async move {
                if up {
                    (axum::http::StatusCode::OK, "up")
                } else {
                    (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down")
                }
            }
        }),
    );
    (serve(app), up)
}

/// A blocking POST with an optional bearer token: status and the body as JSON (`Null` when
/// it is not JSON).
pub fn post_json(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
    (
        head.split_whitespace().nth(1).unwrap().parse().unwrap(),
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}

/// Runs `promtool check metrics` on an exposition: it must pass. Without promtool the
/// check is skipped (and says so), unless PROBITY_REQUIRE_PROMTOOL is set.
pub fn promtool_check(test: &str, metrics: &str) {
    use std::io::Write;
    let promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = promtool else {
        assert!(
            std::env::var_os("PROBITY_REQUIRE_PROMTOOL").is_none(),
            "promtool is required but missing"
        );
        skipped(&format!(
            "{test}: the promtool check: promtool is not installed"
        ));
        return;
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(metrics.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool rejected the metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The arguments of `probity agent` pushing to `server_url` as `name` with `spool`.
pub fn agent_args(server_url: &str, name: &str, spool: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = ["agent", "--server", server_url, "--name", name]
        .iter()
        .map(Into::into)
        .collect();
    args.push("--spool".into());
    args.push(spool.into());
    args
}

/// `probity agent …` with its token in the environment and quiet output, ready to adjust
/// and spawn.
pub fn agent_command(server_url: &str, token: &str, name: &str, spool: &Path) -> Command {
    let mut cmd = bin();
    cmd.args(agent_args(server_url, name, spool))
        .env("PROBITY_AGENT_TOKEN", token)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// A `probity agent` child process, killed on drop.
pub struct Agent {
    pub child: Child,
}

impl Agent {
    /// An agent pushing to `http://server`, with extra environment.
    pub fn start(
        server: SocketAddr,
        token: &str,
        name: &str,
        spool: &Path,
        env: &[(&str, String)],
    ) -> Agent {
        let mut cmd = agent_command(&format!("http://{server}"), token, name, spool);
        for (k, v) in env {
            cmd.env(k, v);
        }
        Agent::spawn(cmd)
    }

    pub fn spawn(mut cmd: Command) -> Agent {
        Agent {
            child: cmd.spawn().expect("spawn probity agent"),
        }
    }

    /// SIGTERM: the agent stops probing and makes a last push of its spool.
    pub fn stop(mut self) {
        signal(&self.child, "TERM");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "agent exited with {status:?}");
        std::mem::forget(self);
    }

    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        std::mem::forget(self);
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `probity token create --agent NAME`, with the environment the configuration needs;
/// returns the token.
pub fn agent_token(config: &Path, name: &str, env: &[(&str, String)]) -> String {
    let mut cmd = bin();
    cmd.args(["token", "create", "--config"])
        .arg(config)
        .args(["--agent", name]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = stdout.lines().last().unwrap().trim().to_string();
    assert!(token.starts_with("pba_"), "{stdout}");
    token
}

/// A target's results (up to 10,000), newest first.
pub fn results(addr: SocketAddr, target: &str) -> Vec<serde_json::Value> {
    get_json(
        addr,
        &format!("/api/v1/targets/{target}/results?limit=10000"),
    )
    .as_array()
    .unwrap()
    .clone()
}

/// The agent ids (`vantage:boot:n`) of `vantage`'s results, each boot's numbers sorted.
pub fn sequences(
    rs: &[serde_json::Value],
    vantage: &str,
) -> std::collections::BTreeMap<String, Vec<u64>> {
    let mut by: std::collections::BTreeMap<String, Vec<u64>> = Default::default();
    for r in rs.iter().filter(|r| r["vantage"] == vantage) {
        let origin = r["origin"].as_str().expect("agent results carry their id");
        let mut parts = origin.split(':');
        assert_eq!(parts.next(), Some(vantage));
        let boot = parts.next().unwrap().to_string();
        let n: u64 = parts.next().unwrap().parse().unwrap();
        by.entry(boot).or_default().push(n);
    }
    for v in by.values_mut() {
        v.sort_unstable();
    }
    by
}

/// Every boot's results are numbered 1..=N with none missing: nothing the agent spooled
/// was lost (and `sequences` found no id twice if the caller checked uniqueness).
pub fn assert_no_gaps(seqs: &std::collections::BTreeMap<String, Vec<u64>>) {
    for (boot, ns) in seqs {
        let expected: Vec<u64> = (1..=*ns.last().unwrap()).collect();
        assert_eq!(ns, &expected, "boot {boot}: a gap means a result was lost");
    }
}

/// `probity demo --fast` on a free port for `duration`, with the dashboard token its
/// banner prints; stopped on drop.
pub struct DemoRun {
    pub child: Child,
    pub addr: SocketAddr,
    pub token: String,
}

impl DemoRun {
    pub fn start(duration: &str, data_dir: &Path) -> DemoRun {
        use std::io::BufRead;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let mut child = bin()
            .args(["demo", "--fast", "--duration", duration, "--listen"])
            .arg(addr.to_string())
            .arg("--data-dir")
            .arg(data_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // The banner names the dashboard's token.
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(t) = line.split("sign in with ").nth(1) {
                    let _ = tx.send(t.trim_end_matches(')').to_string());
                }
            }
        });
        let token = rx.recv_timeout(Duration::from_secs(30)).unwrap();
        DemoRun { child, addr, token }
    }
}

impl Drop for DemoRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A helper process (a Prometheus, an exporter) killed when the test ends.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A loopback port held by this test but not listening: connections to it are refused, and
/// no other socket (a probe's outgoing connection, another test's server) can take it
/// before [`ClosedPort::open`] starts listening on it.
pub struct ClosedPort {
    socket: socket2::Socket,
    pub addr: SocketAddr,
}

impl ClosedPort {
    pub fn new() -> ClosedPort {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        let addr = socket.local_addr().unwrap().as_socket().unwrap();
        ClosedPort { socket, addr }
    }

    /// Starts listening on the port.
    pub fn open(self) -> std::net::TcpListener {
        self.socket.listen(128).unwrap();
        self.socket.into()
    }
}

/// A loopback port free at the time of asking.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Prometheus in `dir` with the scrape configuration `scrape_configs` (YAML, the
/// list's items at two spaces) and the given scrape interval.
pub fn start_prometheus(dir: &Path, interval: &str, scrape_configs: &str) -> (Daemon, SocketAddr) {
    let port = free_port();
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: {interval}\n  scrape_timeout: {interval}\nscrape_configs:\n{scrape_configs}"
        ),
    )
    .unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (Daemon(child), format!("127.0.0.1:{port}").parse().unwrap())
}

/// One probity server of a test that runs several: its directory, port, log origin
/// (`probity.test/<name>`) and verifier key.
pub struct Instance {
    pub dir: std::path::PathBuf,
    pub port: u16,
    pub origin: String,
    pub key: String,
}

/// `n` instances under `root`, named `{prefix}0`, `{prefix}1`, …, each with its evidence
/// key made (`probity evidence key`) from the configuration `config(i, instance)` writes.
pub fn instances(
    root: &Path,
    prefix: &str,
    n: usize,
    config: impl Fn(usize, &Instance) -> String,
) -> Vec<Instance> {
    (0..n)
        .map(|i| {
            let dir = root.join(format!("{prefix}{i}"));
            std::fs::create_dir_all(&dir).unwrap();
            let mut inst = Instance {
                dir,
                port: free_port(),
                origin: format!("probity.test/{prefix}{i}"),
                key: String::new(),
            };
            std::fs::write(inst.dir.join("probity.toml"), config(i, &inst)).unwrap();
            let (code, out, err) = run(&["evidence", "key"], &inst.dir);
            assert_eq!(code, 0, "{err}");
            inst.key = out.trim().to_string();
            inst
        })
        .collect()
}

/// (idempotency key, event) of each request a [`webhook_receiver`] got.
pub type Received = std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>>;

/// A webhook receiver that answers 202 and keeps each request's idempotency key and event.
pub fn webhook_receiver() -> (SocketAddr, Received) {
    let got: Received = Default::default();
    let seen = got.clone();
    let app = axum::Router::new().fallback(
        move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                seen.lock().unwrap().push((
                    headers
                        .get("idempotency-key")
                        .and_then(|k| k.to_str().ok())
                        .unwrap_or_default()
                        .to_string(),
                    v["event"].as_str().unwrap_or_default().to_string(),
                ));
                axum::http::StatusCode::ACCEPTED
            }
        },
    );
    (serve(app), got)
}
