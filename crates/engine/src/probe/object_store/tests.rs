//! The object-storage prober against a file system store: payloads, leftovers, scrubbing,
//! and canaries changed, put right and rotated before a crash.

use super::*;

#[test]
fn leftovers_are_recognised_by_probity_names_only() {
    assert_eq!(
        leftover_written_at("p/cycle/probity-1700000000000-0123456789abcdef", "p/"),
        Some(1_700_000_000_000)
    );
    for foreign in [
        "p/cycle/backup-1700000000000-0123456789abcdef",
        "p/cycle/probity-1700000000000-0123",
        "q/cycle/probity-1700000000000-0123456789abcdef",
        "p/cycle/probity-x-0123456789abcdef",
    ] {
        assert_eq!(leftover_written_at(foreign, "p/"), None, "{foreign}");
    }
}

#[test]
fn payloads_are_random_and_their_hash_is_theirs() {
    let (a, sa) = random_payload(100);
    let (b, sb) = random_payload(100);
    assert_eq!(a.len(), 100);
    assert_ne!(a, b);
    assert_ne!(sa, sb);
    assert_eq!(sa, hex::encode(Sha256::digest(&a)));
}

#[test]
fn queries_are_scrubbed_from_error_texts() {
    let t = scrub("GET http://h/c/k?sv=2021&sig=SECRET failed (url: \"https://a/b?sig=X\")");
    assert!(!t.contains("SECRET") && !t.contains("sig=X"), "{t}");
    assert!(t.contains("http://h/c/k?…"));
}

async fn once(
    ctx: &ProbeContext,
    spec: &ObjectStoreSpec,
) -> (Option<(ErrorClass, String)>, StorageDetails) {
    let mut obs = Observation::default();
    let mut d = crate::probe::Details::default();
    let deadline = Instant::now() + Duration::from_secs(5);
    let r = probe(ctx, spec, deadline, &mut obs, &mut d).await;
    (r.err().map(|f| (f.class, f.detail)), d.storage.unwrap())
}

fn file_spec(dir: &std::path::Path) -> ObjectStoreSpec {
    ObjectStoreSpec {
        url: format!("file://{}", dir.display()),
        scheme: StorageScheme::File,
        bucket: dir.display().to_string(),
        prefix: String::new(),
        endpoint: None,
        options: BTreeMap::new(),
        sizes: vec![100],
        canaries: 1,
        canary_size: 64,
        canary_interval_ms: 1000,
        canary_rotation_ms: None,
    }
}

#[tokio::test]
async fn a_rotation_written_before_a_crash_is_recognised_not_taken_for_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let spec = file_spec(dir.path());
    let secret = [9u8; 32];
    let ctx = ProbeContext::new().with_storage(Storage::keeping(Vec::new(), secret));
    let (err, first) = once(&ctx, &spec).await;
    assert_eq!(err, None);
    let recorded = first.canaries_written.clone();
    assert_eq!(recorded[0].generation, 1);
    // The next generation was PUT, and the process died before its entry was stored.
    let (next, next_sha) = canary_payload(&secret, &spec.store_id(), 0, 2, 64);
    std::fs::write(dir.path().join("canary/00000"), &next).unwrap();
    // Started again with what the store holds: generation 2 is adopted, not a failure.
    let ctx = ProbeContext::new().with_storage(Storage::keeping(recorded.clone(), secret));
    let (err, again) = once(&ctx, &spec).await;
    assert_eq!(err, None);
    assert_eq!(again.canaries_written.len(), 1);
    assert_eq!(again.canaries_written[0].generation, 2);
    assert_eq!(again.canaries_written[0].sha256, next_sha);
    // Bytes another secret would make are not ours: other bytes were served.
    let ctx = ProbeContext::new().with_storage(Storage::keeping(recorded, [1u8; 32]));
    let (err, _) = once(&ctx, &spec).await;
    assert_eq!(err.map(|e| e.0), Some(ErrorClass::IntegrityMismatch));
}

#[tokio::test]
async fn a_canary_changed_on_disk_is_an_integrity_failure_naming_both_checksums() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ObjectStoreSpec {
        sizes: vec![1000],
        canaries: 2,
        ..file_spec(dir.path())
    };
    let ctx = ProbeContext::new().with_storage(Storage::keeping(Vec::new(), [7; 32]));
    let (err, first) = once(&ctx, &spec).await;
    assert_eq!(err, None);
    assert_eq!(first.canaries_written.len(), 2);
    assert_eq!(first.bytes, 1000);
    // Nothing of the round trip is left behind.
    assert!(
        !dir.path().join("cycle").exists()
            || std::fs::read_dir(dir.path().join("cycle"))
                .unwrap()
                .next()
                .is_none()
    );
    let canary = dir.path().join("canary/00001");
    let original = std::fs::read(&canary).unwrap();
    let mut flipped = original.clone();
    flipped[10] ^= 0x40;
    std::fs::write(&canary, &flipped).unwrap();
    // Due again after the canary interval.
    let storage_place = ctx.storage.place(&spec);
    for s in storage_place.state.lock().await.slots.values_mut() {
        s.checked_at_ms = Some(0);
    }
    let (err, second) = once(&ctx, &spec).await;
    let (class, detail) = err.unwrap();
    assert_eq!(class, ErrorClass::IntegrityMismatch, "{detail}");
    assert!(detail.contains("canary/00001"), "{detail}");
    assert!(
        detail.contains(&first.canaries_written[1].sha256),
        "{detail}"
    );
    assert_eq!(second.failures.len(), 1);
    // Between checks (not due again yet) the canary is still known to be bad.
    let (err, between) = once(&ctx, &spec).await;
    assert_eq!(between.canaries_checked, 0);
    assert_eq!(err.map(|e| e.0), Some(ErrorClass::IntegrityMismatch));
    // Put right and due again: intact.
    std::fs::write(&canary, &original).unwrap();
    for s in storage_place.state.lock().await.slots.values_mut() {
        s.checked_at_ms = Some(0);
    }
    let (err, fixed) = once(&ctx, &spec).await;
    assert_eq!(err, None);
    assert_eq!(fixed.canaries_checked, 2);
    assert_eq!(
        second.failures[0].actual_sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&flipped)).as_str())
    );
}
