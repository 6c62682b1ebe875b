use super::*;
use crate::merkle::{MemoryTree, leaf_hash};
use crate::note::Checkpoint;

const NOW: i64 = 1_795_430_000_000;

fn signer(name: &str, seed: u8) -> NoteSigner {
    NoteSigner::from_seed(name, [seed; 32]).unwrap()
}

/// A log of `n` records, a signed checkpoint of it, and the tree.
fn log(s: &NoteSigner, origin: &str, n: u64) -> (MemoryTree, String) {
    let mut t = MemoryTree::new();
    for i in 0..n {
        t.push(leaf_hash(format!("record {i}").as_bytes()));
    }
    let cp = Checkpoint {
        origin: origin.into(),
        size: t.size(),
        root: t.root(),
        extensions: vec![],
    };
    (t, s.sign(&cp.to_text()).unwrap())
}

fn statement(origin: &str, leaves: &[u64], end: Option<i64>) -> Statement {
    Statement {
        origin: origin.into(),
        incident: 7,
        provider: "azure".into(),
        service: "Storage".into(),
        region: "West Europe".into(),
        start_ms: NOW - 600_000,
        end_ms: end,
        vantages: 2,
        leaves: leaves
            .iter()
            .map(|i| (*i, leaf_hash(format!("record {i}").as_bytes())))
            .collect(),
    }
}

fn sealed(s: &NoteSigner, st: &Statement, tree: &MemoryTree, cp: &str) -> Envelope {
    let proofs: Vec<Vec<Hash>> = st
        .leaves
        .iter()
        .map(|(i, _)| merkle::inclusion_proof(tree, *i, tree.size()).unwrap())
        .collect();
    st.seal(s, cp, &proofs).unwrap()
}

#[test]
fn a_sealed_statement_verifies_and_reads_back_equal() {
    let s = signer("org-a.example", 1);
    let (tree, cp) = log(&s, "org-a.example", 10);
    let st = statement("org-a.example", &[3, 8], Some(NOW - 60_000));
    let env = sealed(&s, &st, &tree, &cp);
    assert_eq!(verify(&env, &s.verifier(), NOW), Ok(st.clone()));
    // Through JSON, as it travels.
    let json = serde_json::to_string(&env).unwrap();
    let back: Envelope = serde_json::from_str(&json).unwrap();
    assert_eq!(verify(&back, &s.verifier(), NOW), Ok(st));
    // An open incident names one leaf.
    let open = statement("org-a.example", &[3], None);
    assert!(verify(&sealed(&s, &open, &tree, &cp), &s.verifier(), NOW).is_ok());
}

#[test]
fn another_key_is_refused() {
    let s = signer("org-a.example", 1);
    let (tree, cp) = log(&s, "org-a.example", 4);
    let env = sealed(&s, &statement("org-a.example", &[1], None), &tree, &cp);
    // Same name, another key: the key IDs differ, so no known signature.
    let impostor = signer("org-a.example", 2);
    let err = verify(&env, &impostor.verifier(), NOW).unwrap_err();
    assert!(matches!(err, Refusal::Signature(_)), "{err:?}");
}

#[test]
fn a_statement_of_another_log_than_the_keys_is_refused() {
    let s = signer("org-a.example", 1);
    let (tree, cp) = log(&s, "org-z.example", 4);
    let env = sealed(&s, &statement("org-z.example", &[1], None), &tree, &cp);
    let err = verify(&env, &s.verifier(), NOW).unwrap_err();
    assert!(err.to_string().contains("org-z.example"), "{err}");
}

#[test]
fn a_changed_statement_fails_its_signature() {
    let s = signer("org-a.example", 1);
    let (tree, cp) = log(&s, "org-a.example", 4);
    let mut env = sealed(&s, &statement("org-a.example", &[1], None), &tree, &cp);
    env.statement = env.statement.replace("vantages 2", "vantages 9");
    let err = verify(&env, &s.verifier(), NOW).unwrap_err();
    assert!(matches!(err, Refusal::Signature(_)), "{err:?}");
}

#[test]
fn a_leaf_not_in_the_log_fails_its_proof() {
    let s = signer("org-a.example", 1);
    let (tree, cp) = log(&s, "org-a.example", 6);
    let mut st = statement("org-a.example", &[2], None);
    // A hash the log never held, with leaf 2's proof.
    st.leaves[0].1 = leaf_hash(b"invented");
    let proofs = vec![merkle::inclusion_proof(&tree, 2, 6).unwrap()];
    let env = st.seal(&s, &cp, &proofs).unwrap();
    let err = verify(&env, &s.verifier(), NOW).unwrap_err();
    assert!(matches!(err, Refusal::Proof(_)), "{err:?}");
    // A leaf past the checkpoint.
    let st = statement("org-a.example", &[9], None);
    let env = st.seal(&s, &cp, &[vec![]]).unwrap();
    assert!(matches!(
        verify(&env, &s.verifier(), NOW),
        Err(Refusal::Proof(_))
    ));
}

#[test]
fn a_checkpoint_of_another_log_is_refused() {
    let s = signer("org-a.example", 1);
    let (tree, cp) = log(&s, "org-a.example/other", 4);
    let env = sealed(&s, &statement("org-a.example", &[1], None), &tree, &cp);
    assert!(matches!(
        verify(&env, &s.verifier(), NOW),
        Err(Refusal::Proof(_))
    ));
}

#[test]
fn future_reversed_and_ancient_times_are_refused() {
    let s = signer("org-a.example", 1);
    let (tree, cp) = log(&s, "org-a.example", 4);
    let mut future = statement("org-a.example", &[1], None);
    future.start_ms = NOW + MAX_SKEW_MS + 1;
    let mut reversed = statement("org-a.example", &[1, 2], Some(NOW - 700_000));
    reversed.start_ms = NOW - 600_000;
    let mut ancient = statement("org-a.example", &[1], None);
    ancient.start_ms = NOW - MAX_AGE_MS - 1;
    for st in [future, reversed, ancient] {
        let err = verify(&sealed(&s, &st, &tree, &cp), &s.verifier(), NOW).unwrap_err();
        assert!(matches!(err, Refusal::Time(_)), "{err:?}");
    }
    // Within the skew is fine.
    let mut skewed = statement("org-a.example", &[1], None);
    skewed.start_ms = NOW + MAX_SKEW_MS - 1;
    assert!(verify(&sealed(&s, &skewed, &tree, &cp), &s.verifier(), NOW).is_ok());
}

#[test]
fn malformed_statements_say_what_is_wrong() {
    let good = statement("org-a.example", &[1, 2], Some(NOW)).to_text();
    let cases = [
        (good.replace(HEADER, "probity-outage/v2"), "first line"),
        (good.replace("vantages 2", "vantages 0"), "vantages"),
        (good.replace("start ", "begin "), "start"),
        (good.replace("incident 7", "incident seven"), "incident"),
        (
            good.replace(&format!("end {NOW}"), "end open"),
            "two leaves",
        ),
        (
            good.replace("provider azure", &format!("provider {}", "x".repeat(201))),
            "provider",
        ),
        (format!("{good}leaf 3 AAAA\n"), "32 bytes"),
    ];
    for (text, says) in cases {
        let err = Statement::parse(&text).unwrap_err().to_string();
        assert!(err.contains(says), "{err} (wanted {says:?})");
    }
    assert_eq!(
        Statement::parse(&good).unwrap(),
        statement("org-a.example", &[1, 2], Some(NOW))
    );
}

#[test]
fn corroboration_counts_other_origins_once_on_the_same_outage() {
    let mine = Outage {
        provider: "Azure",
        service: "storage",
        region: "westeurope",
        start_ms: NOW - 300_000,
        end_ms: Some(NOW - 100_000),
    };
    let mut b = statement("org-b/log", &[1, 2], Some(NOW - 120_000));
    b.start_ms = NOW - 310_000;
    let b_again = Statement {
        incident: 8,
        ..b.clone()
    };
    let c = statement("org-c/log", &[1], None);
    let mut elsewhere = statement("org-d/log", &[1], None);
    elsewhere.region = "East US".into();
    let mut earlier = statement("org-e/log", &[1, 2], Some(NOW - 2_000_000));
    earlier.start_ms = NOW - 3_000_000;
    let all = [b, b_again, c, elsewhere, earlier.clone()];
    assert_eq!(
        corroborations(&mine, &all, 60_000, NOW),
        vec!["org-b/log".to_string(), "org-c/log".to_string()]
    );
    // A tolerance that reaches the earlier one's end counts it too.
    assert_eq!(
        corroborations(&mine, [&earlier], 1_700_000, NOW),
        vec!["org-e/log".to_string()]
    );
}
