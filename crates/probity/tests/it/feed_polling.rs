//! Polling provider feeds from a real HTTP server on loopback that serves changing
//! documents: conditional requests, an edit in place, a deletion, broken and hostile
//! answers, and what is stored of each (revisions, first sightings, evidence leaves).

use crate::common;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use probity_engine::feeds::Format;
use probity_engine::feeds::poll::{client, poll_once};
use probity_engine::store::traits::*;
use probity_engine::store::{PollOutcome, ProviderFilter, SqliteStore};
use probity_ground::config::Feed;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::feed_fixture as fixture;

/// What the server answers next.
#[derive(Clone)]
enum Answer {
    /// A document with an ETag; `304` when the request's `If-None-Match` matches.
    Doc(Vec<u8>, &'static str),
    Status(u16, &'static str),
}

#[derive(Clone)]
struct Server {
    answer: Arc<Mutex<Answer>>,
    /// The `If-None-Match` of each request.
    seen: Arc<Mutex<Vec<Option<String>>>>,
}

async fn serve(s: axum::extract::State<Server>, headers: HeaderMap) -> Response {
    let inm = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    s.seen.lock().unwrap().push(inm.clone());
    let answer = s.answer.lock().unwrap().clone();
    match answer {
        Answer::Doc(body, etag) => {
            if inm.as_deref() == Some(etag) {
                return (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response();
            }
            (
                [
                    (header::ETAG, etag),
                    (header::CONTENT_TYPE, "application/rss+xml"),
                ],
                body,
            )
                .into_response()
        }
        Answer::Status(code, body) => (
            StatusCode::from_u16(code).unwrap(),
            [(header::RETRY_AFTER, "120")],
            body,
        )
            .into_response(),
    }
}

/// A server that answers every request with `total` bytes of body and no length: the
/// client must stop reading at its own limit.
async fn start_huge(total: usize) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf).await;
                let _ = conn
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nConnection: close\r\n\r\n")
                    .await;
                let chunk = vec![b' '; 1 << 20];
                let mut left = total;
                while left > 0 {
                    let n = left.min(chunk.len());
                    if conn.write_all(&chunk[..n]).await.is_err() {
                        return; // the client stopped reading
                    }
                    left -= n;
                }
            });
        }
    });
    addr
}

async fn start(answer: Answer) -> (SocketAddr, Server) {
    let server = Server {
        answer: Arc::new(Mutex::new(answer)),
        seen: Arc::new(Mutex::new(Vec::new())),
    };
    let app = axum::Router::new()
        .route("/feed", axum::routing::get(serve))
        .with_state(server.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, server)
}

fn feed(name: &str, format: Format, url: String) -> Feed {
    Feed {
        name: name.into(),
        provider: "azure".into(),
        format,
        url: url.clone(),
        display: url,
        interval: "5m".parse().unwrap(),
        timeout: "10s".parse().unwrap(),
        components: Default::default(),
    }
}

fn t(s: &str) -> Option<i64> {
    Some(s.parse::<jiff::Timestamp>().unwrap().as_millisecond())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn polling_keeps_every_revision_and_loses_nothing_to_bad_answers() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let (addr, server) = start(Answer::Doc(fixture("azure-status.rss"), "\"v1\"")).await;
    let f = feed("azure", Format::AzureRss, format!("http://{addr}/feed"));
    let c = client().unwrap();
    let set = |a: Answer| *server.answer.lock().unwrap() = a;

    // 1. First sighting.
    let (s1, p1, _) = poll_once(&c, &store, &f).await.unwrap();
    assert_eq!((s1.new, s1.changed, s1.removed), (1, 0, 0));
    assert!(matches!(p1.outcome, PollOutcome::Ok { .. }));

    // 2. Unchanged: a conditional request, answered 304; nothing new.
    let (s2, p2, _) = poll_once(&c, &store, &f).await.unwrap();
    assert!(matches!(p2.outcome, PollOutcome::NotModified));
    assert_eq!((s2.new, s2.changed), (0, 0));
    assert_eq!(
        server.seen.lock().unwrap().clone(),
        [None, Some("\"v1\"".to_string())]
    );

    // 3. Edited in place: same guid, the stated start moved from 18:20 to 17:55, now
    //    mitigated; and a maintenance item appears.
    set(Answer::Doc(fixture("azure-status-mitigated.rss"), "\"v2\""));
    let (s3, _, _) = poll_once(&c, &store, &f).await.unwrap();
    assert_eq!((s3.new, s3.changed, s3.edited), (1, 1, 1));

    // 4. Bad answers change nothing stored: an HTML error page with 503, a truncated
    //    document, a body past the size limit.
    set(Answer::Status(
        503,
        "<!DOCTYPE html><html><body>Service Unavailable</body></html>",
    ));
    let (s4, p4, retry_after) = poll_once(&c, &store, &f).await.unwrap();
    assert_eq!((s4.new, s4.changed, s4.removed), (0, 0, 0));
    assert!(
        matches!(&p4.outcome, PollOutcome::Failed { error, .. } if error == "HTTP 503"),
        "{:?}",
        p4.outcome
    );
    assert_eq!(retry_after, Some(Duration::from_secs(120)));
    let doc = fixture("azure-status-mitigated.rss");
    set(Answer::Doc(doc[..doc.len() / 2].to_vec(), "\"v3\""));
    let (s5, p5, _) = poll_once(&c, &store, &f).await.unwrap();
    assert_eq!(s5.removed, 0, "a broken document removes nothing");
    let PollOutcome::Failed { error, body } = &p5.outcome else {
        panic!("{:?}", p5.outcome)
    };
    assert!(
        error.starts_with("azure-rss: not a readable RSS"),
        "{error}"
    );
    assert!(body.is_some(), "the broken body is kept as evidence");
    let huge = start_huge(probity_engine::feeds::MAX_DOCUMENT + (1 << 20)).await;
    let big = feed("azure", Format::AzureRss, format!("http://{huge}/feed"));
    let (_, p6, _) = poll_once(&c, &store, &big).await.unwrap();
    assert!(
        matches!(&p6.outcome, PollOutcome::Failed { error, .. } if error.contains("larger than the 33554432-byte limit")),
        "{:?}",
        p6.outcome
    );
    let state = &store.feed_states().unwrap()[0];
    assert_eq!(
        (state.consecutive_failures, state.polls, state.failures),
        (3, 6, 3)
    );
    assert_eq!(state.active_incidents, 2);
    assert_eq!(
        state.etag.as_deref(),
        Some("\"v2\""),
        "validators of the last good document"
    );

    // 5. Deleted: the empty feed removes both.
    set(Answer::Doc(fixture("azure-status-empty.rss"), "\"v4\""));
    let (s7, _, _) = poll_once(&c, &store, &f).await.unwrap();
    assert_eq!(s7.removed, 2);
    assert_eq!(store.feed_states().unwrap()[0].consecutive_failures, 0);

    // What is kept of the VM incident: three revisions, the edit marked, first sighting.
    let all = store
        .provider_incidents(&ProviderFilter::default())
        .unwrap();
    assert_eq!(all.len(), 2);
    let vm = all
        .iter()
        .find(|p| p.incident.external_id.starts_with("allocation-failures"))
        .unwrap();
    let kinds: Vec<&str> = vm.revisions.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["new", "changed", "removed"]);
    assert!(vm.changed_after_publication);
    assert_eq!(vm.first_seen_at_ms, p1.at_ms);
    assert!(vm.removed_at_ms.is_some());
    let edit: Vec<(&str, bool)> = vm.revisions[1]
        .changes
        .iter()
        .map(|c| (c.field.as_str(), c.edit))
        .collect();
    assert!(edit.contains(&("started_at", true)), "{edit:?}");
    assert!(edit.contains(&("status", false)), "{edit:?}");
    assert_eq!(
        vm.revisions[0].incident.started_at_ms,
        t("2026-07-02T18:20:00Z")
    );
    assert_eq!(vm.incident.started_at_ms, t("2026-07-02T17:55:00Z"));
    // Each update's first sighting: the first text at poll 1, the mitigation at poll 3.
    let firsts: Vec<i64> = vm.update_first_seen.iter().map(|u| u.2).collect();
    assert_eq!(firsts.len(), 2);
    assert_eq!(firsts[0], p1.at_ms);
    assert!(firsts[1] > p1.at_ms);
    let maintenance = all
        .iter()
        .find(|p| p.incident.impact == probity_engine::feeds::Impact::Maintenance)
        .unwrap();
    assert!(!maintenance.changed_after_publication);

    // Filters.
    let only_changed = store
        .provider_incidents(&ProviderFilter {
            changed_only: true,
            ..ProviderFilter::default()
        })
        .unwrap();
    assert_eq!(only_changed.len(), 1);
    let before = store
        .provider_incidents(&ProviderFilter {
            until_ms: t("2026-07-02T00:00:00Z"),
            ..ProviderFilter::default()
        })
        .unwrap();
    assert!(before.is_empty(), "nothing started before 2 July");
    assert!(
        store
            .provider_incidents(&ProviderFilter {
                provider: Some("aws".into()),
                ..ProviderFilter::default()
            })
            .unwrap()
            .is_empty()
    );

    // The evidence log holds one record per poll and one per revision, and each revision's
    // record is exactly what the encoder makes of the stored row.
    let size = store.evidence_size().unwrap();
    let records = store.evidence_records(0, size).unwrap();
    let types: Vec<String> = records
        .iter()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_slice(&l.record).unwrap();
            v["type"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(types.iter().filter(|t| *t == "feed_poll").count(), 7);
    assert_eq!(
        types.iter().filter(|t| *t == "provider_incident").count(),
        5,
        "VM: new, changed, removed; maintenance: new, removed"
    );
    let r = &vm.revisions[1];
    let leaf = &records[r.leaf as usize];
    let v: serde_json::Value = serde_json::from_slice(&leaf.record).unwrap();
    let expected = probity_engine::store::leaf::provider_revision_record(
        "azure",
        &vm.incident.external_id,
        r.revision,
        &r.kind,
        r.seen_at_ms,
        &r.changes,
        v["document"].as_str().unwrap(),
        &r.incident,
    );
    assert_eq!(leaf.record, expected);
    // The document it names is stored, byte for byte.
    let doc = store
        .feed_document(v["document"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(doc, fixture("azure-status-mitigated.rss"));
}

/// A plain-threads HTTP server answering every request with `body` (for tests that run the
/// binary and so have no runtime of their own).
fn static_server(body: Vec<u8>) -> SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = conn.write_all(&body);
        }
    });
    addr
}

#[test]
fn run_polls_configured_feeds_and_serves_them() {
    let aws = static_server(fixture("aws-all.rss"));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("probity.toml");
    common::write_config_at(
        &config,
        format!(
            r#"
[[feed]]
name = "aws-all"
format = "aws-rss"
url = "http://{aws}/rss/all.rss"
interval = "1s"

[[feed]]
name = "azure"
format = "azure-rss"
url = "http://127.0.0.1:9/unreachable"
interval = "1h"
timeout = "2s"
"#
        ),
    )
    .unwrap();
    let probity = common::Running::start(&config);
    let addr = probity.addr;
    let feeds = common::wait_for(Duration::from_secs(20), || {
        let f = common::get_json(addr, "/api/v1/feeds");
        (f[0]["polls"].as_u64() >= Some(2) && f[1]["status"] == "failing").then_some(f)
    });
    assert_eq!(feeds[0]["name"], "aws-all");
    assert_eq!(feeds[0]["provider"], "aws", "the format names the provider");
    assert_eq!(feeds[0]["status"], "ok");
    assert_eq!(feeds[0]["active_incidents"], 3);
    assert_eq!(feeds[0]["interval"], "1s");
    assert_eq!(feeds[1]["consecutive_failures"], 1);
    assert!(
        feeds[1]["error"].as_str().unwrap().contains("onnect"),
        "{}",
        feeds[1]["error"]
    );

    let list = common::get_json(addr, "/api/v1/provider-incidents?provider=aws");
    let list = list.as_array().unwrap();
    assert_eq!(list.len(), 3);
    let open = list
        .iter()
        .find(|i| i["external_id"] == "ec2-us-east-1_1794144660")
        .unwrap();
    assert_eq!(open["status"], "identified");
    assert_eq!(open["feed"], "aws-all");
    assert_eq!(open["changed_after_publication"], false);
    assert_eq!(
        open["revisions"].as_array().unwrap().len(),
        1,
        "unchanged polls add none"
    );
    assert_eq!(open["revisions"][0]["kind"], "new");
    assert!(open["first_seen_at"].as_str().unwrap().ends_with('Z'));
    assert!(open["updates"][0]["first_seen_at"].is_string());
    assert_eq!(open["published_at"], "2026-11-08T13:31:00.000Z");
    // Time filters: only the October incident overlaps October.
    let oct = common::get_json(
        addr,
        "/api/v1/provider-incidents?provider=aws&since=2026-10-01T00:00:00Z&until=2026-11-01T00:00:00Z",
    );
    assert_eq!(oct.as_array().unwrap().len(), 1);
    assert_eq!(oct[0]["external_id"], "ec2-us-east-1_1793475060");
    let (status, body) = common::get(addr, "/api/v1/provider-incidents?since=yesterday");
    assert_eq!(status, 400);
    assert!(body.contains("`since` must be an RFC 3339 time"), "{body}");

    let (_, metrics) = common::get(addr, "/metrics");
    assert!(
        metrics.contains("probity_feed_polls_total{feed=\"aws-all\",outcome=\"ok\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("probity_feed_consecutive_failures{feed=\"azure\"} 1"));

    // Import while running: a saved Azure document stored as a poll of `azure`.
    let doc = dir.path().join("azure.rss");
    std::fs::write(&doc, fixture("azure-status.rss")).unwrap();
    let (code, out, err) = common::run(
        &[
            "feeds",
            "import",
            "--config",
            "probity.toml",
            "--feed",
            "azure",
            "azure.rss",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (v["incidents"].as_u64(), v["new"].as_u64()),
        (Some(1), Some(1))
    );
    let az = common::get_json(addr, "/api/v1/provider-incidents?provider=azure");
    assert_eq!(az[0]["regions"][0], "East US 2");
    // The running server goes on appending to the evidence log after another process did:
    // it reads the log's size in its own transaction, so nothing collides.
    let polls = common::get_json(addr, "/api/v1/feeds")[0]["polls"]
        .as_u64()
        .unwrap();
    common::wait_for(Duration::from_secs(10), || {
        let p = common::get_json(addr, "/api/v1/feeds")[0]["polls"].as_u64()?;
        (p >= polls + 2).then_some(())
    });
    let feeds = common::get_json(addr, "/api/v1/feeds");
    assert_eq!(feeds[0]["status"], "ok", "{feeds}");
    assert_eq!(feeds[0]["failures"], 0, "{feeds}");
    assert_eq!(az[0]["started_at"], "2026-07-02T18:20:00.000Z");
    probity.stop();

    // Refusals: an unknown feed, a document that does not parse (nothing stored).
    let (code, _, err) = common::run(
        &[
            "feeds",
            "import",
            "-c",
            "probity.toml",
            "--feed",
            "gcp",
            "azure.rss",
        ],
        dir.path(),
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("no [[feed]] named `gcp` (feeds: aws-all, azure)"),
        "{err}"
    );
    std::fs::write(&doc, "<html><body>oops</body></html>").unwrap();
    let (code, _, err) = common::run(
        &[
            "feeds",
            "import",
            "-c",
            "probity.toml",
            "--feed",
            "azure",
            "azure.rss",
        ],
        dir.path(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("this is an HTML page") && err.contains("(nothing stored)"),
        "{err}"
    );
    let store = SqliteStore::open(&dir.path().join("data")).unwrap();
    let azure = store
        .provider_incidents(&ProviderFilter {
            feed: Some("azure".into()),
            ..ProviderFilter::default()
        })
        .unwrap();
    assert_eq!(azure.len(), 1);
    assert!(
        azure[0].removed_at_ms.is_none(),
        "the refused import removed nothing"
    );
    drop(store);

    // The audit re-encodes every feed record from the database rows and checks each
    // stored document against its hash; tampering with either is found.
    let audit = |dir: &std::path::Path| {
        let (code, out, err) =
            common::run(&["evidence", "audit", "-c", "probity.toml", "--json"], dir);
        (
            code,
            serde_json::from_str::<serde_json::Value>(&out)
                .unwrap_or_else(|_| panic!("{out}{err}")),
        )
    };
    let (code, a) = audit(dir.path());
    assert_eq!(code, 0, "{a}");
    assert!(a["feed_records_compared"].as_u64().unwrap() >= 6, "{a}");
    let db = rusqlite::Connection::open(dir.path().join("data/probity.db")).unwrap();
    db.execute(
        "UPDATE provider_revisions SET incident = replace(incident, 'East US 2', 'West US') WHERE feed = 'azure'",
        [],
    )
    .unwrap();
    db.execute(
        "UPDATE feed_documents SET body = X'00' WHERE sha256 = (SELECT sha256 FROM feed_polls WHERE feed = 'aws-all' LIMIT 1)",
        [],
    )
    .unwrap();
    drop(db);
    let (code, a) = audit(dir.path());
    assert_eq!(code, 1);
    let problems: Vec<&str> = a["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["problem"].as_str().unwrap())
        .collect();
    assert!(
        problems.contains(&"the provider_incident record differs between the database and the log"),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("the feed document ")
                && p.ends_with("no longer matches its hash")),
        "{problems:?}"
    );
}

#[test]
fn feed_config_problems_are_reported_where_they_are() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.toml"),
        r#"[[feed]]
name = "a"
format = "azure-rs"
url = "https://example.com/feed"

[[feed]]
name = "b"
format = "rss"
url = "ftp://example.com/feed"

[[feed]]
name = "b"
format = "statuspage"
url = "https://example.com/api/v2/incidents.json"

[[feed]]
name = "c"
format = "gcp-json"
url = "https://status.cloud.google.com/incidents.json"
intervl = "5m"
"#,
    )
    .unwrap();
    let (code, _, err) = common::run(&["check", "--config", "bad.toml"], dir.path());
    assert_eq!(code, 2);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines,
        [
            "bad.toml:3:10: feed `a`: unknown format `azure-rs` (one of azure-rss, aws-rss, aws-json, gcp-json, statuspage, rss); did you mean `azure-rss`?",
            "bad.toml:7:8: feed `b`: name the `provider` (a rss feed can be anyone's)",
            "bad.toml:9:7: feed `b`: `url` must start with http:// or https://",
            "bad.toml:12:8: duplicate feed name `b` (first defined on line 7)",
            // A duplicate is still checked whole.
            "bad.toml:12:8: feed `b`: name the `provider` (a statuspage feed can be anyone's)",
            "bad.toml:20:1: unknown key `intervl` in [[feed]]; did you mean `interval`?",
            "bad.toml: 6 problems",
        ]
    );
}

/// A feed that answers a new document every poll while declaring the same things does not
/// fill the disk: the first document is kept, the others only as hash, size and evidence
/// record; an error page is kept truncated; the store says how much each feed holds, and
/// the evidence log still reads back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_kept_only_when_what_they_declare_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.path()).unwrap());
    let base = fixture("azure-status.rss");
    let (addr, server) = start(Answer::Doc(base.clone(), "\"a\"")).await;
    let f = feed("azure", Format::AzureRss, format!("http://{addr}/feed"));
    let c = client().unwrap();
    let set = |a: Answer| *server.answer.lock().unwrap() = a;
    let stored = |store: &Arc<dyn Store>| {
        store
            .feed_states()
            .unwrap()
            .into_iter()
            .find(|s| s.feed == "azure")
            .unwrap()
            .stored_bytes
    };
    let (s, _, _) = poll_once(&c, &store, &f).await.unwrap();
    assert_eq!(s.new, 1);
    assert_eq!(
        stored(&store),
        base.len() as u64,
        "the first document is kept"
    );
    // Not modified: a poll without a document.
    let (_, p, _) = poll_once(&c, &store, &f).await.unwrap();
    assert!(
        matches!(p.outcome, PollOutcome::NotModified),
        "{:?}",
        p.outcome
    );
    // Five new documents (a comment that changes each time), the same declarations.
    let etags = ["\"b\"", "\"c\"", "\"d\"", "\"e\"", "\"f\""];
    for (k, etag) in etags.iter().enumerate() {
        let mut doc = base.clone();
        doc.extend_from_slice(format!("<!-- {k} {} -->", "x".repeat(100_000)).as_bytes());
        set(Answer::Doc(doc, etag));
        let (s, p, _) = poll_once(&c, &store, &f).await.unwrap();
        assert!(matches!(p.outcome, PollOutcome::Ok { .. }));
        assert_eq!((s.new, s.changed, s.removed), (0, 0, 0));
        assert_eq!(
            s.stored_bytes,
            base.len() as u64,
            "nothing new declared, nothing kept"
        );
    }
    // What it declares changes: that document is kept.
    let changed = fixture("azure-status-mitigated.rss");
    set(Answer::Doc(changed.clone(), "\"g\""));
    let (s, _, _) = poll_once(&c, &store, &f).await.unwrap();
    assert!(s.changed + s.new > 0);
    assert_eq!(stored(&store), (base.len() + changed.len()) as u64);
    // A megabyte error page is kept, truncated.
    set(Answer::Status(
        500,
        Box::leak("e".repeat(1 << 20).into_boxed_str()),
    ));
    let (_, p, _) = poll_once(&c, &store, &f).await.unwrap();
    let PollOutcome::Failed {
        body: Some(body), ..
    } = &p.outcome
    else {
        panic!("{:?}", p.outcome)
    };
    assert_eq!(body.len(), probity_engine::feeds::poll::MAX_ERROR_BODY);
    assert_eq!(
        stored(&store),
        (base.len() + changed.len() + probity_engine::feeds::poll::MAX_ERROR_BODY) as u64
    );
    // Every poll's evidence record still reads back from the rows; those whose document
    // was kept also check it against its hash.
    let size = store.evidence_size().unwrap();
    let mut checked = 0;
    for leaf in 0..size {
        if let Some((_, doc_ok)) = store.feed_record_from_rows(leaf).unwrap() {
            assert_ne!(doc_ok, Some(false), "leaf {leaf}");
            checked += usize::from(doc_ok == Some(true));
        }
    }
    assert!(checked >= 3, "{checked} documents checked");

    // Past their retention (that of rollups): the documents that prove a provider
    // incident's revision stay (the first and the changed one); the error page, which
    // proves nothing, goes; so does every poll whose document is not kept or that had none
    // (the five that declared nothing new, the error's, the one not modified). The store
    // notes how far polls were pruned.
    let before = p.at_ms + 1;
    let pruned = store.prune(0, before).unwrap();
    assert_eq!(
        (pruned.feed_documents, pruned.feed_polls),
        (1, 7),
        "{pruned:?}"
    );
    assert_eq!(stored(&store), (base.len() + changed.len()) as u64);
    let base_sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&base));
    assert_eq!(store.feed_document(&base_sha).unwrap(), Some(base.clone()));
    assert_eq!(store.feed_polls_pruned_before().unwrap(), Some(before));
    let (mut still, mut gone) = (0, 0);
    for leaf in 0..size {
        match store.feed_record_from_rows(leaf).unwrap() {
            Some((_, doc_ok)) => {
                assert_ne!(doc_ok, Some(false), "leaf {leaf}");
                still += usize::from(doc_ok == Some(true));
            }
            None => gone += 1,
        }
    }
    assert_eq!(
        still, 2,
        "the two documents that prove revisions are left to check"
    );
    assert_eq!(gone, 7);
    // The audit takes the pruned polls for what they are, and nothing else.
    let signer = probity_core::note::NoteSigner::from_seed("feeds.test/log", [3; 32]).unwrap();
    let hidden = indicatif::ProgressBar::hidden();
    let audit = |store: &Arc<dyn Store>| {
        probity_engine::attest::bundle::audit(store.as_ref(), &signer.verifier(), &hidden).unwrap()
    };
    let a = audit(&store);
    assert!(a.findings.is_empty(), "{:?}", a.findings);
    assert_eq!(a.feed_records_pruned, 7);
    // A poll deleted after the mark is a finding.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (_, later, _) = poll_once(&c, &store, &f).await.unwrap();
    assert!(later.at_ms >= before);
    let conn = rusqlite::Connection::open(dir.path().join("probity.db")).unwrap();
    let deleted = conn
        .execute("DELETE FROM feed_polls WHERE at_ms >= ?1", [before])
        .unwrap();
    assert_eq!(deleted, 1);
    let a = audit(&store);
    assert_eq!(a.findings.len(), 1, "{:?}", a.findings);
    assert_eq!(
        a.findings[0].problem,
        "the feed_poll record is in the log but missing from the database"
    );
}
