//! A small local "cloud" that misbehaves on a script: an HTTP API, an HTTPS endpoint with a
//! certificate from a generated CA, a TCP echo service and an authoritative DNS server, all
//! on loopback. The demo watches it; the tests probe it.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use hickory_proto::rr::rdata::{A, SOA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record};
use hickory_server::Server;
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::net::{Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, UdpSocket};
use tokio::time::Instant;

/// When things go wrong, relative to the cloud's start.
#[derive(Clone, Debug)]
pub struct Script {
    /// `/storage` answers 503.
    pub outage: Range<Duration>,
    /// `/compute` takes `slow_by` before answering.
    pub slow: Range<Duration>,
    pub slow_by: Duration,
    /// The TCP service reads requests and never answers.
    pub cache_outage: Range<Duration>,
    /// Days until the HTTPS certificate expires.
    pub cert_days: i64,
    /// `/cdn` answers 503 to probes from the `us-east` vantage (a failure in one region).
    pub regional: Range<Duration>,
    /// A byte of the object store's first canary is flipped on its disk (silently: the
    /// store goes on answering), and put back at the end.
    pub corruption: Range<Duration>,
}

impl Script {
    /// Healthy throughout, with a certificate valid for a year.
    pub fn healthy() -> Self {
        Script {
            outage: Duration::ZERO..Duration::ZERO,
            slow: Duration::ZERO..Duration::ZERO,
            slow_by: Duration::ZERO,
            cache_outage: Duration::ZERO..Duration::ZERO,
            cert_days: 365,
            regional: Duration::ZERO..Duration::ZERO,
            corruption: Duration::ZERO..Duration::ZERO,
        }
    }
}

/// The DNS name the demo's DNS server answers for, and its address.
pub const DNS_NAME: &str = "api.demo.probity.test";
pub const DNS_TXT_NAME: &str = "demo.probity.test";

/// A running cloud. Dropping it stops every server.
pub struct Cloud {
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub tcp: SocketAddr,
    pub dns: SocketAddr,
    /// PEM of the CA that signed the HTTPS certificate.
    pub ca_pem: String,
    /// The object store's directory (a `file://` store).
    pub blob: std::path::PathBuf,
    pub started: Instant,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Cloud {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

#[derive(Clone)]
struct Clock {
    started: Instant,
    /// The same moment on the wall clock, Unix ms: the status page states real times.
    started_ms: i64,
    script: Arc<Script>,
}

impl Clock {
    fn in_window(&self, w: &Range<Duration>) -> bool {
        w.contains(&self.started.elapsed())
    }
}

async fn storage(State(c): State<Clock>) -> impl IntoResponse {
    if c.in_window(&c.script.outage) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "{\"status\":\"DOWN\",\"reason\":\"scripted outage\"}\n",
        )
    } else {
        (StatusCode::OK, "{\"status\":\"UP\"}\n")
    }
}

/// A content network's edge: it fails for one region during the regional window, which
/// the demo's probes say in their User-Agent (`… (vantage us-east)`).
async fn cdn(State(c): State<Clock>, headers: axum::http::HeaderMap) -> impl IntoResponse {
    let from_us_east = headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.contains("(vantage us-east)"));
    if from_us_east && c.in_window(&c.script.regional) {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "edge unavailable in us-east\n",
        )
    } else {
        (StatusCode::OK, "edge ok\n")
    }
}

async fn compute(State(c): State<Clock>) -> impl IntoResponse {
    if c.in_window(&c.script.slow) {
        tokio::time::sleep(c.script.slow_by).await;
    }
    (
        StatusCode::OK,
        "{\"status\":\"UP\",\"region\":\"demo-1\"}\n",
    )
}

/// The cloud's own status page, in Atlassian Statuspage's API v2 shape, on a script that
/// behaves like the providers probity exists to check: the storage outage is posted late
/// (halfway through), states a later start than the real one and an earlier end, is called
/// `minor`, and after it is resolved its start is edited later and its end earlier still;
/// the cache outage is never posted at all.
async fn status_incidents(State(c): State<Clock>) -> impl IntoResponse {
    let now = c.started.elapsed();
    let o = &c.script.outage;
    let len = o.end.saturating_sub(o.start);
    let at = |d: Duration| probity_ground::time::rfc3339(c.started_ms + d.as_millis() as i64);
    let posted = o.start + len / 2;
    let mut incidents = Vec::new();
    if !len.is_zero() && now >= posted {
        let resolved_posted = o.end + len / 10;
        let resolved = now >= resolved_posted;
        let mut updates = vec![serde_json::json!({
            "status": "investigating",
            "body": "We are investigating elevated error rates for Storage in demo-1.",
            "created_at": at(posted),
            "display_at": at(posted),
            "affected_components": [{"name": "Storage"}],
        })];
        if resolved {
            updates.insert(
                0,
                serde_json::json!({
                    "status": "resolved",
                    "body": "This incident has been resolved.",
                    "created_at": at(resolved_posted),
                    "display_at": at(resolved_posted),
                    "affected_components": [{"name": "Storage"}],
                }),
            );
        }
        incidents.push(serde_json::json!({
            "id": "demo-storage-1",
            "name": "Elevated error rates on Storage",
            "status": if resolved { "resolved" } else { "investigating" },
            "impact": "minor",
            "created_at": at(posted),
            "updated_at": at(if resolved { resolved_posted } else { posted }),
            // After the fact, the page moves the stated start later and the end earlier.
            "started_at": if resolved && now >= o.end + len * 6 / 10 {
                at(o.start + len * 4 / 10)
            } else {
                at(o.start + len * 3 / 10)
            },
            "resolved_at": if !resolved {
                None
            } else if now >= o.end + len * 6 / 10 {
                Some(at(o.end - len * 3 / 10))
            } else {
                Some(at(o.end - len / 10))
            },
            "shortlink": "https://status.demo-cloud.test/incidents/demo-storage-1",
            "components": [{"name": "Storage"}],
            "incident_updates": updates,
        }));
    }
    (
        [("content-type", "application/json")],
        serde_json::json!({
            "page": {"id": "demo", "name": "Demo Cloud", "url": "https://status.demo-cloud.test",
                     "time_zone": "Etc/UTC", "updated_at": at(now)},
            "incidents": incidents,
        })
        .to_string(),
    )
}

fn app(clock: Clock) -> Router {
    Router::new()
        .route(
            "/health",
            get(|| async {
                (
                    [("content-type", "application/json")],
                    "{\"status\":\"UP\",\"version\":\"1.4.2\"}\n",
                )
            }),
        )
        .route("/storage", get(storage))
        .route("/status/api/v2/incidents.json", get(status_incidents))
        .route("/compute", get(compute))
        .route("/cdn", get(cdn))
        .route(
            "/redirect",
            get(|| async { (StatusCode::FOUND, [("location", "/health")], "") }),
        )
        // A redirect loop, as a misconfigured load balancer serves one.
        .route(
            "/loop",
            get(|| async { (StatusCode::FOUND, [("location", "/loop")], "") }),
        )
        .route(
            "/hang",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "late"
            }),
        )
        .with_state(clock)
}

/// A CA and a leaf certificate for `localhost` and 127.0.0.1, valid for `days` from now
/// (negative: already expired).
pub fn make_certs(days: i64, names: &[&str]) -> anyhow::Result<(String, rustls::ServerConfig)> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate()?;
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "probity demo CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let now = time::OffsetDateTime::now_utc();
    ca.not_before = now - time::Duration::days(400);
    ca.not_after = now + time::Duration::days(3650);
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca, ca_key);
    let leaf_key = KeyPair::generate()?;
    let mut leaf = CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())?;
    leaf.distinguished_name.push(
        DnType::CommonName,
        names.first().copied().unwrap_or("localhost"),
    );
    leaf.not_before = now - time::Duration::days(30);
    leaf.not_after = now + time::Duration::days(days);
    if days <= 0 {
        leaf.not_before = now - time::Duration::days(60);
    }
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer)?;
    probity_ground::process::install_crypto_provider();
    let key = rustls_pki_types::PrivateKeyDer::try_from(leaf_key.serialize_der())
        .map_err(|e| anyhow::anyhow!(e))?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![leaf_cert.der().clone(), ca_cert.der().clone()], key)?;
    Ok((ca_cert.pem(), config))
}

/// Serves `app` over TLS on `listener`.
pub fn serve_tls(
    listener: TcpListener,
    config: rustls::ServerConfig,
    app: Router,
) -> tokio::task::JoinHandle<()> {
    let mut config = config;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let acceptor = acceptor.clone();
            let app = app.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let service = hyper::service::service_fn(move |req| {
                    let mut app = app.clone();
                    async move { tower_call(&mut app, req).await }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    })
}

async fn tower_call(
    app: &mut Router,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<axum::response::Response, std::convert::Infallible> {
    use tower_service::Service;
    app.call(req.map(axum::body::Body::new)).await
}

/// A line-based echo service: `PING` → `+PONG`, anything else echoed back.
pub fn serve_echo(listener: TcpListener) -> tokio::task::JoinHandle<()> {
    serve_echo_scripted(listener, None)
}

/// [`serve_echo`], silent (reading, never answering) while `outage` says so.
fn serve_echo_scripted(
    listener: TcpListener,
    outage: Option<(Instant, Range<Duration>)>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let outage = outage.clone();
            tokio::spawn(async move {
                let (r, mut w) = stream.into_split();
                let mut lines = BufReader::new(r).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some((started, window)) = &outage
                        && window.contains(&started.elapsed())
                    {
                        continue;
                    }
                    let reply = if line.trim() == "PING" {
                        "+PONG".to_string()
                    } else {
                        line
                    };
                    if w.write_all(format!("{reply}\n").as_bytes()).await.is_err() {
                        break;
                    }
                }
            });
        }
    })
}

/// An authoritative DNS server (hickory-server) for `probity.test` on `socket`.
pub fn serve_dns(
    socket: UdpSocket,
    answers: &[(&str, Ipv4Addr)],
) -> anyhow::Result<tokio::task::JoinHandle<()>> {
    let origin = Name::from_str("probity.test.")?;
    let mut zone = InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::empty(
        origin.clone(),
        ZoneType::Primary,
        AxfrPolicy::Deny,
    );
    let soa = SOA::new(
        Name::from_str("ns.probity.test.")?,
        Name::from_str("hostmaster.probity.test.")?,
        1,
        3600,
        600,
        86_400,
        60,
    );
    zone.upsert_mut(Record::from_rdata(origin.clone(), 3600, RData::SOA(soa)), 1);
    for (name, ip) in answers {
        let name = Name::from_str(&format!("{name}."))?;
        zone.upsert_mut(Record::from_rdata(name, 60, RData::A(A(*ip))), 1);
    }
    zone.upsert_mut(
        Record::from_rdata(
            Name::from_str(&format!("{DNS_TXT_NAME}."))?,
            60,
            RData::TXT(TXT::new(vec!["v=probity1".into()])),
        ),
        1,
    );
    let mut catalog = Catalog::new();
    catalog.upsert(LowerName::new(&origin), vec![Arc::new(zone)]);
    let mut server = Server::new(catalog);
    server.register_socket(socket);
    Ok(tokio::spawn(async move {
        let _ = server.block_until_done().await;
    }))
}

impl Cloud {
    /// Starts every service on loopback ports chosen by the system. `ca_dir` receives
    /// `demo-ca.pem`, the trust anchor for the HTTPS service.
    pub async fn start(script: Script, ca_dir: &Path) -> anyhow::Result<Cloud> {
        let started = Instant::now();
        let clock = Clock {
            started,
            started_ms: jiff::Timestamp::now().as_millisecond(),
            script: Arc::new(script.clone()),
        };
        let http_l = TcpListener::bind("127.0.0.1:0").await?;
        let https_l = TcpListener::bind("127.0.0.1:0").await?;
        let tcp_l = TcpListener::bind("127.0.0.1:0").await?;
        let dns_s = UdpSocket::bind("127.0.0.1:0").await?;
        let (http, https, tcp, dns) = (
            http_l.local_addr()?,
            https_l.local_addr()?,
            tcp_l.local_addr()?,
            dns_s.local_addr()?,
        );
        let (ca_pem, tls) = make_certs(script.cert_days, &["localhost", "127.0.0.1"])?;
        std::fs::create_dir_all(ca_dir)?;
        std::fs::write(ca_dir.join("demo-ca.pem"), &ca_pem)?;
        let blob = ca_dir.join("blob");
        std::fs::create_dir_all(&blob)?;
        let router = app(clock);
        let http_router = router.clone();
        let tasks = vec![
            tokio::spawn(async move {
                let _ = axum::serve(http_l, http_router).await;
            }),
            serve_tls(https_l, tls, router),
            serve_echo_scripted(tcp_l, Some((started, script.cache_outage.clone()))),
            serve_dns(dns_s, &[(DNS_NAME, Ipv4Addr::LOCALHOST)])?,
            tokio::spawn(corrupt(
                blob.join("canary/00000"),
                started,
                script.corruption.clone(),
            )),
        ];
        Ok(Cloud {
            http,
            https,
            tcp,
            dns,
            ca_pem,
            blob,
            started,
            tasks,
        })
    }
}

/// Flips a byte of the object at `path` during `when` (once it exists), then puts the
/// original back: the file system goes on serving it without a word.
async fn corrupt(path: std::path::PathBuf, started: Instant, when: std::ops::Range<Duration>) {
    if when.is_empty() {
        return;
    }
    tokio::time::sleep_until(started + when.start).await;
    let original = loop {
        if let Ok(b) = tokio::fs::read(&path).await
            && !b.is_empty()
        {
            break b;
        }
        if started.elapsed() >= when.end {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut changed = original.clone();
    changed[0] ^= 0x20;
    if tokio::fs::write(&path, &changed).await.is_err() {
        return;
    }
    tokio::time::sleep_until(started + when.end).await;
    let _ = tokio::fs::write(&path, &original).await;
}
