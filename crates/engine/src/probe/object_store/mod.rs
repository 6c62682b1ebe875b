//! Object storage: each cycle writes objects of random bytes and reads them back (PUT, GET,
//! HEAD, LIST, DELETE, and a HEAD that must find nothing), then reads the long-lived canary
//! objects that are due and checks them against their manifest.
//!
//! The manifest (what was written, when, with which SHA-256) is the evidence: each entry
//! goes to the recorder in the result's [`StorageDetails::canaries_written`] and from
//! there into the store and the evidence log, in the result's transaction. A server
//! seeds [`Storage`] from the store at start ([`Storage::keeping`]); a context that keeps
//! no manifest (an agent, `probity probe`) runs round trips only.
//!
//! Probity only deletes what it wrote: the object a cycle just put, and leftovers of
//! earlier cycles whose names it made (`cycle/probity-<ms>-<hex>`). Canaries are
//! overwritten in place (rotation), never deleted.

mod canary;

use super::{Failure, ProbeContext};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use probity_core::condition::{Observation, StoragePhases};
use probity_core::result::ErrorClass;
use probity_ground::spec::{ObjectStoreSpec, StorageScheme};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

/// Objects larger than this are uploaded in parts of this size (S3's smallest part).
pub const PART_SIZE: usize = 5 << 20;
/// Leftovers of earlier cycles (a crash between PUT and DELETE) older than this are deleted.
const LEFTOVER_AGE_MS: i64 = 3_600_000;

/// One canary object as written: a manifest entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CanaryEntry {
    /// The place ([`ObjectStoreSpec::store_id`]).
    pub store: String,
    pub slot: u32,
    /// 1 for the first write of a slot, one more for each rotation.
    pub generation: u32,
    pub key: String,
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    pub written_at_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// What one object-storage cycle did, kept with the result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StorageDetails {
    #[serde(flatten)]
    pub phases: StoragePhases,
    /// Bytes written by the round trip.
    pub bytes: u64,
    /// Canaries read back and checked in this cycle.
    pub canaries_checked: u32,
    /// Canaries written (first writes and rotations): manifest entries to record.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub canaries_written: Vec<CanaryEntry>,
    /// Objects under the canary prefix that probity did not write (left alone).
    #[serde(skip_serializing_if = "is_zero", default)]
    pub foreign_objects: u32,
    /// Every integrity failure of the cycle (the result's cause is the first).
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub failures: Vec<IntegrityFailure>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An object that did not come back as written.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntegrityFailure {
    pub class: ErrorClass,
    pub key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub written_at_ms: Option<i64>,
    /// When the object was last read back intact (in this run).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_good_ms: Option<i64>,
    pub detail: String,
}

/// The object stores probity probes, with their canaries' manifests.
#[derive(Default)]
pub struct Storage {
    keeps_manifest: bool,
    /// The server's secret the canaries' bytes are made from (see [`canary_payload`]).
    secret: [u8; 32],
    places: Mutex<HashMap<String, Arc<Place>>>,
}

#[derive(Default)]
struct Place {
    client: Mutex<Option<Arc<dyn ObjectStore>>>,
    /// One cycle at a time per place (two targets may name the same place).
    state: tokio::sync::Mutex<Manifest>,
}

#[derive(Default)]
struct Manifest {
    slots: BTreeMap<u32, Slot>,
}

impl Manifest {
    /// `entry` becomes its slot's current generation; the one it replaces joins `earlier`.
    fn add(&mut self, entry: CanaryEntry) -> &mut Slot {
        match self.slots.entry(entry.slot) {
            std::collections::btree_map::Entry::Occupied(o) => {
                let s = o.into_mut();
                s.advance(entry);
                s
            }
            std::collections::btree_map::Entry::Vacant(v) => v.insert(Slot {
                current: entry,
                earlier: Vec::new(),
                checked_at_ms: None,
                last_good_ms: None,
                failing: None,
            }),
        }
    }
}

struct Slot {
    current: CanaryEntry,
    /// The SHA-256 of every earlier generation: reading one of them back is a stale read.
    earlier: Vec<String>,
    checked_at_ms: Option<i64>,
    last_good_ms: Option<i64>,
    /// What its latest check found wrong: reported by every cycle until a check finds the
    /// canary intact again (between checks it is known to be bad).
    failing: Option<IntegrityFailure>,
}

impl Slot {
    /// A new generation of this canary: the old one's bytes become a stale read.
    fn advance(&mut self, entry: CanaryEntry) {
        let old = std::mem::replace(&mut self.current, entry);
        self.earlier.push(old.sha256);
    }
}

impl Storage {
    /// A context that keeps canaries, seeded with the manifest entries stored so far (every
    /// generation of every slot, in any order). `secret` is the server's own (derived from
    /// its signing key): the canaries' bytes are made from it.
    pub fn keeping(entries: Vec<CanaryEntry>, secret: [u8; 32]) -> Self {
        let storage = Storage {
            keeps_manifest: true,
            secret,
            places: Mutex::default(),
        };
        let mut by_store: HashMap<String, Vec<CanaryEntry>> = HashMap::new();
        for e in entries {
            by_store.entry(e.store.clone()).or_default().push(e);
        }
        let mut places = storage.places.lock().expect("storage lock");
        for (store, mut entries) in by_store {
            entries.sort_by_key(|e| (e.slot, e.generation));
            let mut m = Manifest::default();
            for e in entries {
                m.add(e);
            }
            places.insert(
                store,
                Arc::new(Place {
                    client: Mutex::default(),
                    state: tokio::sync::Mutex::new(m),
                }),
            );
        }
        drop(places);
        storage
    }

    fn place(&self, spec: &ObjectStoreSpec) -> Arc<Place> {
        self.places
            .lock()
            .expect("storage lock")
            .entry(spec.store_id())
            .or_default()
            .clone()
    }
}

impl Place {
    fn client(&self, spec: &ObjectStoreSpec) -> Result<Arc<dyn ObjectStore>, Failure> {
        let mut slot = self.client.lock().expect("client lock");
        if let Some(c) = &*slot {
            return Ok(c.clone());
        }
        let c = build_client(spec).map_err(|e| {
            Failure::new(
                ErrorClass::Protocol,
                format!("cannot set up the client: {}", scrub(&e)),
            )
        })?;
        *slot = Some(c.clone());
        Ok(c)
    }
}

/// The provider's client, with its own retries off so every failure is seen.
pub fn build_client(spec: &ObjectStoreSpec) -> Result<Arc<dyn ObjectStore>, String> {
    use object_store::ClientOptions;
    use object_store::RetryConfig;
    let retry = RetryConfig {
        max_retries: 0,
        retry_timeout: Duration::from_secs(1),
        ..Default::default()
    };
    let http = spec
        .endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"));
    let client = ClientOptions::new()
        .with_allow_http(http)
        .with_connect_timeout(Duration::from_secs(30))
        .with_timeout(Duration::from_secs(300));
    let e = |e: object_store::Error| e.to_string();
    Ok(match spec.scheme {
        StorageScheme::S3 => {
            let mut b = object_store::aws::AmazonS3Builder::from_env()
                .with_bucket_name(&spec.bucket)
                .with_client_options(client)
                .with_retry(retry);
            if let Some(ep) = &spec.endpoint {
                b = b.with_endpoint(ep);
            }
            for (k, v) in &spec.options {
                b = b.with_config(k.parse().map_err(e)?, v);
            }
            Arc::new(b.build().map_err(e)?)
        }
        StorageScheme::Azure => {
            let mut b = object_store::azure::MicrosoftAzureBuilder::from_env()
                .with_container_name(&spec.bucket)
                .with_client_options(client)
                .with_retry(retry);
            if let Some(ep) = &spec.endpoint {
                b = b.with_endpoint(ep.clone());
            }
            for (k, v) in &spec.options {
                b = b.with_config(k.parse().map_err(e)?, v);
            }
            Arc::new(b.build().map_err(e)?)
        }
        StorageScheme::Gcs => {
            let mut b = object_store::gcp::GoogleCloudStorageBuilder::from_env()
                .with_bucket_name(&spec.bucket)
                .with_client_options(client)
                .with_retry(retry);
            if let Some(ep) = &spec.endpoint {
                b = b.with_base_url(ep);
            }
            for (k, v) in &spec.options {
                b = b.with_config(k.parse().map_err(e)?, v);
            }
            Arc::new(b.build().map_err(e)?)
        }
        StorageScheme::File => {
            let dir = std::path::Path::new(&spec.bucket);
            if !dir.is_dir() {
                return Err(format!("{} is not a directory", dir.display()));
            }
            Arc::new(object_store::local::LocalFileSystem::new_with_prefix(dir).map_err(e)?)
        }
    })
}

/// Runs one cycle: the round trip, then the canaries that are due.
pub(super) async fn probe(
    ctx: &ProbeContext,
    spec: &ObjectStoreSpec,
    deadline: Instant,
    obs: &mut Observation,
    details: &mut super::Details,
) -> Result<(), Failure> {
    let place = ctx.storage.place(spec);
    let client = place.client(spec)?;
    let mut manifest = match tokio::time::timeout_at(deadline, place.state.lock()).await {
        Ok(m) => m,
        Err(_) => {
            return Err(Failure::new(
                ErrorClass::Timeout,
                "another cycle on the same store was still running at the timeout",
            ));
        }
    };
    let mut out = StorageDetails::default();
    let result = cycle(ctx, spec, &*client, &mut manifest, deadline, &mut out).await;
    obs.storage = out.phases;
    obs.integrity = Some(match &result {
        Err(f) if f.class.is_integrity() => f.class.as_str().to_string(),
        Err(_) => "unchecked".to_string(),
        Ok(()) => "ok".to_string(),
    });
    details.storage = Some(out);
    result
}

async fn cycle(
    ctx: &ProbeContext,
    spec: &ObjectStoreSpec,
    client: &dyn ObjectStore,
    manifest: &mut Manifest,
    deadline: Instant,
    out: &mut StorageDetails,
) -> Result<(), Failure> {
    let now_ms = jiff::Timestamp::now().as_millisecond();
    for &size in &spec.sizes {
        round_trip(spec, client, size, now_ms, deadline, out).await?;
    }
    if ctx.storage.keeps_manifest && spec.canaries > 0 {
        canary::canaries(spec, client, manifest, &ctx.storage.secret, deadline, out).await?;
    }
    Ok(())
}

/// Bounds one storage call by the probe's deadline and times it into `phase`.
async fn timed<T>(
    what: &str,
    key: &str,
    deadline: Instant,
    phase: &mut Option<f64>,
    fut: impl Future<Output = object_store::Result<T>>,
) -> Result<object_store::Result<T>, Failure> {
    let started = Instant::now();
    let r = tokio::time::timeout_at(deadline, fut).await;
    *phase = Some(phase.unwrap_or(0.0) + super::ms_since(started));
    r.map_err(|_| {
        Failure::new(
            ErrorClass::Timeout,
            format!("no answer to {what} {key} within the timeout"),
        )
    })
}

fn random_payload(size: u64) -> (Vec<u8>, String) {
    // Cheap and unpredictable enough: 32 random bytes expanded by SHA-256 in counter mode.
    let mut seed = [0u8; 32];
    let _ = getrandom::fill(&mut seed);
    expand(&seed, size)
}

/// `size` bytes from `key` by SHA-256 in counter mode, and their SHA-256.
fn expand(key: &[u8; 32], size: u64) -> (Vec<u8>, String) {
    let mut bytes = vec![0u8; size as usize];
    for (i, chunk) in bytes.chunks_mut(32).enumerate() {
        let block = Sha256::new()
            .chain_update(key)
            .chain_update((i as u64).to_le_bytes())
            .finalize();
        chunk.copy_from_slice(&block[..chunk.len()]);
    }
    let sha = hex::encode(Sha256::digest(&bytes));
    (bytes, sha)
}

/// The secret canaries' bytes are made from: the log key's signature over a fixed text
/// (Ed25519 signs deterministically), so it survives restarts and never leaves the process.
pub fn secret_of(signer: &probity_core::note::NoteSigner) -> [u8; 32] {
    Sha256::digest(signer.sign_bytes(b"probity object-store canary secret v1")).into()
}

/// A canary generation's bytes: unpredictable without the server's secret, and the same
/// every time they are made, so a write whose manifest entry a crash kept from the store
/// is recognised at the next start instead of being taken for corruption.
fn canary_payload(
    secret: &[u8; 32],
    store: &str,
    slot: u32,
    generation: u32,
    size: u64,
) -> (Vec<u8>, String) {
    let key: [u8; 32] = Sha256::new()
        .chain_update(b"probity canary v1\0")
        .chain_update(secret)
        .chain_update(store.as_bytes())
        .chain_update([0])
        .chain_update(slot.to_le_bytes())
        .chain_update(generation.to_le_bytes())
        .finalize()
        .into();
    expand(&key, size)
}

/// PUTs `bytes` at `key`, in parts when it is larger than one part.
async fn put(
    client: &dyn ObjectStore,
    key: &ObjectPath,
    bytes: Vec<u8>,
) -> object_store::Result<object_store::PutResult> {
    if bytes.len() <= PART_SIZE {
        return client.put(key, PutPayload::from(bytes)).await;
    }
    let upload = client.put_multipart(key).await?;
    let mut w = object_store::WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
    w.put(bytes.into());
    w.finish().await
}

async fn round_trip(
    spec: &ObjectStoreSpec,
    client: &dyn ObjectStore,
    size: u64,
    now_ms: i64,
    deadline: Instant,
    out: &mut StorageDetails,
) -> Result<(), Failure> {
    let mut nonce = [0u8; 8];
    let _ = getrandom::fill(&mut nonce);
    let name = format!(
        "{}cycle/probity-{now_ms}-{}",
        spec.prefix,
        hex::encode(nonce)
    );
    let key = ObjectPath::from(name.as_str());
    let (bytes, sha) = random_payload(size);
    let put_r = timed(
        "PUT",
        &name,
        deadline,
        &mut out.phases.put_ms,
        put(client, &key, bytes),
    )
    .await?;
    put_r.map_err(|e| classify(&e, "PUT", &name))?;
    out.bytes += size;
    let checked = check_written(spec, client, &key, &name, size, &sha, now_ms, deadline, out).await;
    // Whatever the check found, the object it wrote is removed (a best effort when the
    // check failed; a later cycle removes leftovers).
    let deleted = timed(
        "DELETE",
        &name,
        deadline,
        &mut out.phases.delete_ms,
        client.delete(&key),
    )
    .await;
    checked?;
    deleted?.map_err(|e| classify(&e, "DELETE", &name))?;
    let mut unused = None;
    match timed("HEAD", &name, deadline, &mut unused, client.head(&key)).await? {
        Err(object_store::Error::NotFound { .. }) => Ok(()),
        Ok(_) => Err(Failure::new(
            ErrorClass::ListingInconsistent,
            format!("{name} was deleted and acknowledged, and is still served"),
        )),
        Err(e) => Err(classify(&e, "HEAD", &name)),
    }
}

/// GET, HEAD and LIST of an object just written.
#[allow(clippy::too_many_arguments)]
async fn check_written(
    spec: &ObjectStoreSpec,
    client: &dyn ObjectStore,
    key: &ObjectPath,
    name: &str,
    size: u64,
    sha: &str,
    now_ms: i64,
    deadline: Instant,
    out: &mut StorageDetails,
) -> Result<(), Failure> {
    let got = timed("GET", name, deadline, &mut out.phases.get_ms, async {
        client.get(key).await?.bytes().await
    })
    .await?;
    let fail = |out: &mut StorageDetails, class, actual: Option<String>, detail: String| {
        integrity(
            out,
            IntegrityFailure {
                class,
                key: name.into(),
                expected_sha256: Some(sha.into()),
                actual_sha256: actual,
                written_at_ms: Some(now_ms),
                last_good_ms: None,
                detail,
            },
        )
    };
    let got = match got {
        Ok(b) => b,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(fail(
                out,
                ErrorClass::ObjectMissing,
                None,
                format!("{name} was written and acknowledged, and a GET right after found nothing"),
            ));
        }
        Err(e) => return Err(classify(&e, "GET", name)),
    };
    let actual = hex::encode(Sha256::digest(&got));
    if actual != sha {
        return Err(fail(
            out,
            ErrorClass::IntegrityMismatch,
            Some(actual.clone()),
            format!(
                "{name}: wrote {size} bytes with sha256 {sha}, read back {} bytes with sha256 {actual}",
                got.len()
            ),
        ));
    }
    let head = timed(
        "HEAD",
        name,
        deadline,
        &mut out.phases.get_ms,
        client.head(key),
    )
    .await?
    .map_err(|e| classify(&e, "HEAD", name))?;
    if head.size != size {
        return Err(fail(
            out,
            ErrorClass::IntegrityMismatch,
            None,
            format!("{name}: wrote {size} bytes and HEAD says {}", head.size),
        ));
    }
    let listed = list(
        client,
        &format!("{}cycle/", spec.prefix),
        name,
        deadline,
        out,
    )
    .await?;
    if !listed.contains(name) {
        return Err(fail(
            out,
            ErrorClass::ListingInconsistent,
            None,
            format!("{name} can be read back but a listing right after leaves it out"),
        ));
    }
    // Leftovers of cycles interrupted between PUT and DELETE: probity's names only.
    for old in &listed {
        if leftover_written_at(old, &spec.prefix).is_some_and(|at| at < now_ms - LEFTOVER_AGE_MS) {
            let mut unused = None;
            let _ = timed(
                "DELETE",
                old,
                deadline,
                &mut unused,
                client.delete(&ObjectPath::from(old.as_str())),
            )
            .await;
        }
    }
    Ok(())
}

/// The write time in a round trip's object name (`<prefix>cycle/probity-<ms>-<16 hex>`).
fn leftover_written_at(name: &str, prefix: &str) -> Option<i64> {
    let rest = name.strip_prefix(prefix)?.strip_prefix("cycle/probity-")?;
    let (ms, hex) = rest.split_once('-')?;
    (hex.len() == 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| ms.parse().ok())
        .flatten()
}

async fn list(
    client: &dyn ObjectStore,
    prefix: &str,
    what: &str,
    deadline: Instant,
    out: &mut StorageDetails,
) -> Result<BTreeSet<String>, Failure> {
    let p = ObjectPath::from(prefix);
    let r = timed("LIST", prefix, deadline, &mut out.phases.list_ms, async {
        client.list(Some(&p)).try_collect::<Vec<_>>().await
    })
    .await?
    .map_err(|e| classify(&e, "LIST", what))?;
    Ok(r.into_iter().map(|m| m.location.to_string()).collect())
}

fn integrity(out: &mut StorageDetails, f: IntegrityFailure) -> Failure {
    let failure = Failure::new(f.class, f.detail.clone());
    out.failures.push(f);
    failure
}

/// A storage error as a failure of the right class. The store's own text is kept, with
/// any URL query (a SAS signature) taken out.
fn classify(e: &object_store::Error, op: &str, key: &str) -> Failure {
    let text = scrub(&e.to_string());
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<reqwest::Error>() {
            if r.is_timeout() {
                return Failure::new(
                    ErrorClass::Timeout,
                    format!("{op} {key}: timed out: {text}"),
                );
            }
            if r.is_connect() {
                return Failure::new(ErrorClass::Connect, format!("{op} {key}: {text}"));
            }
        }
        source = s.source();
    }
    let class = match e {
        object_store::Error::NotFound { .. } => {
            return Failure::new(
                ErrorClass::HttpStatus,
                format!("{op} {key}: not found (does the bucket or container exist?): {text}"),
            );
        }
        object_store::Error::PermissionDenied { .. }
        | object_store::Error::Unauthenticated { .. } => {
            return Failure::new(
                ErrorClass::HttpStatus,
                format!("{op} {key}: access denied (check the credentials): {text}"),
            );
        }
        _ if text.contains("error sending request") || text.contains("connection") => {
            ErrorClass::Connect
        }
        _ if text.contains("status") || text.contains("Status") => ErrorClass::HttpStatus,
        _ => ErrorClass::Protocol,
    };
    Failure::new(class, format!("{op} {key}: {text}"))
}

/// Takes URL queries (which may carry signatures) out of a text.
fn scrub(text: &str) -> String {
    static QUERY: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    QUERY
        .get_or_init(|| regex::Regex::new(r#"\?[^\s"'<>)]*"#).expect("regex"))
        .replace_all(text, "?…")
        .into_owned()
}

#[cfg(test)]
mod tests;
