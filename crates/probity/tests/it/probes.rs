//! Every prober against real servers on loopback: HTTP and HTTPS (a test CA, an expiring
//! certificate, a wrong host name, an untrusted issuer), a TCP echo server, and an
//! authoritative DNS server.

use probity::demo::cloud::{self, Cloud, Script};
use probity_core::condition::Condition;
use probity_core::result::{ErrorClass, Health};
use probity_engine::probe::{
    self, DnsSpec, HttpSpec, IpVersion, ProbeContext, ProbeOutput, ProbeSpec, TcpSpec, TlsOptions,
    TlsSpec,
};
use std::time::Duration;

fn http(url: String, ca: Option<&std::path::Path>) -> HttpSpec {
    HttpSpec {
        url,
        method: "GET".into(),
        headers: Default::default(),
        body: None,
        follow_redirects: false,
        max_redirects: 5,
        ip_version: IpVersion::Any,
        tls: TlsOptions {
            ca_file: ca.map(|p| p.to_path_buf()),
            server_name: None,
        },
    }
}

fn conds(src: &[&str]) -> Vec<Condition> {
    src.iter().map(|s| Condition::parse(s).unwrap()).collect()
}

async fn run(spec: ProbeSpec, conditions: &[&str]) -> ProbeOutput {
    let ctx = ProbeContext::new();
    let c = if conditions.is_empty() {
        probe::default_conditions(spec.kind())
    } else {
        conds(conditions)
    };
    probe::run(&ctx, &spec, &c, Duration::from_secs(5)).await
}

fn class(o: &ProbeOutput) -> ErrorClass {
    o.cause
        .as_ref()
        .map(|c| c.class)
        .unwrap_or_else(|| panic!("no cause: {o:?}"))
}

#[tokio::test]
async fn http_success_records_every_phase() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cloud::start(Script::healthy(), dir.path()).await.unwrap();
    let o = run(
        ProbeSpec::Http(http(format!("http://{}/health", c.http), None)),
        &[
            "[STATUS] == 200",
            "[BODY].status == UP",
            "[HEADER:content-type] contains json",
        ],
    )
    .await;
    assert_eq!(o.health, Health::Up, "{o:?}");
    assert_eq!(o.phases.dns_ms, None, "an IP literal needs no lookup");
    assert!(o.phases.connect_ms.unwrap() > 0.0);
    assert!(o.phases.ttfb_ms.unwrap() > 0.0);
    assert!(o.phases.total_ms.unwrap() >= o.phases.ttfb_ms.unwrap() + o.phases.connect_ms.unwrap());
    assert_eq!(o.details.http_status, Some(200));
    assert_eq!(o.details.conditions.iter().filter(|c| c.ok).count(), 3);
}

#[tokio::test]
async fn http_name_is_resolved_and_timed() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cloud::start(Script::healthy(), dir.path()).await.unwrap();
    let mut spec = http(format!("http://localhost:{}/health", c.http.port()), None);
    spec.ip_version = IpVersion::V4;
    let o = run(ProbeSpec::Http(spec), &[]).await;
    assert_eq!(o.health, Health::Up, "{o:?}");
    assert!(o.phases.dns_ms.is_some());
    assert_eq!(
        o.details.address.as_deref(),
        Some(c.http.to_string().as_str())
    );
}

#[tokio::test]
async fn http_status_failure_is_down_and_content_failure_is_degraded() {
    let dir = tempfile::tempdir().unwrap();
    let script = Script {
        outage: Duration::ZERO..Duration::from_secs(600),
        ..Script::healthy()
    };
    let c = Cloud::start(script, dir.path()).await.unwrap();
    let o = run(
        ProbeSpec::Http(http(format!("http://{}/storage", c.http), None)),
        &["[STATUS] == 200"],
    )
    .await;
    assert_eq!(
        (o.health, class(&o)),
        (Health::Down, ErrorClass::HttpStatus)
    );
    assert_eq!(o.cause.unwrap().detail, "[STATUS] == 200 (got 503)");
    let o = run(
        ProbeSpec::Http(http(format!("http://{}/health", c.http), None)),
        &["[STATUS] == 200", "[BODY].version == 2.0.0"],
    )
    .await;
    assert_eq!(
        (o.health, class(&o)),
        (Health::Degraded, ErrorClass::Condition)
    );
    assert!(o.cause.unwrap().detail.contains("got \"1.4.2\""));
}

#[tokio::test]
async fn redirects_are_reported_or_followed() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cloud::start(Script::healthy(), dir.path()).await.unwrap();
    let url = format!("http://{}/redirect", c.http);
    let o = run(
        ProbeSpec::Http(http(url.clone(), None)),
        &["[STATUS] == 302"],
    )
    .await;
    assert_eq!(o.health, Health::Up, "{o:?}");
    let mut spec = http(url, None);
    spec.follow_redirects = true;
    let o = run(
        ProbeSpec::Http(spec),
        &["[STATUS] == 200", "[BODY] contains UP"],
    )
    .await;
    assert_eq!(o.health, Health::Up, "{o:?}");
    assert_eq!(
        o.details.redirects,
        vec![format!("http://{}/health", c.http)]
    );
    // A loop is not an answer: past max_redirects the probe fails, in a class of its own,
    // whatever the last 3xx would have satisfied.
    let mut spec = http(format!("http://{}/loop", c.http), None);
    spec.follow_redirects = true;
    spec.max_redirects = 3;
    let o = run(ProbeSpec::Http(spec), &["[STATUS] < 400"]).await;
    assert_eq!(
        (o.health, class(&o)),
        (Health::Down, ErrorClass::Redirects),
        "{o:?}"
    );
    assert_eq!(o.details.redirects.len(), 3);
    assert!(
        o.cause
            .unwrap()
            .detail
            .starts_with("still redirected after 3 redirects"),
    );
}

#[tokio::test]
async fn refused_connection_and_timeout_are_classified() {
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let o = run(ProbeSpec::Http(http(format!("http://{free}/"), None)), &[]).await;
    assert_eq!((o.health, class(&o)), (Health::Down, ErrorClass::Connect));
    let dir = tempfile::tempdir().unwrap();
    let c = Cloud::start(Script::healthy(), dir.path()).await.unwrap();
    let ctx = ProbeContext::new();
    let spec = ProbeSpec::Http(http(format!("http://{}/hang", c.http), None));
    let started = std::time::Instant::now();
    let o = probe::run(&ctx, &spec, &[], Duration::from_millis(300)).await;
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!((o.health, class(&o)), (Health::Down, ErrorClass::Timeout));
    assert_eq!(
        o.cause.unwrap().detail,
        "timed out waiting for the response"
    );
}

#[tokio::test]
async fn https_with_a_trusted_ca_reports_tls_details() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cloud::start(
        Script {
            cert_days: 10,
            ..Script::healthy()
        },
        dir.path(),
    )
    .await
    .unwrap();
    let ca = dir.path().join("demo-ca.pem");
    let url = format!("https://localhost:{}/health", c.https.port());
    let o = run(
        ProbeSpec::Http(http(url.clone(), Some(&ca))),
        &[
            "[STATUS] == 200",
            "[TLS_VERSION] == TLSv1.3",
            "[CERT_EXPIRY] > 9d",
        ],
    )
    .await;
    assert_eq!(o.health, Health::Up, "{o:?}");
    let tls = o.details.tls.as_ref().unwrap();
    assert_eq!(tls.verdict, "ok");
    assert_eq!(
        tls.sans,
        vec!["localhost".to_string(), "127.0.0.1".to_string()]
    );
    assert_eq!(tls.issuer.as_deref(), Some("CN=probity demo CA"));
    assert_eq!(tls.chain_length, 2);
    assert!((9.9..=10.0).contains(&tls.days_left.unwrap()), "{tls:?}");
    assert!(o.phases.tls_ms.unwrap() > 0.0);
    // The same certificate fails a 14-day expiry condition: degraded, not down.
    let o = run(
        ProbeSpec::Http(http(url, Some(&ca))),
        &["[STATUS] == 200", "[CERT_EXPIRY] > 14d"],
    )
    .await;
    assert_eq!(
        (o.health, class(&o)),
        (Health::Degraded, ErrorClass::Condition)
    );
}

/// Serves a certificate made for `names`, valid for `days`, and probes it as `host`.
async fn tls_case(days: i64, names: &[&str], host: &str, trust: bool) -> ProbeOutput {
    let dir = tempfile::tempdir().unwrap();
    let (ca_pem, config) = cloud::make_certs(days, names).unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, ca_pem).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let _server = cloud::serve_tls(listener, config, app);
    let spec = ProbeSpec::Tls(TlsSpec {
        address: format!("{host}:{port}"),
        ip_version: IpVersion::V4,
        tls: TlsOptions {
            ca_file: trust.then_some(ca),
            server_name: None,
        },
    });
    run(spec, &[]).await
}

#[tokio::test]
async fn tls_kind_checks_the_certificate_without_http() {
    let o = tls_case(30, &["localhost"], "localhost", true).await;
    assert_eq!(o.health, Health::Up, "{o:?}");
    assert_eq!(
        o.details.tls.as_ref().unwrap().version.as_deref(),
        Some("TLSv1.3")
    );
    assert_eq!(o.details.http_status, None);
}

#[tokio::test]
async fn expired_certificate_is_a_tls_failure_with_details() {
    let o = tls_case(-1, &["localhost"], "localhost", true).await;
    assert_eq!((o.health, class(&o)), (Health::Down, ErrorClass::Tls));
    assert!(
        o.cause.as_ref().unwrap().detail.contains("expired"),
        "{o:?}"
    );
    // The certificate was still examined.
    assert!(o.details.tls.as_ref().unwrap().days_left.unwrap() < 0.0);
}

#[tokio::test]
async fn wrong_host_name_is_a_tls_failure() {
    let o = tls_case(30, &["other.example"], "localhost", true).await;
    assert_eq!((o.health, class(&o)), (Health::Down, ErrorClass::Tls));
    assert!(
        o.cause.as_ref().unwrap().detail.contains("not valid for"),
        "{o:?}"
    );
    assert_eq!(
        o.details.tls.as_ref().unwrap().sans,
        vec!["other.example".to_string()]
    );
}

#[tokio::test]
async fn untrusted_issuer_is_a_tls_failure() {
    let o = tls_case(30, &["localhost"], "localhost", false).await;
    assert_eq!((o.health, class(&o)), (Health::Down, ErrorClass::Tls));
    assert_eq!(
        o.cause.unwrap().detail,
        "certificate is signed by an unknown issuer"
    );
}

#[tokio::test]
async fn tcp_connect_and_line_exchange() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cloud::start(Script::healthy(), dir.path()).await.unwrap();
    let tcp = |send: Option<&str>, expect: Option<&str>| {
        ProbeSpec::Tcp(TcpSpec {
            address: c.tcp.to_string(),
            send: send.map(str::to_string),
            expect: expect.map(str::to_string),
            ip_version: IpVersion::Any,
        })
    };
    let o = run(tcp(None, None), &[]).await;
    assert_eq!(o.health, Health::Up);
    let o = run(tcp(Some("PING"), Some("+PONG")), &[]).await;
    assert_eq!(o.health, Health::Up, "{o:?}");
    assert_eq!(o.details.reply.as_deref(), Some("+PONG"));
    let o = run(tcp(Some("hello"), None), &["[REPLY] contains hello"]).await;
    assert_eq!(o.health, Health::Up, "{o:?}");
    let o = run(tcp(Some("hello"), Some("+PONG")), &[]).await;
    assert_eq!(
        (o.health, class(&o)),
        (Health::Degraded, ErrorClass::Condition)
    );
}

fn dns(c: &Cloud, name: &str, rtype: &str, expect: &[&str]) -> ProbeSpec {
    ProbeSpec::Dns(DnsSpec {
        name: name.into(),
        record_type: rtype.into(),
        resolver: Some(c.dns.to_string()),
        expect: expect.iter().map(|s| s.to_string()).collect(),
    })
}

#[tokio::test]
async fn dns_answers_codes_and_expectations() {
    let dir = tempfile::tempdir().unwrap();
    let c = Cloud::start(Script::healthy(), dir.path()).await.unwrap();
    let o = run(
        dns(&c, cloud::DNS_NAME, "A", &["127.0.0.1"]),
        &["[DNS_RCODE] == NOERROR", "[DNS_ANSWER_COUNT] == 1"],
    )
    .await;
    assert_eq!(o.health, Health::Up, "{o:?}");
    assert_eq!(o.details.dns_answers, vec!["127.0.0.1".to_string()]);
    assert!(o.phases.dns_ms.unwrap() > 0.0);
    let o = run(
        dns(&c, cloud::DNS_TXT_NAME, "TXT", &[]),
        &[r#"[DNS_ANSWERS] contains "v=probity1""#],
    )
    .await;
    assert_eq!(o.health, Health::Up, "{o:?}");
    let o = run(dns(&c, "missing.probity.test", "A", &[]), &[]).await;
    assert_eq!((o.health, class(&o)), (Health::Down, ErrorClass::Dns));
    assert_eq!(o.details.dns_rcode.as_deref(), Some("NXDOMAIN"));
    let o = run(dns(&c, cloud::DNS_NAME, "A", &["192.0.2.1"]), &[]).await;
    assert_eq!((o.health, class(&o)), (Health::Down, ErrorClass::Dns));
    assert!(o.cause.unwrap().detail.contains("192.0.2.1"));
}

#[tokio::test]
async fn dns_server_that_does_not_answer_times_out() {
    // A bound UDP socket that never replies.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let spec = ProbeSpec::Dns(DnsSpec {
        name: "x.probity.test".into(),
        record_type: "A".into(),
        resolver: Some(silent.local_addr().unwrap().to_string()),
        expect: vec![],
    });
    let o = probe::run(&ProbeContext::new(), &spec, &[], Duration::from_millis(300)).await;
    assert_eq!((o.health, class(&o)), (Health::Down, ErrorClass::Timeout));
}
