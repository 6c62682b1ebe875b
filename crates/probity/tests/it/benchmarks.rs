//! The benchmarks of docs/BENCHMARKS.md, each run small with the test's build: their
//! scripts must work and print every figure the page reports.

use crate::common;
use crate::docs::root;

use std::path::Path;
use std::process::Command;

#[test]
fn benchmark_harness_runs() {
    // The harness of docs/BENCHMARKS.md, in SMOKE mode against the debug binaries: it must
    // produce its table with real numbers. (cargo test builds the examples.)
    let bin = Path::new(env!("CARGO_BIN_EXE_probity"));
    let server = bin.parent().unwrap().join("examples/bench_server");
    assert!(server.exists(), "{} not built", server.display());
    let out = Command::new("python3")
        .arg("bench/measure.py")
        .current_dir(root())
        .env("SMOKE", "1")
        .env("PHASES", "1k,tcp")
        .env("PROBITY", bin)
        .env("BENCH_SERVER", &server)
        .output()
        .unwrap();
    let text = succeeded(&out);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| http") || l.starts_with("| tcp"))
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    for row in rows {
        let cells: Vec<&str> = row.split('|').map(str::trim).collect();
        let probes_per_s: f64 = cells[4].parse().unwrap();
        let rss: f64 = cells[8].parse().unwrap();
        assert!(probes_per_s > 0.0 && rss > 1.0, "{row}");
    }
}

/// Runs a benchmark script of bench/ with the test's build and returns what it printed,
/// having checked it succeeded; `None` (said on standard output) without GNU time.
fn run_benchmark(test: &str, script: &str, args: &[&str]) -> Option<String> {
    run_benchmark_with(test, script, args, &[])
}

/// [`run_benchmark`] with more environment for the script.
pub(crate) fn run_benchmark_with(
    test: &str,
    script: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Option<String> {
    if common::lacks(
        "/usr/bin/time",
        "PROBITY_REQUIRE_GNU_TIME",
        test,
        "GNU time",
    ) {
        return None;
    }
    let out = Command::new("bash")
        .arg(root().join(script))
        .args(args)
        .env("PROBITY_BIN", env!("CARGO_BIN_EXE_probity"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = succeeded(&out);
    Some(text)
}

#[test]
fn import_benchmark_runs() {
    // docs/BENCHMARKS.md's import benchmark on 2,000 results with the test's build: it
    // imports, audits, exports and verifies, and reports each figure.
    let Some(text) = run_benchmark("import_benchmark_runs", "bench/import.sh", &["2000"]) else {
        return;
    };
    check_import_figures(&text);
}

pub(crate) fn check_import_figures(text: &str) {
    assert!(
        regex::Regex::new(r"(?m)^rate: +[0-9,]+ results/s$")
            .unwrap()
            .is_match(text),
        "{text}"
    );
    assert!(
        regex::Regex::new(r"(?m)^store: +[0-9.]+ MiB$")
            .unwrap()
            .is_match(text),
        "{text}"
    );
    let figure = regex::Regex::new(
        r"(?m)^(import|audit|export|verify): +[0-9.]+ s, peak [0-9]+ KiB resident$",
    )
    .unwrap();
    assert_eq!(figure.find_iter(text).count(), 4, "{text}");
    assert!(
        regex::Regex::new(r"(?m)^bundle: [1-9][0-9]+ bytes$")
            .unwrap()
            .is_match(text),
        "{text}"
    );
    assert!(text.starts_with("results: 2000, file: "), "{text}");
}

#[test]
fn reconcile_benchmark_runs() {
    // docs/BENCHMARKS.md's reconciliation benchmark on 2 targets and a day, with the test's
    // build: it reports the whole read and the server's CPU after its first pass.
    let Some(text) = run_benchmark(
        "reconcile_benchmark_runs",
        "bench/reconcile.sh",
        &["2", "1", "12"],
    ) else {
        return;
    };
    assert!(
        text.starts_with("targets: 2, days: 1, results: 2880\n"),
        "{text}"
    );
    prints_lines(
        &text,
        &[
            r"(?m)^scorecard \(whole read\): [0-9.]+ s, peak [0-9]+ KiB resident$",
            r"(?m)^run: [0-9.]+ cpu-s in its first 5 s",
            r"(?m)^run: [0-9.]+% of a core over the next 7 s$",
        ],
    );
}

/// Every pattern (a multi-line regex) matches somewhere in what a benchmark printed.
/// A benchmark's standard output, once it exited with success (else both its outputs).
fn succeeded(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

fn prints_lines(text: &str, patterns: &[&str]) {
    for line in patterns {
        assert!(
            regex::Regex::new(line).unwrap().is_match(text),
            "{line}: {text}"
        );
    }
}

#[test]
fn compact_benchmark_runs() {
    // docs/BENCHMARKS.md's compaction benchmark on 3 targets for 4 s with the test's build:
    // the store's real results compact, every result and evidence record reads back the
    // same (the example refuses otherwise), every results leaf is rebuilt from chunks, and
    // the probers' times are whole microseconds, so none is kept as a raw float.
    let Some(text) = run_benchmark("compact_benchmark_runs", "bench/compact.sh", &["4", "3"])
    else {
        return;
    };
    let results = regex::Regex::new(
        r"(?m)^results: +([0-9]+) in ([0-9]+) chunks, ([0-9]+) leaves rebuilt from them \(0 results with raw-float phase times\)$",
    )
    .unwrap();
    let c = results.captures(&text).unwrap_or_else(|| panic!("{text}"));
    assert!(c[1].parse::<u32>().unwrap() >= 6, "{text}");
    assert!((3..=6).contains(&c[2].parse::<u32>().unwrap()), "{text}");
    assert!(c[3].parse::<u32>().unwrap() >= 2, "{text}");
    let per = |re: &str| -> f64 {
        let c = regex::Regex::new(re)
            .unwrap()
            .captures(&text)
            .unwrap_or_else(|| panic!("{text}"));
        c[1].parse().unwrap()
    };
    let before = per(r"(?m)^rows: +([0-9.]+) B/result \(rows, indexes, evidence records\)$");
    let after = per(
        r"(?m)^compacted: +([0-9.]+) B/result \(chunks, indexes, leaves\), [0-9.]+ B/result the chunks' own bytes$",
    );
    // At this size every B-tree is a page or two, so the tables' bytes say little; the
    // chunks' own bytes do (a dozen bytes a result, more for a chunk of a few).
    let own = per(r"(?m)^compacted: .* ([0-9.]+) B/result the chunks' own bytes$");
    assert!(after <= before && own < 40.0, "{text}");
    prints_lines(
        &text,
        &[r"(?m)^whole file: +[0-9.]+ B/result after compaction"],
    );
}

#[test]
fn evidence_benchmark_runs() {
    // docs/BENCHMARKS.md's evidence benchmark on a small log: every proof it times is
    // also verified, and it must report each figure.
    let bin = Path::new(env!("CARGO_BIN_EXE_probity"));
    let example = bin.parent().unwrap().join("examples/evidence_bench");
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(&example)
        .arg("3000")
        .arg(dir.path().join("log"))
        .output()
        .unwrap();
    let text = succeeded(&out);
    for line in [
        "memory: 3000 leaves appended at ",
        "store: 3000 leaves appended at ",
        "inclusion proof at size 3000: p50 ",
        "consistency proof to size 3000: p50 ",
        "audit: 3000 leaves and 3 checkpoints in ",
        ", 0 problems, peak resident ",
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn status_benchmark_runs() {
    // docs/BENCHMARKS.md's status-page benchmark, small: the first pass posts one incident
    // per observed one (those over already posted resolved; the example refuses
    // otherwise), a second finds nothing to do, and both costs are reported.
    let bin = Path::new(env!("CARGO_BIN_EXE_probity"));
    let example = bin.parent().unwrap().join("examples/status_bench");
    let out = Command::new(&example)
        .args(["300", "30", "7"])
        .output()
        .unwrap();
    let text = succeeded(&out);
    prints_lines(
        &text,
        &[
            r"(?m)^incidents: 300 over 30 targets \(7 open\), posted on the status page in [0-9]+ ms$",
            r"(?m)^full pass: [0-9.]+ ms \([0-9.]+% of a core at one every 2 s\)$",
            r"(?m)^unchanged: [0-9.]+ µs \([0-9.]+% of a core at one every 2 s\)$",
        ],
    );
}

#[test]
fn soak_harness_runs() {
    let bin = Path::new(env!("CARGO_BIN_EXE_probity"));
    let out = Command::new("python3")
        .arg("bench/soak.py")
        .current_dir(root())
        .env("SMOKE", "1")
        .env("PROBITY", bin)
        .output()
        .unwrap();
    let text = succeeded(&out);
    assert!(
        text.contains("| kill -9 rounds survived (restarted on the same store) | 3 of 3 |"),
        "{text}"
    );
    assert!(text.contains("| duplicate result ids | 0 |"), "{text}");
    assert!(text.ends_with("verdict: ok\n"), "{text}");
}
