//! The `probity` command as a user runs it: `check`, `probe` and `demo`.

use crate::common;

use common::run;
use probity::demo::cloud::{Cloud, Script};

const GOOD: &str = r#"[server]
listen = "127.0.0.1:0"

[[target]]
name = "web"
kind = "http"
url = "https://example.com/"

[[target]]
name = "db"
kind = "tcp"
address = "db.internal:5432"
"#;

#[test]
fn check_accepts_a_valid_file_with_a_one_line_summary() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("probity.toml"), GOOD).unwrap();
    // --config defaults to probity.toml in the current directory.
    let (code, out, err) = run(&["check"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, "probity.toml: ok, 2 targets (1 http, 1 tcp)\n");
    let (code, out, _) = run(&["check", "--config", "probity.toml", "--json"], dir.path());
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["targets"][1]["kind"], "tcp");
}

#[test]
fn check_reports_each_problem_as_file_line_col_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = r#"[server]
listen = "127.0.0.1:0"

[[target]]
name = "web"
kind = "http"
url = "https://example.com/"
intervall = "30s"

[[target]]
name = "web"
kind = "tcp"
address = "db:5432"

[[target]]
name = "slow"
kind = "http"
url = "https://example.com/"
timeout = "10 parsecs"
conditions = ["[STATUS] == 200", "[LATENCY] <> 2s"]
"#;
    std::fs::write(dir.path().join("bad.toml"), bad).unwrap();
    let (code, out, err) = run(&["check", "--config", "bad.toml"], dir.path());
    assert_eq!(code, 2, "{out}{err}");
    assert_eq!(out, "");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("bad.toml:")).collect();
    assert_eq!(
        lines,
        [
            "bad.toml:8:1: unknown key `intervall` in [[target]]; did you mean `interval`?",
            "bad.toml:11:8: duplicate target name `web` (first defined on line 5)",
            "bad.toml:19:11: [[target]]: unknown unit `parsecs` in `10 parsecs`; use ms, s, m, h or d",
            "bad.toml:20:45: target `slow`: condition: `<>` is not an operator; use ==, !=, <, <=, >, >=",
            "bad.toml: 4 problems",
        ]
    );
    // The condition error points into the string with a caret.
    let cond = err
        .lines()
        .position(|l| l.contains("condition:"))
        .expect(&err);
    let line = err.lines().nth(cond).unwrap();
    let snippet = err.lines().nth(cond + 1).unwrap();
    let caret = err.lines().nth(cond + 2).unwrap();
    assert_eq!(
        snippet.trim(),
        r#"conditions = ["[STATUS] == 200", "[LATENCY] <> 2s"]"#
    );
    let col: usize = line.split(':').nth(2).unwrap().parse().unwrap();
    assert_eq!(caret.find('^').unwrap() - 4, col - 1);
    assert_eq!(&snippet[caret.find('^').unwrap()..][..2], "<>");
    assert!(err.ends_with("bad.toml: 4 problems\n"), "{err}");
}

#[test]
fn check_on_a_missing_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = run(&["check", "--config", "nope.toml"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.starts_with("nope.toml:1:1: cannot read the configuration"),
        "{err}"
    );
}

async fn cli_async(args: Vec<String>, cwd: std::path::PathBuf) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        run(&a, &cwd)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_prints_a_timeline_and_exits_by_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = Cloud::start(
        Script {
            cert_days: 10,
            ..Script::healthy()
        },
        dir.path(),
    )
    .await
    .unwrap();
    let url = format!("https://localhost:{}/health", cloud.https.port());
    let (code, out, err) = cli_async(
        vec![
            "probe".into(),
            url.clone(),
            "--ca-file".into(),
            "demo-ca.pem".into(),
            "-4".into(),
        ],
        dir.path().to_path_buf(),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with(&format!("{url}  [http] → 127.0.0.1:")),
        "{out}"
    );
    for (i, phase) in ["dns", "connect", "tls", "ttfb", "total"]
        .iter()
        .enumerate()
    {
        assert!(lines[i + 1].trim_start().starts_with(phase), "{out}");
        assert!(
            lines[i + 1].contains(" ms") || lines[i + 1].contains(" s"),
            "{out}"
        );
    }
    assert!(out.contains("  tls      TLSv1.3 TLS13_"), "{out}");
    assert!(
        out.contains("  cert     CN=localhost, issued by CN=probity demo CA"),
        "{out}"
    );
    assert!(out.contains("  verify   ok"), "{out}");
    assert!(out.contains("  http     200 (HTTP/1.1)"), "{out}");
    assert!(out.contains("  ✔ [STATUS] < 400"), "{out}");
    assert!(out.ends_with("verdict: up\n"), "{out}");

    // JSON, with a failing condition: exit 1 and the reason.
    let (code, out, _) = cli_async(
        vec![
            "probe".into(),
            url,
            "--ca-file".into(),
            "demo-ca.pem".into(),
            "--json".into(),
            "-C".into(),
            "[CERT_EXPIRY] > 14d".into(),
        ],
        dir.path().to_path_buf(),
    )
    .await;
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["health"], "degraded");
    assert_eq!(v["cause"]["class"], "condition");
    assert_eq!(v["kind"], "http");
    assert!(v["phases"]["tls_ms"].as_f64().unwrap() > 0.0);
    assert_eq!(v["details"]["tls"]["verdict"], "ok");

    // TCP and DNS, guessed and explicit.
    let (code, out, _) = cli_async(
        vec!["probe".into(), cloud.tcp.to_string()],
        dir.path().to_path_buf(),
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with(&format!("{}  [tcp]", cloud.tcp)), "{out}");
    let (code, out, _) = cli_async(
        vec![
            "probe".into(),
            probity::demo::cloud::DNS_NAME.into(),
            "--kind".into(),
            "dns".into(),
            "--resolver".into(),
            cloud.dns.to_string(),
            "--json".into(),
        ],
        dir.path().to_path_buf(),
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["details"]["dns_answers"][0], "127.0.0.1");
}

#[tokio::test(flavor = "multi_thread")]
async fn probe_by_name_uses_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let cloud = Cloud::start(Script::healthy(), dir.path()).await.unwrap();
    std::fs::write(
        dir.path().join("probity.toml"),
        format!("[[target]]\nname = \"cache\"\nkind = \"tcp\"\naddress = \"{}\"\nsend = \"PING\"\nexpect = \"+PONG\"\n", cloud.tcp),
    )
    .unwrap();
    let (code, out, err) = cli_async(
        vec!["probe".into(), "cache".into()],
        dir.path().to_path_buf(),
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!("cache ({})  [tcp]", cloud.tcp)),
        "{out}"
    );
    assert!(out.contains("  reply    \"+PONG\""), "{out}");
}

#[test]
fn probe_failures_exit_1_and_bad_conditions_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (code, out, _) = run(&["probe", &format!("http://{free}/")], dir.path());
    assert_eq!(code, 1);
    assert!(out.contains("verdict: down — connect: "), "{out}");
    let (code, _, err) = run(
        &["probe", "http://127.0.0.1:1/", "-C", "[STATUS] = 200"],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert_eq!(
        err,
        "--condition: `=` is not an operator; write `==` to compare\n    [STATUS] = 200\n             ^\n"
    );
}

#[test]
fn demo_runs_offline_and_shows_an_outage_open_and_resolve() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let (code, out, err) = run(
        &[
            "demo",
            "--fast",
            "--duration",
            "8s",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            data.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("probity demo: a local \"cloud\" that misbehaves on a script"),
        "{out}"
    );
    // Failing below the threshold is said before the incident opens.
    assert!(
        out.contains("storage-api  up → failing  (http_status: [STATUS] == 200 (got 503))"),
        "{out}"
    );
    assert!(
        out.contains("storage-api  failing → down  (http_status: [STATUS] == 200 (got 503))"),
        "{out}"
    );
    assert!(
        out.contains("compute-api  failing → degraded  (condition: [LATENCY] < 600ms"),
        "{out}"
    );
    assert!(
        out.contains(
            "web-https    failing → degraded  (condition: [CERT_EXPIRY] > 14d (got 10.0d))"
        ),
        "{out}"
    );
    let opened = out
        .lines()
        .filter(|l| l.contains("opened on storage-api"))
        .count();
    let resolved = out
        .lines()
        .filter(|l| l.contains("on storage-api resolved"))
        .count();
    assert_eq!((opened, resolved), (1, 1), "{out}");
    // The cdn fails from one of its three vantages only: regional, and no incident.
    assert!(
        out.contains(
            "cdn-edge     up → degraded  (failing from us-east only: a regional degradation)"
        ),
        "{out}"
    );
    assert!(!out.contains("opened on cdn-edge"), "{out}");
    // The cloud's status page posts the storage outage late and resolves it; the demo
    // narrates what probity read from it.
    assert!(
        out.contains(
            "provider's status page: \"Elevated error rates on Storage\" investigating (impact minor"
        ),
        "{out}"
    );
    assert!(
        out.contains(
            "provider's status page: \"Elevated error rates on Storage\" resolved (impact minor"
        ),
        "{out}"
    );
    // The configuration it wrote is valid and checkable.
    let (code, out, _) = run(
        &[
            "check",
            "--config",
            data.join("demo.toml").to_str().unwrap(),
        ],
        dir.path(),
    );
    assert_eq!(code, 0);
    assert!(
        out.ends_with("ok, 7 targets (1 dns, 4 http, 1 object_store, 1 tcp), 1 feed, 2 vantages\n"),
        "{out}"
    );
}

#[test]
fn demo_in_real_time_starts_serving_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (code, out, err) = run(
        &["demo", "--duration", "7s", "--listen", "127.0.0.1:0"],
        dir.path(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("+1:00  storage-api answers 503"), "{out}");
    // Every target is probed within its first interval and shows a state.
    for t in ["storage-api", "compute-api", "cache-tcp", "api-dns"] {
        assert!(out.contains(&format!("{t:<12} unknown → up")), "{t}: {out}");
    }
    assert!(out.contains("demo stopped; its data stays in"), "{out}");
}

#[test]
fn completions_and_manual_pages_come_from_the_cli_definition() {
    let dir = tempfile::tempdir().unwrap();
    let (code, bash, err) = run(&["completions", "bash"], dir.path());
    assert_eq!(code, 0, "{err}");
    // bash itself accepts the script, and it completes every command.
    std::fs::write(dir.path().join("probity.bash"), &bash).unwrap();
    let ok = std::process::Command::new("bash")
        .arg("-n")
        .arg(dir.path().join("probity.bash"))
        .status()
        .unwrap();
    assert!(ok.success(), "bash rejects the completion script");
    for sub in ["run", "agent", "token", "evidence", "completions", "man"] {
        assert!(bash.contains(sub), "{sub} missing from bash completions");
    }
    let (_, zsh, _) = run(&["completions", "zsh"], dir.path());
    assert!(zsh.starts_with("#compdef probity"), "{}", &zsh[..40]);
    let (_, fish, _) = run(&["completions", "fish"], dir.path());
    assert!(fish.contains("complete -c probity"), "fish");
    let (code, _, err) = run(&["completions", "tcsh"], dir.path());
    assert_eq!(code, 2);
    assert!(err.contains("invalid value 'tcsh'"), "{err}");

    let (code, page, _) = run(&["man"], dir.path());
    assert_eq!(code, 0);
    assert!(page.contains(".TH probity 1"), "{page}");
    assert!(page.contains("probity\\-agent(1)"), "{page}");
    let (code, out, err) = run(&["man", "--dir", "man1"], dir.path());
    assert_eq!(code, 0, "{err}");
    let pages: Vec<&str> = out.lines().collect();
    for p in [
        "man1/probity.1",
        "man1/probity-agent.1",
        "man1/probity-token-create.1",
    ] {
        assert!(pages.contains(&p), "{p} not written: {out}");
        assert!(dir.path().join(p).exists());
    }
    // Where man is installed, every page renders.
    if std::process::Command::new("man")
        .arg("--version")
        .output()
        .is_ok()
    {
        for p in &pages {
            let r = std::process::Command::new("man")
                .args(["-l", "-P", "cat"])
                .arg(dir.path().join(p))
                .env("MANWIDTH", "80")
                .output()
                .unwrap();
            assert!(
                r.status.success(),
                "{p}: {}",
                String::from_utf8_lossy(&r.stderr)
            );
            assert!(!r.stdout.is_empty(), "{p} renders empty");
        }
    } else {
        common::skipped(
            "completions_and_manual_pages_come_from_the_cli_definition: rendering with man: not installed",
        );
    }
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    // The reading end is closed before probity writes: its output is not wanted.
    for args in [
        vec![
            "feeds",
            "parse",
            "--format",
            "rss",
            "docs/examples/feeds/statuspage-history.rss",
            "--json",
        ],
        vec!["config", "schema"],
        vec!["man"],
    ] {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut child = common::bin()
            .args(&args)
            .current_dir(&root)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert!(
            out.stderr.is_empty(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// `probity init` → `probity check` → `probity run`, offline: the starting file (plain, and
/// with each provider) is accepted, runs, and serves its status page at `/`. (The test
/// moves `listen` to a free port, as a second server on one machine must.)
#[test]
fn init_check_run_works_offline() {
    for provider in [None, Some("azure"), Some("aws"), Some("gcp")] {
        let dir = tempfile::tempdir().unwrap();
        let mut args = vec!["init"];
        if let Some(p) = provider {
            args.extend(["--provider", p]);
        }
        let (code, out, err) = common::run(&args, dir.path());
        assert_eq!(code, 0, "{err}");
        assert!(
            out.starts_with("wrote probity.toml; next: probity check"),
            "{out}"
        );
        let (code, out, err) = common::run(&["check"], dir.path());
        assert_eq!(code, 0, "{provider:?}: {err}");
        let expected = if provider.is_some() {
            "2 targets (2 http), 1 feed"
        } else {
            "1 target (1 http)"
        };
        assert!(out.contains(expected), "{out}");
        // A second init leaves the file alone.
        let (code, _, err) = common::run(&["init"], dir.path());
        assert_eq!(code, 2);
        assert!(err.contains("exists; leaving it as it is"), "{err}");
        if provider == Some("aws") {
            let path = dir.path().join("probity.toml");
            let text = std::fs::read_to_string(&path).unwrap();
            assert!(text.contains("region = \"eu-west-1\""), "{text}");
            std::fs::write(&path, text.replace("127.0.0.1:8080", "127.0.0.1:0")).unwrap();
            let probity = common::Running::start(&path);
            let (status, html) = common::get(probity.addr, "/status");
            assert_eq!(status, 200);
            assert!(html.contains("Website"), "{html}");
            assert!(probity.stop().success());
        }
    }
    // Without a configuration: how to make one.
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = common::run(&["check"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains("write a starting one with `probity init`"),
        "{err}"
    );
}

/// Read commands report on a store; where there is none they say so (exit code 2) and
/// create nothing.
#[test]
fn read_commands_do_not_create_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    common::write_config(
        dir.path(),
        "",
        "[[target]]\nname = \"vm\"\nkind = \"tcp\"\naddress = \"127.0.0.1:9\"\n\n[[sla]]\nname = \"vm\"\nterms = \"aws-ec2-region\"\ntargets = [\"vm\"]\n",
    );
    for args in [
        &["scorecard"][..],
        &["sla", "report"][..],
        &["evidence", "audit"][..],
        &["ack", "1"][..],
    ] {
        let (code, _, err) = common::run(args, dir.path());
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(
            err.contains("no store in") && err.contains("nothing has been measured there yet"),
            "{args:?}: {err}"
        );
    }
    assert!(
        !dir.path().join("data/probity.db").exists(),
        "nothing was created"
    );
}

/// Every command the demo tells its user to type works as printed, while it runs; the URL
/// it prints first answers; its script is listed in the order it happens.
#[test]
fn the_demos_printed_instructions_work_as_printed() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let mut demo = common::bin()
        .args([
            "demo",
            "--fast",
            "--duration",
            "12s",
            "--listen",
            "127.0.0.1:0",
            "--data-dir",
            "d",
        ])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(demo.stdout.take().unwrap()).lines();
    let mut banner = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let end = line.starts_with("Ctrl-C stops the demo");
        banner.push(line);
        if end {
            break;
        }
    }
    let text = banner.join("\n");
    // The first thing said after the title is the one URL to open.
    let open = banner
        .iter()
        .find_map(|l| l.trim_start().strip_prefix("open      "))
        .unwrap_or_else(|| panic!("{text}"));
    let url = open.split_whitespace().next().unwrap();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with('/'),
        "{text}"
    );
    let addr: std::net::SocketAddr = url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let (status, html) = common::get(addr, "/status");
    assert_eq!(status, 200);
    assert!(html.contains("<h1>"), "{html}");
    // `--data-dir d` stores in d, not d/d.
    assert!(dir.path().join("d/probity.db").exists());
    assert!(!dir.path().join("d/d").exists());
    // The script, in time order.
    let times: Vec<u64> = banner
        .iter()
        .filter_map(|l| {
            let t = l.trim_start().trim_start_matches("script").trim_start();
            let t = t.strip_prefix('+')?.split_whitespace().next()?;
            let (m, s) = t.split_once(':')?;
            Some(m.parse::<u64>().ok()? * 60 + s.parse::<u64>().ok()?)
        })
        .collect();
    assert!(times.len() >= 8, "{text}");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}\n{text}");
    // Every command under "look", run as printed by a shell.
    let mut in_look = false;
    let mut ran = 0;
    for l in &banner {
        let t = l.trim_start();
        if let Some(rest) = t.strip_prefix("look") {
            in_look = true;
            run_printed(rest.trim(), &text);
            ran += 1;
        } else if in_look && !t.is_empty() && !t.starts_with("Ctrl-C") {
            run_printed(t, &text);
            ran += 1;
        } else if in_look && t.is_empty() {
            in_look = false;
        }
    }
    assert!(ran >= 7, "{ran} commands: {text}");
    let _ = demo.wait();
}

fn run_printed(command: &str, banner: &str) {
    if command.starts_with("curl") && !common::have("curl") {
        common::skipped("curl is not installed: a printed curl command was not run");
        return;
    }
    let out = std::process::Command::new("sh")
        .args(["-c", command])
        .output()
        .unwrap();
    assert!(
        out.status.success() && !out.stdout.is_empty(),
        "`{command}` printed by the demo failed: {}\n{banner}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `probity probe NAME` looks NAME up in the configuration; a bare word that no
/// configuration has is refused with what to do, never probed as a DNS name by guess.
#[test]
fn probing_an_unknown_name_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, err) = common::run(&["probe", "web"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no target `web`: there is no configuration at probity.toml to look it up in"),
        "{err}"
    );
    common::write_config(
        dir.path(),
        "",
        "[[target]]\nname = \"db\"\nkind = \"tcp\"\naddress = \"127.0.0.1:9\"\n",
    );
    let (code, _, err) = common::run(&["probe", "web"], dir.path());
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("no target named `web` in probity.toml (targets: db)"),
        "{err}"
    );
}

/// The exit-code convention of docs/operations.md, kept by every command: a usage error
/// (an unknown flag) and a configuration that does not load are both 2.
#[test]
fn every_command_exits_2_on_usage_and_configuration_errors() {
    let dir = tempfile::tempdir().unwrap();
    let with_config: &[&[&str]] = &[
        &["run"],
        &["check"],
        &["scorecard"],
        &["sla", "report"],
        &["ack", "1"],
        &["status-page", "post", "--name", "x", "--message", "y"],
        &["token", "list"],
        &["token", "create", "--name", "x"],
        &["results", "import", "x.jsonl"],
        &["feeds", "import", "--feed", "x", "x.json"],
        &["evidence", "key"],
        &[
            "evidence",
            "export",
            "--from",
            "2026-01-01T00:00:00Z",
            "--out",
            "b.json",
        ],
        &["evidence", "audit"],
    ];
    for args in with_config {
        let mut bad = args.to_vec();
        bad.push("--no-such-flag");
        let (code, _, err) = common::run(&bad, dir.path());
        assert_eq!(code, 2, "{bad:?}: {err}");
        let mut missing = args.to_vec();
        missing.extend(["--config", "missing.toml"]);
        let (code, _, err) = common::run(&missing, dir.path());
        assert_eq!(code, 2, "{missing:?}: {err}");
        assert!(err.contains("missing.toml"), "{missing:?}: {err}");
    }
    for args in [
        &["probe", "--no-such-flag", "x"][..],
        &["evidence", "verify"][..],
        &["init", "--provider", "nowhere"][..],
        &["demo", "--duration", "soon"][..],
        &["agent"][..],
    ] {
        let (code, _, err) = common::run(args, dir.path());
        assert_eq!(code, 2, "{args:?}: {err}");
    }
}
