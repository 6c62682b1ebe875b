//! Long-lived canaries: which are due, reading them back against the manifest, writing
//! and rotating them.

use super::*;

fn canary_key(spec: &ObjectStoreSpec, slot: u32) -> String {
    format!("{}canary/{slot:05}", spec.prefix)
}

pub(super) async fn canaries(
    spec: &ObjectStoreSpec,
    client: &dyn ObjectStore,
    manifest: &mut Manifest,
    secret: &[u8; 32],
    deadline: Instant,
    out: &mut StorageDetails,
) -> Result<(), Failure> {
    let now_ms = jiff::Timestamp::now().as_millisecond();
    let due: Vec<u32> = (0..spec.canaries)
        .filter(|i| match manifest.slots.get(i) {
            None => true,
            Some(s) => {
                s.checked_at_ms
                    .is_none_or(|t| now_ms - t >= spec.canary_interval_ms as i64)
                    || rotation_due(spec, s, now_ms)
            }
        })
        .collect();
    if !due.is_empty() {
        check_due(spec, client, manifest, secret, &due, now_ms, deadline, out).await?;
    }
    // Every canary known to be bad, checked now or before.
    out.failures
        .extend(manifest.slots.values().filter_map(|s| s.failing.clone()));
    match out.failures.first() {
        None => Ok(()),
        Some(first) => {
            let more = out.failures.len() - 1;
            Err(Failure::new(
                first.class,
                if more == 0 {
                    first.detail.clone()
                } else {
                    format!("{} (and {more} more integrity failures)", first.detail)
                },
            ))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn check_due(
    spec: &ObjectStoreSpec,
    client: &dyn ObjectStore,
    manifest: &mut Manifest,
    secret: &[u8; 32],
    due: &[u32],
    now_ms: i64,
    deadline: Instant,
    out: &mut StorageDetails,
) -> Result<(), Failure> {
    let listed = list(
        client,
        &format!("{}canary/", spec.prefix),
        "the canaries",
        deadline,
        out,
    )
    .await?;
    let ours: BTreeSet<String> = (0..spec
        .canaries
        .max(manifest.slots.keys().next_back().map_or(0, |k| k + 1)))
        .map(|i| canary_key(spec, i))
        .collect();
    out.foreign_objects = listed.difference(&ours).count() as u32;
    for &slot in due {
        let rotate = manifest
            .slots
            .get(&slot)
            .is_some_and(|s| rotation_due(spec, s, now_ms));
        if let Some(s) = manifest.slots.get_mut(&slot) {
            check_canary(client, s, secret, &listed, now_ms, deadline, out).await?;
            if !rotate {
                continue;
            }
            // What the check found is this cycle's to report, though a new generation
            // replaces the canary now.
            out.failures.extend(s.failing.take());
        }
        write_canary(spec, client, manifest, secret, slot, now_ms, deadline, out).await?;
    }
    Ok(())
}

fn rotation_due(spec: &ObjectStoreSpec, s: &Slot, now_ms: i64) -> bool {
    spec.canary_rotation_ms
        .is_some_and(|r| now_ms - s.current.written_at_ms >= r as i64)
}

/// Reads one canary back and keeps what it found in the slot (`failing`): an integrity
/// failure lets the cycle go on to the other canaries; failing to reach the store ends it.
async fn check_canary(
    client: &dyn ObjectStore,
    s: &mut Slot,
    secret: &[u8; 32],
    listed: &BTreeSet<String>,
    now_ms: i64,
    deadline: Instant,
    out: &mut StorageDetails,
) -> Result<(), Failure> {
    let name = s.current.key.clone();
    let got = timed("GET", &name, deadline, &mut out.phases.get_ms, async {
        client
            .get(&ObjectPath::from(name.as_str()))
            .await?
            .bytes()
            .await
    })
    .await?;
    let got = match got {
        Err(object_store::Error::NotFound { .. }) => None,
        Err(err) => return Err(classify(&err, "GET", &name)),
        Ok(bytes) => Some(bytes),
    };
    s.checked_at_ms = Some(now_ms);
    out.canaries_checked += 1;
    // The next generation's bytes: written, and the crash came before its manifest entry
    // was stored. Recorded now, as probity's own write.
    if let Some(bytes) = &got {
        let e = &s.current;
        let (_, next) = canary_payload(
            secret,
            &e.store,
            e.slot,
            e.generation + 1,
            bytes.len() as u64,
        );
        if hex::encode(Sha256::digest(bytes)) == next && next != e.sha256 {
            let entry = CanaryEntry {
                generation: e.generation + 1,
                size: bytes.len() as u64,
                sha256: next,
                written_at_ms: now_ms,
                e_tag: None,
                version: None,
                ..e.clone()
            };
            out.canaries_written.push(entry.clone());
            s.advance(entry);
        }
    }
    s.failing = judge_canary(s, got.as_deref(), listed.contains(&name));
    if s.failing.is_none() {
        s.last_good_ms = Some(now_ms);
    }
    Ok(())
}

/// What is wrong with a canary read back as `got` (`None`: not found), if anything.
fn judge_canary(s: &Slot, got: Option<&[u8]>, listed: bool) -> Option<IntegrityFailure> {
    let e = &s.current;
    let name = &e.key;
    let last_good = s
        .last_good_ms
        .map(|t| format!("; last read intact at {}", probity_ground::time::rfc3339(t)))
        .unwrap_or_default();
    let failure = |class, actual: Option<String>, detail: String| IntegrityFailure {
        class,
        key: name.clone(),
        expected_sha256: Some(e.sha256.clone()),
        actual_sha256: actual,
        written_at_ms: Some(e.written_at_ms),
        last_good_ms: s.last_good_ms,
        detail,
    };
    let Some(bytes) = got else {
        return Some(failure(
            ErrorClass::ObjectMissing,
            None,
            format!(
                "canary {name} ({} bytes, sha256 {}, written {}) is gone{last_good}",
                e.size,
                e.sha256,
                probity_ground::time::rfc3339(e.written_at_ms)
            ),
        ));
    };
    let actual = hex::encode(Sha256::digest(bytes));
    if actual != e.sha256 {
        let (class, what) = if s.earlier.contains(&actual) {
            (ErrorClass::StaleRead, "an earlier version was served")
        } else {
            (ErrorClass::IntegrityMismatch, "other bytes were served")
        };
        return Some(failure(
            class,
            Some(actual.clone()),
            format!(
                "canary {name}: {what}: expected sha256 {} ({} bytes, generation {}, written {}), got sha256 {actual} ({} bytes){last_good}",
                e.sha256,
                e.size,
                e.generation,
                probity_ground::time::rfc3339(e.written_at_ms),
                bytes.len()
            ),
        ));
    }
    if !listed {
        return Some(failure(
            ErrorClass::ListingInconsistent,
            Some(actual),
            format!("canary {name} reads back intact but the listing leaves it out"),
        ));
    }
    None
}

#[allow(clippy::too_many_arguments)]
async fn write_canary(
    spec: &ObjectStoreSpec,
    client: &dyn ObjectStore,
    manifest: &mut Manifest,
    secret: &[u8; 32],
    slot: u32,
    now_ms: i64,
    deadline: Instant,
    out: &mut StorageDetails,
) -> Result<(), Failure> {
    let name = canary_key(spec, slot);
    let generation = manifest
        .slots
        .get(&slot)
        .map_or(1, |s| s.current.generation + 1);
    let (bytes, sha) = canary_payload(secret, &spec.store_id(), slot, generation, spec.canary_size);
    let r = timed(
        "PUT",
        &name,
        deadline,
        &mut out.phases.put_ms,
        put(client, &ObjectPath::from(name.as_str()), bytes),
    )
    .await?
    .map_err(|e| classify(&e, "PUT", &name))?;
    let entry = CanaryEntry {
        store: spec.store_id(),
        slot,
        generation,
        key: name,
        size: spec.canary_size,
        sha256: sha,
        written_at_ms: now_ms,
        e_tag: r.e_tag,
        version: r.version,
    };
    out.canaries_written.push(entry.clone());
    let s = manifest.add(entry);
    s.checked_at_ms = Some(now_ms);
    s.failing = None;
    Ok(())
}
