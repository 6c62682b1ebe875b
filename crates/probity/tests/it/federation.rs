//! Federation: three probity servers on loopback, each its own organisation with its own
//! key, all probing one flaky loopback service that each names as the same provider,
//! service and region (in different spellings, under different target names). Each sends
//! the others signed outage statements; an outage all three saw is corroborated 3/3 on
//! each; the scorecard counts it as corroborated and never declared; a bundle exported by
//! one carries the others' statements and verifies offline with their keys; and statements
//! from a stranger, with a broken proof, from the future, or in a flood are refused without
//! changing anything stored.

use crate::common;
use probity_engine::store::traits::*;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;

type Org = common::Instance;

const TOKEN: &str = "a-federation-test-token-0123";

const REGIONS: [&str; 3] = ["westeurope", "West Europe", "WestEurope"];

fn config_text(i: usize, o: &Org, service: SocketAddr, peers: &[&Org]) -> String {
    let mut t = format!(
        r#"[server]
listen = "127.0.0.1:{port}"
data_dir = "data"
api_token = "{TOKEN}"

[evidence]
origin = "{origin}"
checkpoint_interval = "1s"

[reconcile]
min_duration = "1s"
grace = "1s"

[federation]
min_organisations = 3

[[target]]
name = "org{i}-storage-check"
kind = "http"
url = "http://{service}/"
interval = "200ms"
failure_threshold = 2
success_threshold = 2
provider = "azure"
service = "Storage"
region = "{region}"
"#,
        port = o.port,
        origin = o.origin,
        region = REGIONS[i],
    );
    for p in peers {
        t.push_str(&format!(
            "\n[[federation.peer]]\nurl = \"http://127.0.0.1:{}\"\nkey = \"{}\"\nmax_per_minute = 20\n",
            p.port, p.key
        ));
    }
    t
}

/// Posts a statement envelope; the status and the answer's text.
fn send(addr: SocketAddr, body: &serde_json::Value) -> (u16, String) {
    let (status, v) = common::post_json(
        addr,
        "/api/v1/federation/statements",
        None,
        &body.to_string(),
    );
    (status, v.to_string())
}

fn statements_of(addr: SocketAddr) -> Vec<serde_json::Value> {
    common::try_get_json(addr, "/api/v1/federation/statements")
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

#[test]
fn three_organisations_corroborate_one_outage() {
    let (service, up) = common::switchable_server();
    let tmp = tempfile::tempdir().unwrap();
    let orgs = common::instances(tmp.path(), "org", 3, |i, o| config_text(i, o, service, &[]));
    for i in 0..3 {
        let peers: Vec<&Org> = (0..3).filter(|j| *j != i).map(|j| &orgs[j]).collect();
        let text = config_text(i, &orgs[i], service, &peers);
        std::fs::write(orgs[i].dir.join("probity.toml"), text).unwrap();
    }
    let (code, out, err) = common::run(&["check"], &orgs[0].dir);
    assert_eq!(code, 0, "{out}{err}");
    let servers: Vec<common::Running> = orgs
        .iter()
        .map(|o| common::Running::start(&o.dir.join("probity.toml")))
        .collect();
    let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();

    // Healthy for a moment, then an outage of a few seconds, then healthy again.
    std::thread::sleep(Duration::from_secs(1));
    up.store(false, Ordering::SeqCst);
    std::thread::sleep(Duration::from_secs(3));
    up.store(true, Ordering::SeqCst);

    // Each server hears of the ended outage from both others.
    for (i, a) in addrs.iter().enumerate() {
        let got = common::wait_for(Duration::from_secs(30), || {
            let s = statements_of(*a);
            let ended = s.iter().filter(|x| x["end"].is_string()).count();
            (ended >= 2).then_some(s)
        });
        let mut origins: Vec<&str> = got
            .iter()
            .filter(|x| x["end"].is_string())
            .map(|x| x["origin"].as_str().unwrap())
            .collect();
        origins.sort();
        origins.dedup();
        let expected: Vec<&str> = (0..3)
            .filter(|j| *j != i)
            .map(|j| orgs[j].origin.as_str())
            .collect();
        assert_eq!(origins, expected, "{got:?}");
        for s in &got {
            // Only the provider, service and region travel: never a target's name or URL.
            let text = s.to_string();
            assert!(!text.contains("storage-check"), "{text}");
            assert!(!text.contains(&service.to_string()), "{text}");
            assert_eq!(s["provider"], "azure");
            assert_eq!(s["service"], "Storage");
            assert!(s["vantages"].as_u64().unwrap() >= 1);
        }
    }

    // On each, the incident is corroborated 3/3, and the scorecard counts it corroborated
    // and never declared.
    for (i, a) in addrs.iter().enumerate() {
        let incidents = common::get_json(*a, "/api/v1/incidents");
        let id = incidents.as_array().unwrap()[0]["id"].as_i64().unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let rec = loop {
            let v = common::get_json(*a, &format!("/api/v1/incidents/{id}"));
            if v["organisations"] == 3 {
                break v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never corroborated 3/3: {v}"
            );
            std::thread::sleep(Duration::from_millis(200));
        };
        let by: Vec<&str> = rec["corroborated_by"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert!(!by.contains(&orgs[i].origin.as_str()), "{rec}");
        assert_eq!(by.len(), 2, "{rec}");
        let (status, page) =
            common::get_with_token(*a, &format!("/dashboard/incidents/{id}"), TOKEN);
        assert_eq!(status, 200);
        assert!(
            page.contains("Seen by <strong>3 organisations</strong>"),
            "{page}"
        );
        let card = common::wait_for(Duration::from_secs(20), || {
            let v = common::try_get_json(*a, "/api/v1/scorecard?window=1h")?;
            let c = v.as_array()?.first()?.clone();
            (c["corroborated_incidents"] == 1).then_some(c)
        });
        assert_eq!(card["corroborated_unacknowledged"], 1, "{card}");
        assert_eq!(card["provider"], "azure");
    }
    let (_, metrics) = common::get(addrs[0], "/metrics");
    assert!(
        metrics.contains(
            "probity_provider_corroborated_unacknowledged_incidents{provider=\"azure\"} 1"
        ),
        "{metrics}"
    );

    // Abuse, against org1, by org0's key and by strangers. Nothing of it is kept.
    let before = statements_of(addrs[1]).len();
    let stranger =
        probity_core::note::NoteSigner::from_seed("probity.test/stranger", [9; 32]).unwrap();
    let forged = forged_envelope(&stranger, 0);
    let (status, body) = send(addrs[1], &forged);
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("unknown_peer"), "{body}");
    // org0's origin with another key (same name): the signature does not verify.
    let impostor = probity_core::note::NoteSigner::from_seed(&orgs[0].origin, [9; 32]).unwrap();
    let (status, body) = send(addrs[1], &forged_envelope(&impostor, 0));
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("bad_signature"), "{body}");
    // org0's real key (as its server keeps it), with a leaf its log never held, and with
    // times in the future.
    let org0 = probity_engine::attest::evidence::load_or_create_key(
        &orgs[0].dir.join("data"),
        &orgs[0].origin,
    )
    .unwrap();
    let (status, body) = send(addrs[1], &forged_envelope(&org0, 0));
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("bad_proof"), "{body}");
    let (status, body) = send(addrs[1], &forged_envelope(&org0, 3_600_000));
    assert_eq!(status, 422, "{body}");
    assert!(body.contains("bad_time"), "{body}");
    // Not JSON, and too large.
    let (status, _) = send(addrs[1], &serde_json::json!({"statement": 1}));
    assert_eq!(status, 400);
    let huge = serde_json::json!({"statement": "x".repeat(40_000), "checkpoint": "", "proofs": []});
    let (status, _) = send(addrs[1], &huge);
    assert_eq!(status, 413);
    // A flood from org0's key: at most max_per_minute (20) are looked at in a minute.
    let mut limited = 0;
    for _ in 0..25 {
        let (status, _) = send(addrs[1], &forged_envelope(&org0, 0));
        if status == 429 {
            limited += 1;
        }
    }
    assert!(limited >= 5, "{limited} refused for the rate");
    assert_eq!(statements_of(addrs[1]).len(), before);

    // A claim-ready bundle from org0 carries the others' statements; it verifies offline
    // with their keys, and not with a stranger's in their place.
    let (code, out, err) = common::run(
        &[
            "evidence",
            "export",
            "--from",
            "2020-01-01T00:00:00Z",
            "--out",
            "claim.json",
            "--corroborated",
            "--json",
        ],
        &orgs[0].dir,
    );
    assert_eq!(code, 0, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["corroborated_incidents"], 1, "{v}");
    assert!(v["statements"].as_u64().unwrap() >= 2, "{v}");
    let verify = |args: &[&str]| {
        let mut all = vec!["evidence", "verify", "claim.json", "--key", &orgs[0].key];
        all.extend_from_slice(args);
        common::run(&all, &orgs[0].dir)
    };
    let (code, out, err) = verify(&[
        "--peer",
        &orgs[1].key,
        "--peer",
        &orgs[2].key,
        "--min-organisations",
        "3",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(
            "corroborated by 2 other organisation(s): probity.test/org1, probity.test/org2"
        ),
        "{out}"
    );
    let (code, out, _) = verify(&["--peer", &orgs[1].key, "--json"]);
    assert_eq!(code, 0);
    let j: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        j["corroboration"][0]["verified"],
        serde_json::json!(["probity.test/org1"])
    );
    assert_eq!(
        j["corroboration"][0]["unchecked"],
        serde_json::json!(["probity.test/org2"])
    );
    let (code, _, err) = verify(&["--peer", &orgs[1].key, "--min-organisations", "3"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("corroborated by 2 organisation(s)"), "{err}");
    // A statement altered inside the bundle fails its signature.
    let path = orgs[0].dir.join("claim.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let altered = text.replacen("vantages 1", "vantages 7", 1);
    assert_ne!(altered, text);
    std::fs::write(orgs[0].dir.join("altered.json"), altered).unwrap();
    let (code, _, err) = common::run(
        &[
            "evidence",
            "verify",
            "altered.json",
            "--peer",
            &orgs[1].key,
            "--peer",
            &orgs[2].key,
        ],
        &orgs[0].dir,
    );
    assert_eq!(code, 1);
    assert!(err.contains("corroboration of incident"), "{err}");
    for s in servers {
        s.stop();
    }
    // Nothing the peers sent touched the evidence log.
    let (code, out, err) = common::run(&["evidence", "audit", "--json"], &orgs[1].dir);
    assert_eq!(code, 0, "{out}{err}");
    // What peers stated is kept as long as rollups: kept by a prune before the outage
    // ended, gone after it (every version, open or ended, of both peers' statements).
    let store = probity_engine::store::SqliteStore::open(&orgs[1].dir.join("data")).unwrap();
    let kept = store.statements(0, i64::MAX).unwrap();
    assert_eq!(kept.len(), 2, "{kept:?}");
    let ended = kept
        .iter()
        .map(|r| r.statement.end_ms.unwrap())
        .min()
        .unwrap();
    assert_eq!(store.prune(0, ended).unwrap().statements, 0);
    assert_eq!(store.statements(0, i64::MAX).unwrap().len(), 2);
    let after = jiff::Timestamp::now().as_millisecond();
    let pruned = store.prune(0, after).unwrap().statements;
    assert!((2..=4).contains(&pruned), "{pruned}");
    assert!(store.statements(0, i64::MAX).unwrap().is_empty());
}

/// A statement of a log with one record, signed by `signer`, starting `ahead_ms` from now:
/// its checkpoint is `signer`'s but the leaf is not in the log it serves.
fn forged_envelope(signer: &probity_core::note::NoteSigner, ahead_ms: i64) -> serde_json::Value {
    use probity_core::federation::Statement;
    use probity_core::merkle::{MemoryTree, leaf_hash};
    let mut t = MemoryTree::new();
    let leaf = leaf_hash(b"an incident record");
    t.push(leaf);
    t.push(leaf_hash(b"another"));
    let cp = probity_engine::attest::evidence::sign_checkpoint(signer, 2, t.root());
    let now = jiff::Timestamp::now().as_millisecond();
    let st = Statement {
        origin: signer.name().to_string(),
        incident: 99,
        provider: "azure".into(),
        service: "Storage".into(),
        region: "westeurope".into(),
        start_ms: now - 60_000 + ahead_ms,
        end_ms: None,
        vantages: 1,
        // A hash the tree does not hold at index 0.
        leaves: vec![(0, leaf_hash(b"invented"))],
    };
    let proof = probity_core::merkle::inclusion_proof(&t, 0, 2).unwrap();
    let mut env = st.seal(signer, &cp, &[proof]).unwrap();
    if ahead_ms > 0 {
        // A true leaf, so that only the time is wrong.
        let st = Statement {
            leaves: vec![(0, leaf)],
            ..st
        };
        env = st
            .seal(
                signer,
                &cp,
                &[probity_core::merkle::inclusion_proof(&t, 0, 2).unwrap()],
            )
            .unwrap();
    }
    serde_json::to_value(env).unwrap()
}

/// A peer that accepts only some providers refuses the others' statements (403
/// not_accepted) once each; the statements after a refused one still reach it.
#[test]
fn a_refused_statement_does_not_hold_up_the_next() {
    let (azure_svc, azure_up) = common::switchable_server();
    let (aws_svc, aws_up) = common::switchable_server();
    let tmp = tempfile::tempdir().unwrap();
    let text = |o: &Org, peer: Option<&Org>, providers: &str| {
        let mut t = format!(
            "[server]\nlisten = \"127.0.0.1:{}\"\ndata_dir = \"data\"\n\n[evidence]\norigin = \"{}\"\ncheckpoint_interval = \"1s\"\n\n[federation]\nproviders = {providers}\n",
            o.port, o.origin
        );
        for (name, provider, svc) in [("a-azure", "azure", azure_svc), ("b-aws", "aws", aws_svc)] {
            t.push_str(&format!(
                "\n[[target]]\nname = \"{name}\"\nkind = \"http\"\nurl = \"http://{svc}/\"\ninterval = \"200ms\"\nfailure_threshold = 2\nsuccess_threshold = 2\nprovider = \"{provider}\"\nservice = \"Storage\"\nregion = \"eu-west-1\"\n"
            ));
        }
        if let Some(p) = peer {
            t.push_str(&format!(
                "\n[[federation.peer]]\nurl = \"http://127.0.0.1:{}\"\nkey = \"{}\"\n",
                p.port, p.key
            ));
        }
        t
    };
    let orgs = common::instances(tmp.path(), "p", 2, |_, o| text(o, None, "[]"));
    // p0 publishes everything to p1; p1 accepts only aws.
    std::fs::write(
        orgs[0].dir.join("probity.toml"),
        text(&orgs[0], Some(&orgs[1]), "[]"),
    )
    .unwrap();
    std::fs::write(
        orgs[1].dir.join("probity.toml"),
        text(&orgs[1], Some(&orgs[0]), "[\"aws\"]"),
    )
    .unwrap();
    let sender = common::Running::start(&orgs[0].dir.join("probity.toml"));
    let receiver = common::Running::start(&orgs[1].dir.join("probity.toml"));
    // The azure outage first (its incident, and its statement, come first), then aws's.
    azure_up.store(false, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    aws_up.store(false, Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(1500));
    azure_up.store(true, Ordering::SeqCst);
    aws_up.store(true, Ordering::SeqCst);
    let got = common::wait_for(Duration::from_secs(30), || {
        let s = statements_of(receiver.addr);
        s.iter()
            .any(|x| x["provider"] == "aws" && x["end"].is_string())
            .then_some(s)
    });
    assert!(got.iter().all(|x| x["provider"] == "aws"), "{got:?}");
    // The refusal was logged once per version (open, ended), not on every round.
    std::thread::sleep(Duration::from_secs(3));
    let log = sender.log.lock().unwrap().clone();
    let refusals = log.matches("not_accepted").count();
    assert!((1..=2).contains(&refusals), "{refusals} refusals:\n{log}");
    sender.stop();
    receiver.stop();
}
