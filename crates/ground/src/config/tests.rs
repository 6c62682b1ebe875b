//! The configuration's tests: what each table accepts, refuses and reports where.

use super::*;
use crate::spec::*;
use probity_core::observe::Thresholds;
use std::path::Path;

/// Checks `src` and returns the rendered problems (or "ok").
fn check(src: &str) -> String {
    match parse("p.toml", src, Path::new(".")) {
        Ok(c) => format!("ok {}", c.targets.len()),
        Err(e) => e.to_string(),
    }
}

#[test]
fn valid_configuration_with_defaults() {
    let c = parse(
        "p.toml",
        r#"
[server]
listen = "127.0.0.1:9000"

[[target]]
name = "web"
kind = "http"
url = "http://127.0.0.1:1/health"
conditions = ["[STATUS] == 200", "[LATENCY] < 1s"]
tags = ["prod"]

[[target]]
name = "example.com"
kind = "dns"
record_type = "aaaa"
resolver = "127.0.0.1:53"
expect = "2001:db8::1"
"#,
        Path::new("/etc/probity"),
    )
    .unwrap();
    assert_eq!(c.server.listen, "127.0.0.1:9000");
    assert_eq!(c.server.data_dir, Path::new("/etc/probity/probity-data"));
    assert_eq!(c.targets[0].interval, HumanDuration::from_secs(30));
    assert_eq!(c.targets[0].timeout, HumanDuration::from_secs(10));
    assert_eq!(
        c.targets[0].thresholds,
        Thresholds {
            failure: 3,
            success: 2
        }
    );
    assert_eq!(c.targets[0].conditions.len(), 2);
    let ProbeSpec::Dns(d) = &c.targets[1].spec else {
        panic!()
    };
    assert_eq!(
        (d.name.as_str(), d.record_type.as_str()),
        ("example.com", "AAAA")
    );
    assert_eq!(d.expect, vec!["2001:db8::1".to_string()]);
    assert_eq!(c.targets[1].conditions[0].source, "[DNS_RCODE] == NOERROR");
}

#[test]
fn vantages_quorum_and_what_each_vantage_probes() {
    let src = r#"
[server]
quorum = "majority"
max_clock_offset = "500ms"

[[target]]
name = "web"
kind = "http"
url = "http://127.0.0.1:1/${env:PATH}"
tags = ["edge"]
quorum = 2

[[target]]
name = "dns"
kind = "tcp"
address = "127.0.0.1:53"

[[target]]
name = "job"
kind = "heartbeat"
token = "0123456789abcdef0123"

[[vantage]]
name = "eu-1"
region = "eu-west"
tags = ["edge"]
controls = ["dns"]
"#;
    // `${file:…}` that cannot be read is an error on the server too.
    let unreadable = src.replace("${env:PATH}", "${file:/nonexistent/never-read-here}");
    assert!(parse("p.toml", &unreadable, Path::new(".")).is_err());
    let c = parse("p.toml", src, Path::new(".")).unwrap();
    use probity_core::quorum::Quorum;
    assert_eq!(c.server.quorum, Quorum::Majority);
    assert_eq!(c.server.max_clock_offset, HumanDuration::from_millis(500));
    assert_eq!(c.targets[0].quorum, Quorum::Count(2));
    assert_eq!(c.targets[1].quorum, Quorum::Majority);
    let names = |v: Vec<&Target>| v.iter().map(|t| t.name.clone()).collect::<Vec<_>>();
    // The declared vantage: its selection and its controls.
    assert_eq!(names(c.targets_for_vantage("eu-1")), vec!["web", "dns"]);
    assert_eq!(c.controls_of("eu-1"), vec!["dns".to_string()]);
    assert_eq!(
        c.vantage("eu-1").unwrap().region.as_deref(),
        Some("eu-west")
    );
    // Undeclared vantages (and `local`) probe everything that is probed.
    assert_eq!(names(c.targets_for_vantage("us-2")), vec!["web", "dns"]);
    assert_eq!(names(c.targets_for_vantage("local")), vec!["web", "dns"]);
    assert!(c.controls_of("us-2").is_empty());
    // What an agent receives is the table as written: the secret reference unexpanded.
    assert_eq!(
        c.targets[0]
            .source
            .table()
            .get("url")
            .and_then(|v| v.as_str()),
        Some("http://127.0.0.1:1/${env:PATH}")
    );
    // Each target keeps its own table, and the digest a reload compares is its text's.
    for t in &c.targets {
        let table = t.source.table();
        assert_eq!(
            table.get("name").and_then(|v| v.as_str()),
            Some(t.name.as_str())
        );
        use sha2::Digest;
        let digest: [u8; 32] = sha2::Sha256::digest(table.to_string().as_bytes()).into();
        assert_eq!(t.source.digest(), digest, "{}", t.name);
    }
    assert_ne!(c.targets[0].source.digest(), c.targets[1].source.digest());
    match &c.targets[0].spec {
        ProbeSpec::Http(h) => assert!(!h.url.contains("${env:")),
        other => panic!("{other:?}"),
    }
}

/// The keys each table accepts are read off its type; these are the ones users have.
#[test]
fn key_lists_come_from_the_types() {
    let s = json_schema();
    assert_eq!(s["additionalProperties"], false);
    fn sorted<'a>(k: &[&'a str]) -> Vec<&'a str> {
        let mut k = k.to_vec();
        k.sort_unstable();
        k
    }
    assert_eq!(
        sorted(keys_of::<ConfigSchema>()),
        [
            "alert",
            "alerting",
            "channel",
            "component",
            "evidence",
            "federation",
            "feed",
            "gate",
            "maintenance",
            "reconcile",
            "server",
            "sla",
            "slo",
            "source",
            "status",
            "store",
            "target",
            "telemetry",
            "vantage",
            "witness"
        ]
    );
    assert_eq!(
        sorted(keys_of::<ServerConfig>()),
        [
            "advertise",
            "api_token",
            "compact_after",
            "data_dir",
            "idle_timeout",
            "listen",
            "max_clock_offset",
            "max_concurrency",
            "max_connections",
            "max_push_age",
            "name",
            "quorum",
            "raw_retention",
            "rollup_retention"
        ]
    );
    let target = keys_of::<TargetToml>();
    for k in [
        "name",
        "kind",
        "url",
        "interval",
        "conditions",
        "quorum",
        "dns",
    ] {
        assert!(target.contains(&k), "{k}: {target:?}");
    }
    // The schema a user validates with lists the same keys the parser accepts.
    let in_schema: Vec<&str> = s["$defs"]["Target"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(sorted(&in_schema), sorted(target));
    assert!(!s.to_string().contains("null"), "TOML has no null");
}

#[test]
fn vantage_mistakes_are_reported_where_they_are() {
    let base = "[[target]]\nname = \"web\"\nkind = \"http\"\nurl = \"http://127.0.0.1:1/\"\n\n[[target]]\nname = \"job\"\nkind = \"heartbeat\"\ntoken = \"0123456789abcdef0123\"\n";
    let out = check(&format!(
        "{base}\n[[vantage]]\nname = \"EU 1\"\n\n[[vantage]]\nname = \"a\"\ncontrols = [\"wbe\", \"job\"]\n\n[[vantage]]\nname = \"a\"\n"
    ));
    assert!(
        out.contains("p.toml:12:8: vantage `EU 1`: a vantage's name is 1 to 64 lowercase letters"),
        "{out}"
    );
    assert!(
        out.contains("p.toml:16:13: vantage `a`: control `wbe` is not a probed target"),
        "{out}"
    );
    assert!(out.contains("did you mean `web`?"), "{out}");
    assert!(
        out.contains("p.toml:16:20: vantage `a`: control `job` is not a probed target"),
        "{out}"
    );
    assert!(
        out.contains("p.toml:19:8: duplicate vantage name `a` (first defined on line 15)"),
        "{out}"
    );
    let out = check("[server]\nquorum = 0\n");
    assert!(out.contains("p.toml:2:10: [server]: quorum must be a whole number of vantages (1 or more) or \"majority\""), "{out}");
    let out = check(&format!("{base}quorum = \"most\"\n"));
    assert!(out.contains("target `job`: quorum must be"), "{out}");
}

#[test]
fn dns_query_name_may_live_in_a_sub_table() {
    let c = parse(
        "p.toml",
        "[[target]]\nname = \"resolver check\"\nkind = \"dns\"\n[target.dns]\nname = \"example.org\"\nrecord_type = \"MX\"\n",
        Path::new("."),
    )
    .unwrap();
    let ProbeSpec::Dns(d) = &c.targets[0].spec else {
        panic!()
    };
    assert_eq!(
        (d.name.as_str(), d.record_type.as_str()),
        ("example.org", "MX")
    );
}

#[test]
fn every_problem_is_reported_with_its_position() {
    let src = r#"[server]
listn = "x"

[[target]]
name = "a"
kind = "http"
url = "http://h/"
intervl = "5s"
timeout = "-5s"

[[target]]
name = "a"
kind = "tcp"
address = "h:1"

[[target]]
name = "b"
kind = "http"
url = "http://h/"
conditions = ["[STATUS] = 200"]
"#;
    assert_eq!(
        check(src),
        "p.toml:2:1: unknown key `listn` in [server]; did you mean `listen`?\n\
         p.toml:8:1: unknown key `intervl` in [[target]]; did you mean `interval`?\n\
         p.toml:9:11: [[target]]: `-5s` is not a duration; write a number and a unit such as `30s`, `5m` or `14d`\n\
         p.toml:12:8: duplicate target name `a` (first defined on line 5)\n\
         p.toml:20:25: target `b`: condition: `=` is not an operator; write `==` to compare\n    \
         conditions = [\"[STATUS] = 200\"]\n                            ^"
    );
}

/// A duplicate name does not hide the rest of its table's problems, and every kind of
/// named table reports it in the same words.
#[test]
fn a_duplicate_is_checked_whole() {
    let out = check(
        "[[target]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"h:1\"\n\n[[target]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"h:1\"\ntimeout = \"ten seconds\"\n",
    );
    assert!(
        out.contains("p.toml:7:8: duplicate target name `web` (first defined on line 2)"),
        "{out}"
    );
    assert!(out.contains("p.toml:10:11: [[target]]:"), "{out}");
    assert!(out.contains("ten seconds"), "{out}");
    let out = check(
        "[[target]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"h:1\"\n\n[[component]]\nname = \"api\"\ntargets = [\"web\"]\n\n[[component]]\nname = \"api\"\ntargets = [\"wbe\"]\n",
    );
    assert!(
        out.contains("p.toml:11:8: duplicate component name `api` (first defined on line 7)"),
        "{out}"
    );
    assert!(out.contains("`wbe`"), "{out}");
}

#[test]
fn kind_specific_mistakes() {
    let t = |body: &str| check(&format!("[[target]]\nname = \"t\"\n{body}\n"));
    assert_eq!(
        t("kind = \"htp\"\nurl = \"http://h/\""),
        "p.toml:3:8: target `t`: unknown kind `htp` (one of http, tcp, tls, dns, heartbeat, external, object_store); did you mean `http`?"
    );
    assert_eq!(
        t("kind = \"object_store\""),
        "p.toml:3:8: target `t`: kind `object_store` needs `url`"
    );
    assert_eq!(
        t("kind = \"http\"\nurl = \"http://h/\"\ncanaries = 3"),
        "p.toml:5:12: target `t`: `canaries` is not used by kind `http`"
    );
    assert_eq!(
        t("kind = \"tcp\""),
        "p.toml:3:8: target `t`: kind `tcp` needs `address`"
    );
    assert_eq!(
        t("kind = \"tcp\"\naddress = \"nohost\""),
        "p.toml:4:11: target `t`: `address` must be host:port"
    );
    assert_eq!(
        t("kind = \"tcp\"\naddress = \"h:1\"\nurl = \"http://x/\""),
        "p.toml:5:7: target `t`: `url` is not used by kind `tcp`"
    );
    assert_eq!(
        t("kind = \"http\"\nurl = \"ftp://x/\""),
        "p.toml:4:7: target `t`: `url` must start with http:// or https://"
    );
    assert_eq!(
        t("kind = \"http\"\nurl = \"http://x/\"\ninterval = 30"),
        "p.toml:5:12: [[target]]: `30` has a number without a unit; write e.g. `30s` or `30ms`"
    );
    assert_eq!(
        t("kind = \"http\"\nurl = \"http://x/\"\nfailure_threshold = 0"),
        "p.toml:5:21: target `t`: `failure_threshold` must be at least 1"
    );
    assert_eq!(
        t("kind = \"dns\"\nrecord_type = \"AXX\""),
        "p.toml:4:15: target `t`: unknown record_type `AXX` (one of A, AAAA, CNAME, TXT, MX, NS, SOA, SRV, CAA, PTR)"
    );
    assert_eq!(
        check("[[target]]\nkind = \"http\"\nurl = \"http://x/\"\n"),
        "p.toml:1:1: [[target]] is missing the required key `name`"
    );
    assert_eq!(
        check("[[target]\nname = 1"),
        "p.toml:1:10: syntax error: unclosed array table, expected `]`"
    );
    assert_eq!(
        check("[servr]\n"),
        "p.toml:1:2: unknown key `servr` at the top level; did you mean `server`?"
    );
}

#[test]
fn caret_accounts_for_escapes_in_the_string() {
    let src = "[[target]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://x/\"\nconditions = [\"[BODY] contains \\\"a\\\" x\"]\n";
    let e = parse("p.toml", src, Path::new(".")).unwrap_err();
    let p = &e.problems[0];
    // The unexpected `x` sits after two escaped quotes: decoded offset 20, raw column 38.
    assert_eq!((p.line, p.col), (5, 38), "{e}");
    assert_eq!(&src.lines().nth(4).unwrap()[p.col - 1..p.col], "x");
}

#[test]
fn secrets_expand_from_env_and_files_and_never_reach_display() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("token"), "s3cret-file\n").unwrap();
    // PATH is set wherever tests run; the crate forbids the unsafe set_var.
    let path = std::env::var("PATH").unwrap();
    let src = r#"[[target]]
name = "t"
kind = "http"
url = "http://h/${env:PATH}"
headers = { Authorization = "Bearer ${file:token}" }
"#;
    let c = parse("p.toml", src, dir.path()).unwrap();
    let ProbeSpec::Http(h) = &c.targets[0].spec else {
        panic!()
    };
    assert_eq!(h.url, format!("http://h/{path}"));
    assert_eq!(h.headers["Authorization"], "Bearer s3cret-file");
    assert_eq!(c.targets[0].display, "http://h/${env:PATH}");
    let missing = check(
        "[[target]]\nname = \"t\"\nkind = \"http\"\nurl = \"http://h/${env:PROBITY_NOT_SET_XYZ}\"\n",
    );
    assert_eq!(
        missing,
        "p.toml:4:7: target `t`: environment variable `PROBITY_NOT_SET_XYZ` is not set"
    );
}

/// `[[gate]]`: its targets must exist (with a suggestion), differ, and its window and
/// judge settings be in bounds; each problem is placed.
#[test]
fn gates_are_checked_where_they_are_written() {
    let base = "[[target]]\nname = \"stable\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\n\n[[target]]\nname = \"canary\"\nkind = \"tcp\"\naddress = \"127.0.0.1:2\"\n";
    let ok = format!(
        "{base}\n[[gate]]\nname = \"g\"\nbaseline = \"stable\"\ncanary = \"canary\"\n\n[gate.judge]\nmin_samples = 30\n"
    );
    let c = parse("t.toml", &ok, Path::new("/tmp")).unwrap();
    assert_eq!(c.gates.len(), 1);
    assert_eq!(c.gates[0].window.as_millis(), 300_000);
    assert_eq!(c.gates[0].settings.min_samples, 30);
    let bad = format!(
        "{base}\n[[gate]]\nname = \"g\"\nbaseline = \"stabel\"\ncanary = \"stable\"\nwindow = \"1s\"\n\n[gate.judge]\npass = 50\nmarginal = 80\n"
    );
    let e = parse("t.toml", &bad, Path::new("/tmp"))
        .unwrap_err()
        .to_string();
    for want in [
        "t.toml:13:12: gate `g`: no target named `stabel`; did you mean `stable`?",
        "t.toml:15:10: gate `g`: `window` is 10s to 24h",
        "t.toml:19:12: gate `g`: `marginal` (80) is above `pass` (50)",
    ] {
        assert!(e.contains(want), "{want} not in:\n{e}");
    }
}

/// A rollout plan's problems carry their place; a good plan reads into its steps.
#[test]
fn plans_are_read_with_line_and_column() {
    let p = parse_plan(
        "p.toml",
        "name = \"x\"\n[traffic]\ncommand = [\"shift\", \"{weight}\"]\n[analysis]\nsource = \"files\"\nbaseline = \"b.csv\"\ncanary = \"c.csv\"\n[[step]]\nset_weight = 10\n[[step]]\nanalysis = \"1m\"\n[[step]]\npause = \"5s\"\n",
        Path::new("/plans"),
    )
    .unwrap();
    assert_eq!(
        p.steps,
        vec![
            Step::SetWeight(10),
            Step::Analysis(HumanDuration::from_secs(60)),
            Step::Pause(HumanDuration::from_secs(5))
        ]
    );
    assert_eq!(
        p.source,
        Some(PlanSource::Files {
            baseline: Path::new("/plans/b.csv").into(),
            canary: Path::new("/plans/c.csv").into()
        })
    );
    assert_eq!(p.on_inconclusive, OnInconclusive::Rollback);
    let e = parse_plan(
        "p.toml",
        "name = \"x\"\non_inconclusive = \"wait\"\n[[step]]\nset_weight = 10\n[[step]]\nanalysis = \"1m\"\n",
        Path::new("/plans"),
    )
    .unwrap_err()
    .to_string();
    for want in [
        "p.toml:2:19: `on_inconclusive` is `rollback` or `hold`, not `wait`",
        "p.toml:3:1: a `set_weight` step needs [traffic]",
        "p.toml:5:1: an `analysis` step needs [analysis]",
    ] {
        assert!(e.contains(want), "{want} not in:\n{e}");
    }
}

/// A table that needs targets and chose none says so, once; a misspelt name says only
/// that (the empty choice follows from it).
#[test]
fn tables_that_need_targets_say_when_they_chose_none() {
    let base = "[[target]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"127.0.0.1:1\"\ntags = [\"edge\"]\n";
    let none = check(&format!(
        "{base}\n[[slo]]\nname = \"s\"\nobjective = 99.9\ntags = [\"core\"]\n"
    ));
    assert_eq!(
        none,
        "p.toml:8:8: slo `s`: no targets: list `targets`, or select them by `tags`, `provider`, `service` or `region`"
    );
    let misspelt = check(&format!(
        "{base}\n[[slo]]\nname = \"a\"\nobjective = 99.9\ntargets = [\"wbe\"]\n"
    ));
    assert!(
        misspelt.contains("slo `a`: no target named `wbe`; did you mean `web`?"),
        "{misspelt}"
    );
    assert!(!misspelt.contains("no targets: list"), "{misspelt}");
    let chosen = check(&format!(
        "{base}\n[[slo]]\nname = \"s\"\nobjective = 99.9\ntags = [\"edge\"]\n"
    ));
    assert_eq!(chosen, "ok 1");
}
