//! SLA accounting end to end: history imported with `probity results import` (all or
//! nothing, refused while probity runs), reported in every format, served by the API.

use crate::common;

use std::fmt::Write;
use std::path::Path;

const CONFIG: &str = r#"[server]
listen = "127.0.0.1:0"
data_dir = "data"

[[target]]
name = "vm-a"
provider = "aws"
service = "ec2"
region = "us-east-1"
kind = "tcp"
address = "127.0.0.1:9"
interval = "1h"

[[target]]
name = "vm-b"
provider = "aws"
service = "ec2"
region = "us-east-1"
kind = "tcp"
address = "127.0.0.1:9"
interval = "1h"

[[sla]]
name = "ec2-use1"
terms = "aws-ec2-region"
targets = ["vm-a", "vm-b"]
monthly_bill = 5000
"#;

/// October 1–3, 2026, one result a minute for both VMs. Both are down 10:00–10:30 on the
/// 2nd (that is SLA downtime: all instances); vm-a alone 12:00–12:10 (it is not).
fn history() -> String {
    let start = "2026-10-01T00:00:00Z".parse::<jiff::Timestamp>().unwrap();
    let mut out = String::new();
    for i in 0..3 * 1440i64 {
        let at = start + jiff::SignedDuration::from_mins(i);
        let minute_of_day = i % 1440;
        let day = i / 1440;
        let both_down = day == 1 && (600..630).contains(&minute_of_day);
        let a_down = both_down || (day == 1 && (720..730).contains(&minute_of_day));
        for (t, down) in [("vm-a", a_down), ("vm-b", both_down)] {
            if down {
                writeln!(out, r#"{{"target":"{t}","at":"{at}","ok":false,"error":"connection timed out","error_class":"timeout"}}"#).unwrap();
            } else {
                writeln!(
                    out,
                    r#"{{"target":"{t}","at":"{at}","ok":true,"latency_ms":0.8}}"#
                )
                .unwrap();
            }
        }
    }
    out
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("probity.toml"), CONFIG).unwrap();
    std::fs::write(dir.path().join("october.jsonl"), history()).unwrap();
    dir
}

fn run(dir: &Path, args: &[&str]) -> (i32, String, String) {
    common::run(args, dir)
}

#[test]
fn bad_lines_import_nothing() {
    let dir = setup();
    let mut text = history();
    text.insert_str(
        0,
        "{\"target\":\"vm-a\",\"at\":\"yesterday\",\"ok\":true}\n",
    );
    text.push_str("{\"target\":\"vm-c\",\"at\":\"2026-10-04T00:00:00Z\",\"ok\":true}\n");
    text.push_str(
        "{\"target\":\"vm-a\",\"at\":\"2026-10-04T00:00:00Z\",\"ok\":true,\"latency_ms\":-1}\n",
    );
    text.push_str("not json\n");
    std::fs::write(dir.path().join("bad.jsonl"), text).unwrap();
    let (code, _, err) = run(dir.path(), &["results", "import", "bad.jsonl"]);
    assert_eq!(code, 2, "{err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines[0],
        "bad.jsonl:1: `at` must be an RFC 3339 time such as 2026-10-01T12:00:00Z, not \"yesterday\""
    );
    assert_eq!(
        lines[1],
        "bad.jsonl:8642: no target named `vm-c` in probity.toml"
    );
    assert_eq!(
        lines[2],
        "bad.jsonl:8643: `latency_ms` must be a number of milliseconds ≥ 0, not -1"
    );
    assert!(
        lines[3].starts_with("bad.jsonl:8644: expected ident at line 1 column 2"),
        "{}",
        lines[3]
    );
    assert_eq!(lines[4], "bad.jsonl: 4 problems; nothing imported");
    // Nothing was stored.
    let store = probity_engine::store::SqliteStore::open(&dir.path().join("data")).unwrap();
    assert!(
        probity_engine::store::ResultStore::latest_results(&store)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_month_of_history_is_accounted_by_the_terms() {
    let dir = setup();
    // Refused while probity holds the data directory.
    let lock = probity_ground::process::lock_data_dir(&dir.path().join("data")).unwrap();
    let (code, _, err) = run(dir.path(), &["results", "import", "october.jsonl"]);
    assert_eq!(code, 1);
    assert!(err.contains("is in use by a running probity"), "{err}");
    drop(lock);

    let (code, out, err) = run(
        dir.path(),
        &["results", "import", "october.jsonl", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["results"], 8640);
    // Live thresholds (3 failures) open one incident on vm-a (its two spells are apart)
    // twice, and one on vm-b: the same as if measured live.
    assert_eq!(v["incidents_opened"], 3, "{v}");
    // Importing it again would put history after what is stored: refused, whole.
    let (code, _, err) = run(dir.path(), &["results", "import", "october.jsonl"]);
    assert_eq!(code, 2);
    assert!(err.contains("october.jsonl:1: target `vm-a` already has results up to 2026-10-03T23:59:00.000Z; imported results must be newer"), "{err}");
    assert!(
        err.ends_with("october.jsonl: 20 or more problems; nothing imported\n"),
        "{err}"
    );

    let (code, out, err) = run(
        dir.path(),
        &["sla", "report", "--month", "2026-10", "--format", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let r = &v[0];
    assert_eq!(r["sla"], "ec2-use1");
    assert_eq!(r["month"], "2026-10");
    assert_eq!(r["terms"]["id"], "aws-ec2-region");
    // Only the 30 minutes when both were down count; three days of 31 were measured.
    assert_eq!(r["downtime_minutes"], 30.0);
    assert_eq!(r["minutes"], 44_640);
    assert_eq!(r["measured_minutes"], 4_320);
    assert_eq!(r["unmeasured_minutes"], 44_640 - 4_320);
    let uptime = 100.0 * (4_320.0 - 30.0) / 4_320.0;
    assert!(
        (r["uptime_percent"].as_f64().unwrap() - uptime).abs() < 1e-5,
        "{r}"
    );
    let floor = 100.0 * (4_320.0 - 30.0) / 44_640.0;
    assert!((r["uptime_percent_if_unmeasured_down"].as_f64().unwrap() - floor).abs() < 1e-5);
    assert_eq!(
        r["credit_percent"], 10.0,
        "99.31% is below 99.99% and not below 99%"
    );
    assert_eq!(r["credit_percent_if_unmeasured_down"], 100.0);
    assert_eq!(r["credit_amount"], 500.0);
    assert_eq!(r["claim_deadline"], "2026-12-31");
    let iv = &r["downtime_intervals"];
    assert_eq!(iv.as_array().unwrap().len(), 1, "{iv}");
    assert_eq!(iv[0]["start"], "2026-10-02T10:00:00.000Z");
    assert_eq!(iv[0]["end"], "2026-10-02T10:30:00.000Z");
    assert_eq!(
        (iv[0]["results"].as_u64(), iv[0]["failures"].as_u64()),
        (Some(60), Some(60))
    );
    assert_eq!(
        iv[0]["incidents"].as_array().unwrap().len(),
        2,
        "one incident per VM"
    );
    assert_eq!(r["days"].as_array().unwrap().len(), 31);
    assert_eq!(r["days"][1]["downtime_minutes"], 30.0);
    assert_eq!(
        r["days"][5]["uptime_percent"],
        serde_json::Value::Null,
        "unmeasured, not 100%"
    );
    assert!(
        r["claim_text"]
            .as_str()
            .unwrap()
            .starts_with("SLA Credit Request: Amazon EC2, region level")
    );
    // The claim names the terms' source and the day they were read, states the real
    // downtime, and says the catalog's numbers await checking.
    let claim = r["claim_text"].as_str().unwrap();
    let terms = &r["terms"];
    assert!(
        claim.contains(&format!(
            "({}, as read on {}, terms `aws-ec2-region`)",
            terms["url"].as_str().unwrap(),
            terms["read_on"].as_str().unwrap()
        )),
        "{claim}"
    );
    assert!(
        claim.contains("(30 minutes; 60 of 60 probe results failed)"),
        "{claim}"
    );
    assert!(
        claim.contains("Note: these terms are not verified"),
        "{claim}"
    );
    // The same span stated as bounds gives the same report, byte for byte, every time.
    let span = [
        "sla",
        "report",
        "--from",
        "2026-10-01T00:00:00Z",
        "--to",
        "2026-11-01T00:00:00Z",
        "--format",
        "json",
    ];
    let (code, by_bounds, err) = run(dir.path(), &span);
    assert_eq!(code, 0, "{err}");
    assert_eq!(by_bounds, out, "--from/--to of the month is the month");
    assert_eq!(run(dir.path(), &span).1, by_bounds);
    let (code, _, err) = run(
        dir.path(),
        &[
            "sla",
            "report",
            "--from",
            "2026-10-01T00:00:30Z",
            "--to",
            "2026-11-01T00:00:00Z",
        ],
    );
    assert_eq!(code, 2);
    assert!(err.contains("whole minutes"), "{err}");

    let (_, table, _) = run(dir.path(), &["sla", "report", "--month", "2026-10"]);
    let row = table.lines().nth(1).unwrap();
    assert!(
        row.starts_with("ec2-use1             2026-10  aws-ec2-region"),
        "{table}"
    );
    assert!(
        row.contains(" 99.3056% ") && row.contains("10%") && row.ends_with("2026-12-31"),
        "{row}"
    );
    assert!(
        table.contains("down 2026-10-02T10:00:00.000Z → 2026-10-02T10:30:00.000Z  30.0 min"),
        "{table}"
    );

    let (_, csv, _) = run(
        dir.path(),
        &["sla", "report", "--month", "2026-10", "--format", "csv"],
    );
    let mut lines = csv.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("sla,month,terms,terms_verified,uptime_percent,")
    );
    let row: Vec<&str> = lines.next().unwrap().split(',').collect();
    // The catalog's terms await checking, and the CSV says so.
    assert_eq!(
        (row[0], row[1], row[3], row[6], row[9], row[12]),
        ("ec2-use1", "2026-10", "false", "30", "10", "2026-12-31")
    );
    assert!(
        table.contains("note: these terms are not verified"),
        "the table says it too: {table}"
    );

    let (_, html, _) = run(
        dir.path(),
        &["sla", "report", "--month", "2026-10", "--format", "html"],
    );
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(html.matches("<rect ").count(), 31, "one bar a day");
    assert!(
        html.contains("2026-10-02: 97.9167%, below the commitment"),
        "the 2nd lost 30 of 1440 minutes"
    );
    // The breach is drawn in its colour, with a height, and its figure written over it: the
    // axis is fixed (5 points under the commitment), not started at the worst day.
    let bar = html
        .split("<rect ")
        .find(|r| r.contains("2026-10-02:"))
        .unwrap();
    assert!(bar.starts_with("class=breach"), "{bar}");
    let height: f64 = bar
        .split("height=")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        height >= 3.0,
        "a breach is never drawn with no height: {bar}"
    );
    assert!(html.contains("<text class=breach-label"), "labelled");
    assert!(html.contains(">97.92%</text>"), "its figure over it");
    assert!(html.contains("94.99% and below"), "the fixed floor");
    assert!(html.contains("2026-10-09: unmeasured"));
    assert!(!html.contains("class=future"), "October is over");
    assert!(html.contains("SLA Credit Request"));

    // A month with nothing measured: unknown, no credit claimed.
    let (_, out, _) = run(
        dir.path(),
        &["sla", "report", "--month", "2026-09", "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (
            v[0]["uptime_percent"].clone(),
            v[0]["credit_percent"].clone()
        ),
        (serde_json::Value::Null, serde_json::Value::Null)
    );
    let (code, _, err) = run(dir.path(), &["sla", "report", "--month", "2026-9"]);
    assert_eq!(code, 2);
    assert!(err.contains("--month must be YYYY-MM"), "{err}");

    // The API serves the same.
    let probity = common::Running::start(&dir.path().join("probity.toml"));
    let api = common::get_json(probity.addr, "/api/v1/sla?month=2026-10");
    assert_eq!(api[0]["uptime_percent"], r["uptime_percent"]);
    assert_eq!(api[0]["downtime_intervals"], r["downtime_intervals"]);
    let (status, body) = common::get(probity.addr, "/api/v1/sla?month=October");
    assert_eq!(status, 400, "{body}");
    // And import is refused while it runs, as is a second server on the same data.
    let (code, _, _) = run(dir.path(), &["results", "import", "october.jsonl"]);
    assert_eq!(code, 1);
    let (code, _, err) = run(dir.path(), &["run"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("data is in use by a running probity (run or demo); stop it first"),
        "{err}"
    );
    probity.stop();
}

#[test]
fn sla_and_slo_problems_are_reported_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let bad = format!(
        "{CONFIG}
[[sla]]
name = \"typo\"
terms = \"aws-ec2-regoin\"
targets = [\"vm-a\"]

[[sla]]
name = \"ghost\"
terms = \"aws-s3\"
targets = [\"vm-z\"]

[[slo]]
name = \"slow\"
targets = [\"vm-a\"]
objective = 99.9
sli = \"latency\"

[[slo]]
name = \"greedy\"
targets = [\"vm-b\"]
objective = 100
"
    );
    std::fs::write(dir.path().join("bad.toml"), bad).unwrap();
    let (code, _, err) = run(dir.path(), &["check", "--config", "bad.toml"]);
    assert_eq!(code, 2);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "bad.toml:31:9: sla `typo`: no terms `aws-ec2-regoin` in the catalog; did you mean `aws-ec2-region`?",
            "bad.toml:37:12: sla `ghost`: no target named `vm-z`; did you mean `vm-a`?",
            "bad.toml:40:8: slo `slow`: a latency SLO needs a `threshold`, such as \"500ms\"",
            "bad.toml:48:13: slo `greedy`: `objective` is a percentage below 100, such as 99.9",
            "bad.toml: 4 problems",
        ]
    );
}

#[test]
fn maintenance_windows_are_left_out_where_the_terms_say() {
    let dir = setup();
    let with = format!(
        "{CONFIG}
[[maintenance]]
name = \"patching\"
start = \"2026-10-02T10:00:00Z\"
duration = \"30m\"
every = \"7d\"
provider = \"aws\"
"
    );
    std::fs::write(dir.path().join("probity.toml"), &with).unwrap();
    let (code, _, err) = run(dir.path(), &["results", "import", "october.jsonl"]);
    assert_eq!(code, 0, "{err}");
    let (_, out, _) = run(
        dir.path(),
        &["sla", "report", "--month", "2026-10", "--format", "json"],
    );
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    let r = &r[0];
    // The 30 minutes both VMs were down fall in the window: out of the formula.
    assert_eq!(r["downtime_minutes"], 0.0);
    assert_eq!(
        r["excluded_minutes"],
        5 * 30,
        "five Fridays of October at 10:00"
    );
    assert_eq!(r["credit_percent"], 0.0);
    let sources: Vec<&str> = r["maintenance"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["source"].as_str().unwrap())
        .collect();
    assert_eq!(sources, ["maintenance:patching"; 5]);
    // Terms that count maintenance as downtime: the same month with it included.
    std::fs::write(
        dir.path().join("probity.toml"),
        with.replace(
            "monthly_bill = 5000",
            "monthly_bill = 5000\nexclude_maintenance = false",
        ),
    )
    .unwrap();
    let (_, out, _) = run(
        dir.path(),
        &["sla", "report", "--month", "2026-10", "--format", "json"],
    );
    let r: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r[0]["downtime_minutes"], 30.0);
    assert_eq!(r[0]["excluded_minutes"], 0);
}

/// An import in many small batches (one evidence leaf and one batch in memory each, one
/// transaction for all) stores exactly what one batch does: the same incidents, the same
/// SLA figures, an audit that reads every leaf back. A file longer than a batch that goes
/// back in time for a target is refused, whole.
#[test]
fn an_import_in_batches_is_the_import_in_one() {
    let whole = setup();
    let (code, out, err) = run(
        whole.path(),
        &["results", "import", "october.jsonl", "--json"],
    );
    assert_eq!(code, 0, "{err}");
    let batched = setup();
    let (code, out2, err) = run(
        batched.path(),
        &[
            "results",
            "import",
            "october.jsonl",
            "--json",
            "--batch-size",
            "1000",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out, out2);
    let report = |dir: &Path| {
        let (code, out, err) = run(
            dir,
            &["sla", "report", "--month", "2026-10", "--format", "json"],
        );
        assert_eq!(code, 0, "{err}");
        out
    };
    assert_eq!(report(whole.path()), report(batched.path()));
    let leaves = |dir: &Path| {
        let store = probity_engine::store::SqliteStore::open(&dir.join("data")).unwrap();
        let n = probity_engine::store::EvidenceStore::evidence_size(&store).unwrap();
        let records = probity_engine::store::EvidenceStore::evidence_records(&store, 0, n).unwrap();
        records
            .iter()
            .filter(|r| r.record.starts_with(br#"{"type":"results""#))
            .count()
    };
    // 8,640 results: one leaf whole, nine in batches of 1,000.
    assert_eq!((leaves(whole.path()), leaves(batched.path())), (1, 9));
    let (code, out, err) = run(batched.path(), &["evidence", "audit", "--json"]);
    assert_eq!(code, 0, "{out}{err}");

    // vm-a's results go back in time across a batch boundary: refused, nothing stored.
    let dir = setup();
    let mut lines: Vec<String> = history().lines().map(String::from).collect();
    let late = lines.remove(10); // vm-a at 00:05, now after line 1,500
    lines.insert(1500, late);
    std::fs::write(dir.path().join("shuffled.jsonl"), lines.join("\n")).unwrap();
    let (code, _, err) = run(
        dir.path(),
        &[
            "results",
            "import",
            "shuffled.jsonl",
            "--batch-size",
            "1000",
        ],
    );
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("shuffled.jsonl:1501: target `vm-a` goes back in time, before line 1000 (2026-10-01T08:20:00.000Z): a file of more than 1000 results (--batch-size) must keep each target's results in time order"),
        "{err}"
    );
    assert!(err.ends_with("1 problem; nothing imported\n"), "{err}");
    // Within one batch the same file is sorted and imported.
    let (code, _, err) = run(dir.path(), &["results", "import", "shuffled.jsonl"]);
    assert_eq!(code, 0, "{err}");
}

/// `results import` runs in the memory of a batch, whatever the file: 60,000 results import
/// under a 150 MiB address-space cap (prlimit) in batches of 2,000, and the same file in
/// one batch does not fit under it.
#[test]
fn an_import_fits_in_a_memory_cap() {
    if common::lacks(
        "prlimit",
        "PROBITY_REQUIRE_PRLIMIT",
        "an_import_fits_in_a_memory_cap",
        "prlimit (util-linux)",
    ) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("probity.toml"), CONFIG).unwrap();
    let start = "2026-09-01T00:00:00Z".parse::<jiff::Timestamp>().unwrap();
    let mut text = String::new();
    for i in 0..30_000i64 {
        let at = start + jiff::SignedDuration::from_mins(i);
        for t in ["vm-a", "vm-b"] {
            writeln!(
                text,
                r#"{{"target":"{t}","at":"{at}","ok":true,"latency_ms":0.8}}"#
            )
            .unwrap();
        }
    }
    std::fs::write(dir.path().join("big.jsonl"), text).unwrap();
    let capped = |batch: &str| {
        let _ = std::fs::remove_dir_all(dir.path().join("data"));
        let out = std::process::Command::new("prlimit")
            .arg(format!("--as={}", 150 << 20))
            .arg(common::bin().get_program())
            .args([
                "results",
                "import",
                "big.jsonl",
                "--json",
                "--batch-size",
                batch,
            ])
            .current_dir(dir.path())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (ok, out) = capped("2000");
    assert!(ok, "{out}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["results"], 60_000);
    let (ok, _) = capped("60000");
    assert!(
        !ok,
        "one batch of 60,000 fit under the cap: the cap proves nothing"
    );
}
