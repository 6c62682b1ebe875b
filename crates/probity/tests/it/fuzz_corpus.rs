//! Replays the fuzz corpus (`fuzz/corpus/*`) through the fuzz targets' bodies on stable:
//! every input the fuzzer was seeded with or has found stays handled.

use std::path::Path;

fn replay(target: &str, f: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let outcome = std::panic::catch_unwind(|| f(&data));
        assert!(
            outcome.is_ok(),
            "{} broke the {target} parser",
            path.display()
        );
        n += 1;
    }
    n
}

#[test]
fn config_corpus() {
    assert!(replay("config", probity::fuzz::config) >= 5);
}

#[test]
fn condition_corpus() {
    assert!(replay("condition", probity::fuzz::condition) >= 10);
}

#[test]
fn bundle_corpus() {
    assert!(replay("bundle", probity::fuzz::bundle) >= 3);
}

#[test]
fn note_corpus() {
    assert!(replay("note", probity::fuzz::note) >= 4);
}

#[test]
fn agent_push_corpus() {
    assert!(replay("agent_push", probity::fuzz::agent_push) >= 7);
}

#[test]
fn prometheus_matrix_corpus() {
    assert!(replay("prometheus_matrix", probity::fuzz::prometheus_matrix) >= 4);
}

#[test]
fn feed_corpus() {
    assert!(replay("feed", probity::fuzz::feed) >= 5);
}

#[test]
fn feed_parser_corpora() {
    use probity_engine::feeds::Format;
    type Body = fn(&[u8]);
    let each: [(&str, Body); 6] = [
        ("feed_statuspage", |d| {
            probity::fuzz::feed_as(Format::Statuspage, d)
        }),
        ("feed_gcp", |d| probity::fuzz::feed_as(Format::GcpJson, d)),
        ("feed_aws_json", |d| {
            probity::fuzz::feed_as(Format::AwsJson, d)
        }),
        ("feed_aws_rss", |d| {
            probity::fuzz::feed_as(Format::AwsRss, d)
        }),
        ("feed_azure_rss", |d| {
            probity::fuzz::feed_as(Format::AzureRss, d)
        }),
        ("feed_rss", |d| probity::fuzz::feed_as(Format::Rss, d)),
    ];
    for (target, f) in each {
        assert!(replay(target, f) >= 1, "{target}");
    }
    assert!(replay("feed_text", probity::fuzz::feed_text) >= 5);
}

#[test]
fn samples_corpus() {
    assert!(replay("samples", probity::fuzz::samples) >= 6);
}

#[test]
fn plan_corpus() {
    assert!(replay("plan", probity::fuzz::plan) >= 7);
}

#[test]
fn witness_request_corpus() {
    assert!(replay("witness_request", probity::fuzz::witness_request) >= 5);
}

#[test]
fn outage_statement_corpus() {
    assert!(replay("outage_statement", probity::fuzz::outage_statement) >= 7);
    // The valid samples are valid: the replay reaches past the signature and the proofs.
    let key = probity_core::note::NoteSigner::from_seed("fuzz.example/log", [1; 32])
        .unwrap()
        .verifier();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/outage_statement");
    for (file, ok) in [
        ("valid-open.json", true),
        ("valid-ended.json", true),
        ("bad-proof.json", false),
        ("future.json", false),
    ] {
        let env: probity_core::federation::Envelope =
            serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap();
        let got =
            probity_core::federation::verify(&env, &key, probity::fuzz::OUTAGE_STATEMENT_NOW_MS);
        assert_eq!(got.is_ok(), ok, "{file}: {got:?}");
    }
}
