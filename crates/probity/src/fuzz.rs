//! Bodies of the fuzz targets (`fuzz/`), kept in the library so that a stable test can
//! replay the corpus on every `cargo test`, and so the targets stay one line each.
//!
//! Each function checks the parser's promises on arbitrary input, panicking (which the
//! fuzzer reports) when one is broken: never a panic of its own, and every reported position
//! inside the input.

use std::path::Path;

/// The configuration parser: any bytes either load or yield problems that point inside
/// the text.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match probity_ground::config::parse("fuzz.toml", text, Path::new("/nonexistent")) {
        Ok(_) => {}
        Err(e) => problems_inside(text, &e),
    }
}

/// The rollout plan parser (`gate run --plan`), held to the configuration's promises.
pub fn plan(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match probity_ground::config::parse_plan("fuzz.toml", text, Path::new("/nonexistent")) {
        Ok(p) => assert!(!p.steps.is_empty(), "a plan without steps was accepted"),
        Err(e) => problems_inside(text, &e),
    }
}

/// Every problem of a configuration or plan error points inside the text and says something.
fn problems_inside(text: &str, e: &probity_ground::config::ConfigErrors) {
    assert!(!e.problems.is_empty(), "an error with no problem");
    let lines = text.lines().count().max(1);
    for p in &e.problems {
        assert!(
            p.line >= 1 && p.line <= lines + 1,
            "line {} outside 1..={}",
            p.line,
            lines + 1
        );
        assert!(p.col >= 1, "column 0");
        assert!(!p.message.is_empty());
    }
    let _ = e.to_string();
}

/// The condition parser and evaluator: parse errors point inside the text, and a parsed
/// condition evaluates against an empty observation without panicking.
pub fn condition(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match probity_core::condition::Condition::parse(text) {
        Ok(c) => {
            let obs = probity_core::condition::Observation {
                status: Some(200),
                body: Some(text.to_string()),
                ..Default::default()
            };
            let json = serde_json::from_str(text).ok();
            let _ = c.evaluate(&obs, json.as_ref());
        }
        Err(e) => {
            assert!(
                e.offset <= text.len(),
                "offset {} past {}",
                e.offset,
                text.len()
            );
            assert!(text.is_char_boundary(e.offset), "offset inside a character");
        }
    }
}

/// The evidence bundle reader and verifier: any bytes are either refused with a message or
/// verified; nothing panics, and a bundle that verifies really has a valid signature.
pub fn bundle(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(b) = serde_json::from_str::<probity_engine::attest::bundle::Bundle>(text) else {
        return;
    };
    use probity_engine::attest::check;
    let bar = indicatif::ProgressBar::hidden();
    if let Err(msg) = check::verify(&b, None, Some(text), &bar) {
        assert!(!msg.is_empty());
    }
    let whole = check::verify(&b, None, None, &bar);
    // Read as a file is (the head, then the records streamed), it comes to the same.
    let head = check::read_head(data).expect("a bundle that parses whole has a head");
    assert_eq!(head.record_count, b.records.len() as u64);
    let streamed = check::verify_head(&head, None, None).and_then(|h| {
        check::verify_records(
            check::records(std::io::Cursor::new(data.to_vec())),
            &h.checkpoint,
            &bar,
        )
    });
    match (&whole, &streamed) {
        (Ok(v), Ok(n)) => assert_eq!(v.records, *n),
        (Err(a), Err(b)) => assert_eq!(a, b),
        _ => panic!("whole {whole:?} and streamed {streamed:?} disagree"),
    }
}

/// Signed notes, checkpoints and keys as read from files and bundles.
pub fn note(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    use probity_core::note::{Checkpoint, NoteVerifier, split_note, verify_note};
    if let Ok(c) = Checkpoint::parse(text) {
        assert_eq!(
            Checkpoint::parse(&c.to_text()).as_ref(),
            Ok(&c),
            "checkpoint round trip"
        );
    }
    let _ = split_note(text);
    let first_line = text.lines().next().unwrap_or("");
    if let Ok(v) = NoteVerifier::parse(first_line) {
        assert_eq!(
            NoteVerifier::parse(&v.to_string()).as_ref(),
            Ok(&v),
            "key round trip"
        );
        let _ = verify_note(text, &[v]);
    }
}

/// The feed parsers: any bytes parse or yield an error naming the format, under every
/// format (sniffing included).
pub fn feed(data: &[u8]) {
    for format in probity_engine::feeds::Format::NAMES {
        feed_as(
            probity_engine::feeds::Format::parse(format).expect("a known name"),
            data,
        );
    }
}

/// One feed parser: incidents whose updates are oldest first, or an error that says what.
pub fn feed_as(format: probity_engine::feeds::Format, data: &[u8]) {
    match probity_engine::feeds::parse(format, data, "fuzz") {
        Ok(incidents) => {
            for i in &incidents {
                assert!(
                    i.updates.windows(2).all(|w| w[0].at_ms <= w[1].at_ms),
                    "updates oldest first"
                );
            }
        }
        Err(e) => assert!(!e.message.is_empty()),
    }
}

/// The text helpers of the RSS formats: dates, HTML, prose windows, dated lists. A window
/// read from prose never ends before it starts.
pub fn feed_text(data: &[u8]) {
    use probity_engine::feeds::text;
    let s = String::from_utf8_lossy(data);
    let _ = text::rss_date(&s);
    let plain = text::html_to_text(&s);
    let reference = 1_795_000_000_000;
    let (start, end) = text::prose_window(&plain, reference);
    if let (Some(a), Some(b)) = (start, end) {
        assert!(b >= a, "window {a}..{b}");
    }
    let updates = text::dated_updates(&plain, reference);
    assert!(updates.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
}

/// An agent's push: any bytes are refused whole (with a message) or split into accepted
/// and rejected results that together are all of them, each rejection saying why.
pub fn agent_push(data: &[u8]) {
    let now = 1_795_000_000_000;
    match probity_publish::agents::check_push(
        data,
        "edge",
        &|t| t == "web" || t == "db",
        &|t| t == "web",
        2000,
        7 * 86_400_000,
        now,
    ) {
        Ok(c) => {
            assert_eq!(c.accepted.len() + c.rejected.len(), c.push.results.len());
            for r in &c.rejected {
                assert!(r.index < c.push.results.len());
                assert!(!r.error.is_empty());
                assert!(!c.accepted.contains(&r.index));
            }
            let shift = if c.corrected { c.offset } else { 0 };
            for &i in &c.accepted {
                let r = &c.push.results[i];
                assert_eq!(r.target, "web");
                let out = r.to_output(shift);
                assert_eq!(out.at_ms, r.at_ms + shift);
                assert_eq!(out.health, r.health);
            }
        }
        Err(e) => {
            assert!(!e.message.is_empty());
            assert!(e.status.is_client_error());
        }
    }
}

/// A Prometheus query answer (`[[source]]`): parsed into series or refused with a message,
/// and the series turn into results without panicking.
pub fn prometheus_matrix(data: &[u8]) {
    match probity_engine::schedule::sources::parse_matrix(data) {
        Ok(series) => {
            let points: Vec<(i64, f64)> = series.iter().flat_map(|s| s.points.clone()).collect();
            let phases: Vec<(String, Vec<(i64, f64)>)> = series
                .iter()
                .map(|s| {
                    (
                        s.labels.get("phase").cloned().unwrap_or_default(),
                        s.points.clone(),
                    )
                })
                .collect();
            let out = probity_engine::schedule::sources::outputs(
                &points, &points, &phases, &points, &points,
            );
            assert_eq!(out.len(), points.len());
            assert!(out.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        }
        Err(e) => assert!(!e.is_empty()),
    }
}

/// The gate's samples (CSV or JSON lines): an error names a line inside the text, and
/// samples read are counted consistently.
pub fn samples(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match probity_core::judge::parse_samples(text) {
        Ok(s) => {
            assert!(
                s.latencies_ms.len() as u64 <= s.ok,
                "more latencies than successes"
            );
            assert!(s.latencies_ms.iter().all(|l| l.is_finite() && *l >= 0.0));
            let j = probity_core::judge::judge(&s, &s, &Default::default());
            assert_ne!(
                j.verdict,
                probity_core::judge::Verdict::Fail,
                "a side judged against itself failed"
            );
        }
        Err(e) => {
            assert!(
                e.line >= 1 && e.line <= text.lines().count().max(1),
                "line {} outside the text",
                e.line
            );
            assert!(!e.message.is_empty());
        }
    }
}

/// An add-checkpoint body (C2SP tlog-witness), as a witness reads it from anyone: it reads
/// or is refused, and a judged request never cosigns a checkpoint whose log signature does
/// not verify.
pub fn witness_request(data: &[u8]) {
    use probity_core::witness::{Answer, judge_request, parse_request};
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(req) = parse_request(text) else {
        return;
    };
    assert!(req.proof.len() <= 63);
    let log = probity_core::note::NoteSigner::from_seed("fuzz.example/log", [1; 32])
        .expect("a valid name");
    let logs = vec![("fuzz.example/log".to_string(), log.verifier())];
    for latest in [None, Some((3, [0u8; 32]))] {
        if let Answer::Cosign { size, old, .. } = judge_request(&req, &logs, |_| latest) {
            assert!(old <= size);
            probity_core::note::verify_note(&req.note, &[log.verifier()])
                .expect("cosigned a checkpoint the log did not sign");
        }
    }
}

/// The instant the outage-statement target judges times at (the corpus is made for it).
pub const OUTAGE_STATEMENT_NOW_MS: i64 = 1_795_430_000_000;

/// An outage statement envelope as a federation peer sends it (or a statement's text): it
/// reads or is refused; a statement's text reads back to itself; an envelope that verifies
/// against the key of `fuzz.example/log` (seed 1) is of that log, names one or two leaves
/// and has no time in the future.
pub fn outage_statement(data: &[u8]) {
    use probity_core::federation::{Envelope, MAX_SKEW_MS, Statement, verify};
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(st) = Statement::parse(text)
    {
        assert_eq!(Statement::parse(&st.to_text()).as_ref(), Ok(&st));
    }
    let Ok(env) = serde_json::from_slice::<Envelope>(data) else {
        return;
    };
    let key = probity_core::note::NoteSigner::from_seed("fuzz.example/log", [1; 32])
        .expect("a valid name")
        .verifier();
    if let Ok(st) = verify(&env, &key, OUTAGE_STATEMENT_NOW_MS) {
        let latest = OUTAGE_STATEMENT_NOW_MS + MAX_SKEW_MS;
        assert_eq!(st.origin, "fuzz.example/log");
        assert!(matches!(st.leaves.len(), 1 | 2));
        assert!(st.start_ms <= latest);
        assert!(st.end_ms.is_none_or(|e| e >= st.start_ms && e <= latest));
    }
}
