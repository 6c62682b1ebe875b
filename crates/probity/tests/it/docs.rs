//! Runs what the documentation shows. Every `toml` block in README.md and docs/*.md must pass
//! `probity check`; every `console` block is executed, command by command, and its output
//! compared with what the page says (`[..]` matches any text within a line, `...` any number
//! of lines, `? N` is the expected exit code). Commands that talk to `127.0.0.1:8080` run
//! against a live `probity demo` on a free port.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

pub(crate) fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn pages() -> Vec<PathBuf> {
    let mut pages = vec![root().join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    pages.extend(docs);
    pages
}

struct Block {
    page: String,
    line: usize,
    lang: String,
    body: String,
}

fn blocks() -> Vec<Block> {
    let mut out = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let name = page.strip_prefix(root()).unwrap().display().to_string();
        let mut lines = text.lines().enumerate();
        while let Some((i, line)) = lines.next() {
            let Some(lang) = line.strip_prefix("```") else {
                continue;
            };
            if lang.is_empty() {
                continue;
            }
            let mut body = String::new();
            for (_, l) in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            out.push(Block {
                page: name.clone(),
                line: i + 1,
                lang: lang.trim().to_string(),
                body,
            });
        }
    }
    out
}

#[test]
fn every_toml_example_passes_check() {
    let dir = tempfile::tempdir().unwrap();
    let env_ref = regex::Regex::new(r"\$\{env:([A-Za-z0-9_]+)\}").unwrap();
    let file_ref = regex::Regex::new(r"\$\{file:([^}]+)\}").unwrap();
    let mut checked = 0;
    for b in blocks().iter().filter(|b| b.lang == "toml") {
        let path = dir.path().join("example.toml");
        std::fs::write(&path, &b.body).unwrap();
        let mut cmd = common::bin();
        cmd.args(["check", "--config"]).arg(&path);
        for c in env_ref.captures_iter(&b.body) {
            cmd.env(&c[1], "example-secret-0123456789");
        }
        for c in file_ref.captures_iter(&b.body) {
            let p = dir.path().join(&c[1]);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, "example-secret\n").unwrap();
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}:{}: the example does not pass `probity check`:\n{}{}",
            b.page,
            b.line,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} toml examples found");
    // The example files the pages refer to are checked by the console blocks below.
}

/// One `$ command` with what it should print and its exit code.
struct Step {
    command: String,
    expected: Vec<String>,
    code: i32,
}

fn steps(body: &str) -> Vec<Step> {
    let mut steps: Vec<Step> = Vec::new();
    for line in body.lines() {
        if let Some(cmd) = line.strip_prefix("$ ") {
            steps.push(Step {
                command: cmd.to_string(),
                expected: Vec::new(),
                code: 0,
            });
        } else if let Some(code) = line.strip_prefix("? ") {
            steps.last_mut().expect("exit code before a command").code =
                code.trim().parse().unwrap();
        } else {
            steps
                .last_mut()
                .expect("output before a command")
                .expected
                .push(line.to_string());
        }
    }
    steps
}

/// Does `actual` fit `expected`? `[..]` matches any text in a line, `...` any lines.
fn fits(expected: &[String], actual: &[&str]) -> bool {
    match expected.split_first() {
        None => actual.is_empty(),
        Some((e, rest)) if e == "..." => (0..=actual.len()).any(|skip| fits(rest, &actual[skip..])),
        Some((e, rest)) => {
            let Some((a, arest)) = actual.split_first() else {
                return false;
            };
            let pattern = format!("^{}$", regex::escape(e).replace(r"\[\.\.\]", ".*"));
            regex::Regex::new(&pattern).unwrap().is_match(a) && fits(rest, arest)
        }
    }
}

/// A demo on a free port, ready once every target has a result and an incident exists.
struct Demo {
    _running: std::process::Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self._running.kill();
        let _ = self._running.wait();
    }
}

fn start_demo() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = common::bin()
        .args(["demo", "--fast", "--listen", &addr, "--data-dir"])
        .arg(dir.path().join("demo"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let sock: std::net::SocketAddr = addr.parse().unwrap();
    // The demo briefly binds the port to see whether it is free before serving on it, so
    // readiness checks must tolerate refused and reset connections.
    common::wait_for(Duration::from_secs(30), || {
        let t = common::try_get_json(sock, "/api/v1/targets")?;
        let all_measured = t.as_array()?.iter().all(|t| !t["last_result"].is_null());
        let i = common::try_get_json(sock, "/api/v1/incidents")?;
        // The demo's agents have pushed, so every vantage has a state.
        let v = common::try_get_json(sock, "/api/v1/vantages")?;
        let agents_heard = v.as_array()?.iter().all(|v| !v["last_contact"].is_null());
        let cdn = common::try_get_json(sock, "/api/v1/targets/cdn-edge")?;
        let three = cdn["vantages"].as_array()?.len() == 3;
        (all_measured && agents_heard && three && !i.as_array()?.is_empty()).then_some(())
    });
    Demo {
        _running: child,
        addr,
        _dir: dir,
    }
}

#[test]
fn every_console_example_runs_as_shown() {
    let demo = start_demo();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_probity"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    // Commands run in a scratch directory that links docs/, so what they write stays out of
    // the repository.
    let scratch = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(root().join("docs"), scratch.path().join("docs")).unwrap();
    let mut ran = 0;
    for b in blocks().iter().filter(|b| b.lang == "console") {
        for step in steps(&b.body) {
            let command = step.command.replace("127.0.0.1:8080", &demo.addr);
            let out = Command::new("sh")
                .arg("-c")
                .arg(&command)
                .current_dir(scratch.path())
                .env("PATH", &path)
                .output()
                .unwrap();
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            let actual: Vec<&str> = text.lines().collect();
            let expected: Vec<String> = step
                .expected
                .iter()
                .map(|l| l.replace("127.0.0.1:8080", &demo.addr))
                .collect();
            assert_eq!(
                out.status.code(),
                Some(step.code),
                "{}:{}: `{}` exited {:?}:\n{text}",
                b.page,
                b.line,
                step.command,
                out.status.code()
            );
            assert!(
                fits(&expected, &actual),
                "{}:{}: `{}` printed:\n{text}\nbut the page shows:\n{}",
                b.page,
                b.line,
                step.command,
                expected.join("\n")
            );
            ran += 1;
        }
    }
    assert!(ran >= 10, "only {ran} console commands found");
}

#[test]
fn shell_blocks_name_commands_that_exist() {
    // `sh` blocks hold the commands that build or install probity; they are run by CI
    // (`cargo test --workspace`), by the demo tests (`demo`) or are checked here.
    let manifest = std::fs::read_to_string(root().join("crates/probity/Cargo.toml")).unwrap();
    for b in blocks().iter().filter(|b| b.lang == "sh") {
        for line in b
            .body
            .lines()
            .map(|l| l.split('#').next().unwrap().trim())
            .filter(|l| !l.is_empty())
        {
            match line {
                "cargo run --release -- demo" => {
                    assert!(manifest.contains("default-run = \"probity\""))
                }
                "cargo test --workspace" => {
                    let ci = std::fs::read_to_string(root().join(".ci/run")).unwrap();
                    assert!(
                        ci.lines().any(|l| l.trim() == "cargo test --workspace"),
                        ".ci/run must run the README's test command"
                    );
                }
                // docs/operations.md's memory note: the value the packaged units set,
                // and a command the binary takes.
                "MALLOC_ARENA_MAX=2 probity run --config probity.toml" => {
                    let unit =
                        std::fs::read_to_string(root().join("packaging/probity.service")).unwrap();
                    assert!(unit.lines().any(|l| l == "Environment=MALLOC_ARENA_MAX=2"));
                    let (code, out, _) = crate::common::run(&["run", "--help"], &root());
                    assert_eq!(code, 0);
                    assert!(out.contains("--config"), "{out}");
                }
                "cargo install --locked --path crates/probity" => {
                    assert!(manifest.contains("name = \"probity\""))
                }
                // The benchmark takes minutes; `benchmark_harness_runs` below runs it in
                // SMOKE mode, and here its scripts must at least parse and know the knobs.
                l if l.ends_with("bash bench/run.sh") => {
                    let script = bench_script_knows(l, "bench/run.sh", "bench/measure.py", b);
                    if let Some(phases) =
                        l.split_whitespace().find_map(|w| w.strip_prefix("PHASES="))
                    {
                        for p in phases.split(',') {
                            assert!(
                                script.contains(&format!("\"{p}\"")),
                                "{}:{}: bench phase {p} unknown",
                                b.page,
                                b.line
                            );
                        }
                    }
                }
                // `soak_harness_runs` runs the soak in SMOKE mode; here the script must
                // parse and know the knobs a page sets.
                l if l.contains("bash bench/soak.sh") => {
                    bench_script_knows(l, "bench/soak.sh", "bench/soak.py", b);
                }
                // `benchmark_harness_runs` runs the evidence benchmark on a small log.
                l if l.starts_with("bash bench/evidence.sh") => bash_parses("bench/evidence.sh"),
                // `import_benchmark_runs` runs it on a small file (and
                // `import_benchmark_runs_on_postgres` with PROBITY_BENCH_STORE).
                l if l.starts_with("bash bench/import.sh") => bash_parses("bench/import.sh"),
                l if l.starts_with("PROBITY_BENCH_STORE=postgres://")
                    && l.contains(" bash bench/import.sh") =>
                {
                    let script = std::fs::read_to_string(root().join("bench/import.sh")).unwrap();
                    assert!(script.contains("PROBITY_BENCH_STORE"));
                    bash_parses("bench/import.sh")
                }
                // `reconcile_benchmark_runs` runs it on 2 targets and a day.
                l if l.starts_with("bash bench/reconcile.sh") => bash_parses("bench/reconcile.sh"),
                // `benchmarks::compact_benchmark_runs` runs it on 3 targets for 4 s.
                l if l.starts_with("bash bench/compact.sh") => bash_parses("bench/compact.sh"),
                l if l.starts_with("bash bench/status.sh") => bash_parses("bench/status.sh"),
                other => panic!("{}:{}: no test covers `{other}`", b.page, b.line),
            }
        }
    }
}

#[test]
fn the_matcher_itself() {
    let e = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert!(fits(
        &e(&["a [..] c", "...", "z"]),
        &["a b c", "x", "y", "z"]
    ));
    assert!(fits(&e(&["..."]), &[]));
    assert!(!fits(&e(&["a"]), &["a", "b"]));
    assert!(!fits(&e(&["a [..] c"]), &["a b d"]));
    assert!(!fits(&e(&["(x)"]), &["x"]));
}

#[test]
fn evidence_record_examples_are_what_the_encoder_writes() {
    // docs/evidence.md specifies the canonical records by example; each example line must be
    // byte for byte what probity writes for the same values.
    use probity_core::result::{Cause, ErrorClass, Health, Phases};
    use probity_engine::store::{IncidentChange, ResultRecord};
    let cause = |class: &serde_json::Value, detail: &serde_json::Value| {
        class.as_str().map(|c| Cause {
            class: ErrorClass::parse(c).unwrap(),
            detail: detail.as_str().unwrap().to_string(),
        })
    };
    let ids = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_i64().unwrap())
            .collect::<Vec<_>>()
    };
    let seen = |v: &serde_json::Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .map(|s| probity_core::quorum::Seen {
                        vantage: s["vantage"].as_str().unwrap().into(),
                        status: probity_core::quorum::VantageStatus::parse(
                            s["status"].as_str().unwrap(),
                        )
                        .unwrap(),
                        failing_since_ms: s["failing_since_ms"].as_i64(),
                        last_at_ms: s["last_at_ms"].as_i64(),
                    })
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    let mut checked = 0;
    for b in blocks()
        .iter()
        .filter(|b| b.lang == "json" && b.page == "docs/evidence.md")
    {
        for line in b.body.lines().filter(|l| l.starts_with('{')) {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("{}:{}: {e}", b.page, b.line));
            let encoded = match v["type"].as_str().unwrap() {
                "results" => {
                    let results: Vec<ResultRecord> = v["results"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|r| ResultRecord {
                            id: r["id"].as_i64().unwrap(),
                            target: r["target"].as_str().unwrap().into(),
                            vantage: r["vantage"].as_str().unwrap().into(),
                            at_ms: r["at_ms"].as_i64().unwrap(),
                            health: Health::parse(r["health"].as_str().unwrap()).unwrap(),
                            phases: Phases {
                                total_ms: r["total_ms"].as_f64(),
                                ..Default::default()
                            },
                            cause: cause(&r["error_class"], &r["error"]),
                            details: None,
                            unmeasured: r["unmeasured"].as_bool().unwrap_or(false),
                            origin: r["origin"].as_str().map(String::from),
                            clock_offset_ms: r["clock_offset_ms"].as_i64(),
                        })
                        .collect();
                    probity_engine::store::leaf::results_record(&results)
                }
                "incident" => {
                    let id = v["id"].as_i64().unwrap();
                    let change = match v["change"].as_str().unwrap() {
                        "opened" => IncidentChange::Open {
                            id,
                            target: v["target"].as_str().unwrap().into(),
                            started_at_ms: v["at_ms"].as_i64().unwrap(),
                            severity: Health::parse(v["severity"].as_str().unwrap()).unwrap(),
                            cause: cause(&v["cause_class"], &v["cause"]).unwrap(),
                            evidence: ids(&v["evidence"]),
                            seen: seen(&v["vantages"]),
                        },
                        "escalated" => IncidentChange::Escalate {
                            id,
                            severity: Health::parse(v["severity"].as_str().unwrap()).unwrap(),
                            result_id: ids(&v["evidence"])[0],
                        },
                        _ => IncidentChange::Resolve {
                            id,
                            resolved_at_ms: v["at_ms"].as_i64().unwrap(),
                            evidence: ids(&v["evidence"]),
                            seen: seen(&v["vantages"]),
                        },
                    };
                    probity_engine::store::leaf::incident_record(&change)
                }
                "feed_poll" => probity_engine::store::leaf::feed_poll_record(
                    v["feed"].as_str().unwrap(),
                    v["at_ms"].as_i64().unwrap(),
                    v["outcome"].as_str().unwrap(),
                    v["http_status"].as_u64().map(|s| s as u16),
                    v["sha256"].as_str(),
                    v["bytes"].as_u64().map(|b| b as usize),
                    v["error"].as_str(),
                ),
                "provider_incident" => probity_engine::store::leaf::provider_revision_record(
                    v["feed"].as_str().unwrap(),
                    v["external_id"].as_str().unwrap(),
                    v["revision"].as_u64().unwrap() as u32,
                    v["kind"].as_str().unwrap(),
                    v["seen_at_ms"].as_i64().unwrap(),
                    &serde_json::from_value::<Vec<probity_core::provider::FieldChange>>(
                        v["changes"].clone(),
                    )
                    .unwrap(),
                    v["document"].as_str().unwrap(),
                    &serde_json::from_value::<probity_core::provider::ProviderIncident>(
                        v["incident"].clone(),
                    )
                    .unwrap(),
                ),
                "verdict" => probity_engine::store::leaf::verdict_record(
                    &serde_json::from_value(v.clone()).unwrap(),
                ),
                "canary" => probity_engine::store::leaf::canary_record(
                    &serde_json::from_value(v.clone()).unwrap(),
                ),
                other => panic!("unknown record type {other}"),
            };
            assert_eq!(
                String::from_utf8(encoded).unwrap(),
                line,
                "{}:{}",
                b.page,
                b.line
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 11, "the record examples in docs/evidence.md");
}

/// Validates each document (JSON) against `schema` with Python's `jsonschema` (draft
/// 2020-12); returns one verdict per document: `None` when valid, else the first error.
/// `None` overall when the validator is not installed.
fn validate(schema: &str, docs: &[serde_json::Value]) -> Option<Vec<Option<String>>> {
    let script = r#"
import json, sys
try:
    import jsonschema
except ImportError:
    sys.exit(3)
data = json.load(sys.stdin)
v = jsonschema.Draft202012Validator(data["schema"])
jsonschema.Draft202012Validator.check_schema(data["schema"])
out = []
for d in data["docs"]:
    errs = sorted(v.iter_errors(d), key=lambda e: list(e.path))
    if errs:
        out.append("/".join(map(str, errs[0].path)) + ": " + errs[0].message)
    else:
        out.append(None)
print(json.dumps(out))
"#;
    let input = serde_json::json!({
        "schema": serde_json::from_str::<serde_json::Value>(schema).unwrap(),
        "docs": docs,
    });
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    {
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.to_string().as_bytes())
            .unwrap();
    }
    let out = child.wait_with_output().unwrap();
    if out.status.code() == Some(3) {
        return None;
    }
    assert!(
        out.status.success(),
        "the validator failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn every_configuration_example_validates_against_the_schema_and_check_agrees() {
    let out = common::bin().args(["config", "schema"]).output().unwrap();
    assert!(out.status.success());
    let schema = String::from_utf8(out.stdout).unwrap();
    // Every example in the docs, the example files, and the demo's configuration.
    let mut named: Vec<(String, String)> = blocks()
        .into_iter()
        .filter(|b| b.lang == "toml")
        .map(|b| (format!("{}:{}", b.page, b.line), b.body))
        .collect();
    for f in ["docs/examples/probity.toml", "docs/examples/feeds.toml"] {
        named.push((f.into(), std::fs::read_to_string(root().join(f)).unwrap()));
    }
    let docs: Vec<serde_json::Value> = named
        .iter()
        .map(|(name, text)| {
            let v: toml::Value = toml::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            serde_json::to_value(v).unwrap()
        })
        .collect();
    // Mistakes `probity check` refuses must be refused by the schema too.
    let wrong = [
        "[server]\nlisten = 8080\n",
        "[server]\nlissen = \"127.0.0.1:1\"\n",
        "[[target]]\nname = \"a\"\nkind = \"smtp\"\naddress = \"127.0.0.1:25\"\n",
        "[[target]]\nkind = \"tcp\"\naddress = \"127.0.0.1:25\"\n",
        "[[target]]\nname = \"a\"\nkind = \"tcp\"\naddress = \"127.0.0.1:25\"\ninterval = \"soon\"\n",
        "[[vantage]]\nname = \"eu\"\ncontrol = [\"a\"]\n",
        "[surver]\n",
    ];
    let wrong_docs: Vec<serde_json::Value> = wrong
        .iter()
        .map(|t| serde_json::to_value(toml::from_str::<toml::Value>(t).unwrap()).unwrap())
        .collect();
    let Some(verdicts) = validate(&schema, &[docs.clone(), wrong_docs].concat()) else {
        assert!(
            std::env::var_os("PROBITY_REQUIRE_JSONSCHEMA").is_none(),
            "Python's jsonschema is required but missing"
        );
        common::skipped(
            "every_configuration_example_validates_against_the_schema_and_check_agrees: Python's jsonschema is not installed",
        );
        return;
    };
    for ((name, _), verdict) in named.iter().zip(&verdicts) {
        assert!(
            verdict.is_none(),
            "{name}: the schema refuses it: {verdict:?}"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    for (text, verdict) in wrong.iter().zip(&verdicts[named.len()..]) {
        assert!(verdict.is_some(), "the schema accepts {text:?}");
        let path = dir.path().join("wrong.toml");
        std::fs::write(&path, text).unwrap();
        let out = common::bin()
            .args(["check", "--config"])
            .arg(&path)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "check accepts {text:?}");
    }
    assert!(named.len() >= 10, "only {} examples", named.len());
}

#[test]
fn the_grafana_dashboard_queries_metrics_that_exist() {
    let dash: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("contrib/grafana/probity.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(dash["uid"], "probity-overview");
    let exprs: Vec<(String, String)> = dash["panels"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| {
            p["targets"].as_array().into_iter().flatten().map(move |t| {
                (
                    p["title"].as_str().unwrap().to_string(),
                    t["expr"].as_str().unwrap().replace("$target", ".*"),
                )
            })
        })
        .collect();
    assert!(exprs.len() >= 20, "{}", exprs.len());
    // Every metric it queries is one the running demo exports, with the labels it uses.
    let demo = start_demo();
    let addr: std::net::SocketAddr = demo.addr.parse().unwrap();
    let name = regex::Regex::new(r"probity_[a-z_]+").unwrap();
    // Some families appear with their first value (scorecards every 5 s, SLOs with them).
    let metrics = common::wait_for(Duration::from_secs(30), || {
        let (_, m) = common::get(addr, "/metrics");
        exprs
            .iter()
            .flat_map(|(_, e)| name.find_iter(e))
            .all(|n| m.contains(&format!("\n{}", n.as_str())))
            .then_some(m)
    });
    let selector = regex::Regex::new(r"(probity_[a-z_]+)\{([^}]*)\}").unwrap();
    let label = regex::Regex::new(r"([a-z_]+)\s*(=~|!=|=)").unwrap();
    for (title, e) in &exprs {
        for m in name.find_iter(e) {
            assert!(
                metrics.contains(&format!("\n{}", m.as_str())),
                "{title}: {} is not exported",
                m.as_str()
            );
        }
        for c in selector.captures_iter(e) {
            let sample = metrics
                .lines()
                .find(|l| l.starts_with(&format!("{}{{", &c[1])))
                .unwrap_or_else(|| panic!("{title}: no sample of {}", &c[1]));
            for l in label.captures_iter(&c[2]) {
                assert!(
                    sample.contains(&format!("{}=\"", &l[1])),
                    "{title}: {} has no label {}: {sample}",
                    &c[1],
                    &l[1]
                );
            }
        }
    }
    // And promtool parses every expression (as recording rules).
    let dir = tempfile::tempdir().unwrap();
    let mut rules = String::from("groups:\n  - name: dashboard\n    rules:\n");
    for (i, (_, e)) in exprs.iter().enumerate() {
        rules.push_str(&format!(
            "      - record: probity:dashboard_{i}\n        expr: {}\n",
            serde_json::to_string(e).unwrap()
        ));
    }
    let path = dir.path().join("rules.yml");
    std::fs::write(&path, rules).unwrap();
    match Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&path)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => {
            assert!(
                std::env::var_os("PROBITY_REQUIRE_PROMTOOL").is_none(),
                "promtool is required but missing"
            );
            common::skipped(
                "the_grafana_dashboard_queries_metrics_that_exist: the PromQL check: promtool is not installed",
            );
        }
    }
}

/// Every key the configuration's schema has (in every table) is explained in
/// docs/configuration.md or a page it links: a key added without a word is a doc bug.
#[test]
fn every_configuration_key_is_documented() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let (code, out, err) = common::run(&["config", "schema"], &root);
    assert_eq!(code, 0, "{err}");
    let schema: serde_json::Value = serde_json::from_str(&out).unwrap();
    let docs: String = [
        "configuration.md",
        "agents.md",
        "feeds.md",
        "sla.md",
        "alerts.md",
        "gate.md",
        "storage.md",
        "federation.md",
    ]
    .iter()
    .map(|f| std::fs::read_to_string(root.join("docs").join(f)).unwrap())
    .collect();
    let defs = &schema["$defs"];
    // The object a property's schema stands for: through $ref, arrays and anyOf.
    fn object<'a>(
        defs: &'a serde_json::Value,
        s: &'a serde_json::Value,
    ) -> Option<&'a serde_json::Value> {
        if let Some(r) = s["$ref"].as_str() {
            return object(defs, &defs[r.trim_start_matches("#/$defs/")]);
        }
        if s.get("properties").is_some() {
            return Some(s);
        }
        if let Some(items) = s.get("items") {
            return object(defs, items);
        }
        for k in ["anyOf", "oneOf", "allOf"] {
            if let Some(list) = s[k].as_array()
                && let Some(o) = list.iter().find_map(|x| object(defs, x))
            {
                return Some(o);
            }
        }
        None
    }
    let mut missing = Vec::new();
    let mut seen = 0;
    for (table, s) in schema["properties"].as_object().unwrap() {
        let Some(obj) = object(defs, s) else { continue };
        for key in obj["properties"].as_object().unwrap().keys() {
            seen += 1;
            if !docs.contains(&format!("`{key}`"))
                && !docs.contains(&format!("\n{key} ="))
                && !docs.contains(&format!(".{key}]"))
            {
                missing.push(format!("[{table}] {key}"));
            }
        }
    }
    assert!(seen > 50, "only {seen} keys found in the schema");
    assert!(missing.is_empty(), "keys no page explains: {missing:?}");
}

/// The soak script of docs/BENCHMARKS.md, in SMOKE mode against the debug binary: three
/// kill -9 rounds, a short spell of refused writes and a hostile agent, and its verdict.
/// A benchmark script must parse.
fn bash_parses(script: &str) {
    let ok = Command::new("bash")
        .args(["-n", script])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(ok.success(), "{script} does not parse");
}

/// A page's `VAR=… bash SCRIPT` line: the script parses and its driver knows every knob the
/// line sets. Returns the driver's text.
fn bench_script_knows(line: &str, script: &str, driver: &str, b: &Block) -> String {
    bash_parses(script);
    let text = std::fs::read_to_string(root().join(driver)).unwrap();
    for (var, _) in line.split_whitespace().filter_map(|w| w.split_once('=')) {
        assert!(
            text.contains(&format!("\"{var}\"")),
            "{}:{}: {driver} knows no knob {var}",
            b.page,
            b.line
        );
    }
    text
}
