//! The condition language's tests: parsing, errors with their offsets, evaluation.

use super::*;

fn obs() -> Observation {
    Observation {
        status: Some(503),
        phases: Phases {
            dns_ms: Some(1.5),
            connect_ms: Some(2.0),
            tls_ms: Some(30.0),
            ttfb_ms: Some(120.0),
            total_ms: Some(160.0),
        },
        body: Some(r#"{"status":"DOWN","items":[{"id":42}],"tags":["a","b"],"ok":false}"#.into()),
        headers: vec![("content-type".into(), "application/json".into())],
        cert_expires_in_ms: Some(10 * 86_400_000),
        tls_version: Some("TLSv1.3".into()),
        dns_rcode: Some("NOERROR".into()),
        dns_answers: Some(vec!["192.0.2.10".into(), "192.0.2.11".into()]),
        connected: Some(true),
        reply: Some("+PONG".into()),
        storage: StoragePhases {
            put_ms: Some(80.0),
            get_ms: Some(12.0),
            list_ms: None,
            delete_ms: Some(9.0),
        },
        integrity: Some("stale_read".into()),
    }
}

#[test]
fn storage_phases_and_integrity() {
    check("[PUT_LATENCY] < 100ms", true);
    check("[PUT_LATENCY] < 50ms", false);
    check("[GET_LATENCY] <= 12ms", true);
    check("[DELETE_LATENCY] > 10ms", false);
    check("[INTEGRITY] == ok", false);
    check("[INTEGRITY] == stale_read", true);
    // A phase never reached fails the condition and says so.
    let c = Condition::parse("[LIST_LATENCY] < 1s").unwrap();
    assert_eq!(
        c.evaluate(&obs(), None),
        Verdict::Fail("[LIST_LATENCY] < 1s: no LIST was observed".into())
    );
    assert!(c.is_latency());
}

/// Parses and evaluates; `expect` is whether the condition holds on [`obs`].
fn check(src: &str, expect: bool) {
    let c = Condition::parse(src).unwrap_or_else(|e| panic!("{src}: {e} at {}", e.offset));
    let o = obs();
    let json = o.body.as_deref().and_then(|b| serde_json::from_str(b).ok());
    let v = c.evaluate(&o, json.as_ref());
    assert_eq!(v == Verdict::Pass, expect, "{src}: {v:?}");
}

fn check_err(src: &str, offset: usize, needle: &str) {
    let e = Condition::parse(src).expect_err(src);
    assert_eq!(e.offset, offset, "{src}: {}", e.message);
    assert!(e.message.contains(needle), "{src}: {}", e.message);
}

#[test]
fn status_conditions() {
    check("[STATUS] == 503", true);
    check("[STATUS] == 200", false);
    check("[STATUS] < 400", false);
    check("[STATUS] >= 500", true);
    check("[STATUS] in (200, 204)", false);
    check("[STATUS] in (500,503)", true);
    check("[STATUS] != 200", true);
    check("[status] == 503", true);
}

#[test]
fn latency_conditions_take_units() {
    check("[LATENCY] < 500ms", true);
    check("[RESPONSE_TIME] < 0.1s", false);
    check("[TTFB] <= 120ms", true);
    check("[TLS_TIME] < 25ms", false);
    check("[DNS_TIME] < 2ms", true);
    check("[CONNECT_TIME] > 1ms", true);
}

#[test]
fn body_header_and_json() {
    check(r#"[BODY] contains "DOWN""#, true);
    check(r#"[BODY] not contains "DOWN""#, false);
    check(r#"[BODY] matches "\"items\":\[\{""#, true);
    check(r#"[BODY].status == "UP""#, false);
    check(r#"[BODY].status == DOWN"#, true);
    check("[BODY].items[0].id == 42", true);
    check("[BODY]/items/0/id > 40", true);
    check("[BODY].ok == false", true);
    check(r#"[BODY].tags contains "b""#, true);
    check("[BODY].tags == 2", true);
    check("[BODY].missing == 1", false);
    check(r#"[HEADER:Content-Type] contains "json""#, true);
    check(r#"[HEADER:X-Nope] == "x""#, false);
}

#[test]
fn certificate_dns_tcp() {
    check("[CERT_EXPIRY] > 7d", true);
    check("[CERTIFICATE_EXPIRATION] > 14d", false);
    check("[TLS_VERSION] == TLSv1.3", true);
    check("[DNS_RCODE] == NOERROR", true);
    check(r#"[DNS_ANSWERS] contains "192.0.2.11""#, true);
    check(r#"[DNS_ANSWERS] contains "192.0.2.99""#, false);
    check("[DNS_ANSWER_COUNT] >= 2", true);
    check("[CONNECTED] == true", true);
    check(r#"[REPLY] contains "PONG""#, true);
}

#[test]
fn times_are_shown_with_units() {
    let o = obs();
    let Verdict::Fail(why) = Condition::parse("[CERT_EXPIRY] > 14d")
        .unwrap()
        .evaluate(&o, None)
    else {
        panic!()
    };
    assert_eq!(why, "[CERT_EXPIRY] > 14d (got 10.0d)");
    let Verdict::Fail(why) = Condition::parse("[LATENCY] < 100ms")
        .unwrap()
        .evaluate(&o, None)
    else {
        panic!()
    };
    assert_eq!(why, "[LATENCY] < 100ms (got 160.0ms)");
}

#[test]
fn failures_explain_what_was_seen() {
    let c = Condition::parse("[STATUS] == 200").unwrap();
    assert_eq!(
        c.evaluate(&obs(), None),
        Verdict::Fail("[STATUS] == 200 (got 503)".into())
    );
    let c = Condition::parse("[STATUS] == 200").unwrap();
    let Verdict::Fail(why) = c.evaluate(&Observation::default(), None) else {
        panic!()
    };
    assert!(why.contains("no HTTP status"), "{why}");
}

#[test]
fn parse_errors_point_at_the_problem() {
    check_err("[STATUS] = 200", 9, "`==`");
    check_err("[STAUTS] == 200", 1, "did you mean `[STATUS]`");
    check_err("[LATENCY] < 500", 12, "needs a unit");
    check_err("[STATUS] == 2x0", 12, "expected a number");
    check_err(r#"[BODY] contains "open"#, 16, "unterminated");
    check_err("STATUS == 200", 0, "placeholder");
    check_err("[STATUS] contains 2", 9, "cannot be used");
    check_err("[BODY] matches \"(\"", 15, "invalid regular expression");
    check_err("[STATUS] == 200 extra", 16, "unexpected");
    check_err("[LATENCY] <> 2s", 10, "`<>` is not an operator");
    // Found by the fuzzer: a multi-byte character where a keyword might start.
    check_err("[DNS_ANSWERS] D Yns\"é\u{2}", 14, "expected an operator");
    check_err("[BODY] contaé", 7, "expected an operator");
    check_err("[STATUS] === 200", 9, "`===` is not an operator");
    check_err("", 0, "empty");
    check_err("[STATUS]", 8, "expected an operator");
}

#[test]
fn dotted_paths_become_pointers() {
    assert_eq!(dotted_to_pointer(".a.b[0].c").as_deref(), Some("/a/b/0/c"));
    assert_eq!(dotted_to_pointer(".a/b").as_deref(), Some("/a~1b"));
    assert_eq!(dotted_to_pointer("[x]"), None);
    assert_eq!(dotted_to_pointer(".."), None);
}

#[test]
fn class_of_failure() {
    assert_eq!(
        Condition::parse("[STATUS] == 200")
            .unwrap()
            .operand
            .error_class(),
        ErrorClass::HttpStatus
    );
    assert_eq!(
        Condition::parse("[LATENCY] < 1s")
            .unwrap()
            .operand
            .error_class(),
        ErrorClass::Condition
    );
    assert_eq!(
        Condition::parse("[DNS_RCODE] == NOERROR")
            .unwrap()
            .operand
            .error_class(),
        ErrorClass::Dns
    );
}

proptest::proptest! {
    #[test]
    fn parse_never_panics(s in "\\PC{0,40}") {
        let _ = Condition::parse(&s);
    }

    #[test]
    fn error_offsets_are_inside_the_input(s in "\\[[A-Z_:]{0,8}\\] ?[=<>!a-z ]{0,4} ?[\\w\"'.()]{0,8}") {
        if let Err(e) = Condition::parse(&s) {
            proptest::prop_assert!(e.offset <= s.len());
            proptest::prop_assert!(s.is_char_boundary(e.offset));
        }
    }
}
