//! Checking evidence bundles offline: the checkpoint, every record's inclusion proof, the
//! consistency proofs, the statements corroborating the bundle's incidents, and how two
//! bundles of one log relate. A bundle file is read in bounded memory: its head (all but
//! the records) first, then its records one at a time, so a bundle of ten million records
//! is checked in the memory of a few.

use super::bundle::{Bundle, BundleConsistency, BundleCorroboration, BundleRecord, FORMAT};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use probity_core::merkle::{self, Hash};
use probity_core::note::{Checkpoint, NoteVerifier, verify_note};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufReader, Read};
use std::path::Path;

/// A bundle without its records: what is checked before the records are read.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleHead {
    pub format: String,
    pub verifier_key: String,
    pub checkpoint: String,
    pub from: String,
    pub to: String,
    /// How many records the bundle holds (counted and skipped when a head is read).
    #[serde(rename = "records", deserialize_with = "count_records")]
    pub record_count: u64,
    pub consistency: Vec<BundleConsistency>,
    #[serde(default)]
    pub corroboration: Vec<BundleCorroboration>,
}

impl Bundle {
    /// Everything but the records.
    pub fn head(&self) -> BundleHead {
        BundleHead {
            format: self.format.clone(),
            verifier_key: self.verifier_key.clone(),
            checkpoint: self.checkpoint.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            record_count: self.records.len() as u64,
            consistency: self.consistency.clone(),
            corroboration: self.corroboration.clone(),
        }
    }
}

fn count_records<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Count;
    impl<'de> Visitor<'de> for Count {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of records")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<u64, A::Error> {
            let mut n = 0;
            while seq.next_element::<IgnoredAny>()?.is_some() {
                n += 1;
            }
            Ok(n)
        }
    }
    d.deserialize_seq(Count)
}

fn not_a_bundle(e: &serde_json::Error) -> String {
    format!(
        "not a bundle: line {}, column {}: {e}",
        e.line(),
        e.column()
    )
}

/// Reads a bundle's head, counting its records without keeping them.
pub fn read_head(reader: impl Read) -> Result<BundleHead, String> {
    serde_json::from_reader(BufReader::new(reader)).map_err(|e| not_a_bundle(&e))
}

/// The records of a bundle, in the order the file holds them, parsed on a thread of their
/// own at most 256 ahead of the reader. Dropping it stops the parsing.
pub struct Records {
    rx: std::sync::mpsc::Receiver<Result<BundleRecord, String>>,
}

impl Iterator for Records {
    type Item = Result<BundleRecord, String>;
    fn next(&mut self) -> Option<Self::Item> {
        self.rx.recv().ok()
    }
}

/// Streams the records of the bundle `reader` holds (its other fields are skipped).
pub fn records(reader: impl Read + Send + 'static) -> Records {
    let (tx, rx) = std::sync::mpsc::sync_channel(256);
    std::thread::spawn(move || {
        let mut de = serde_json::Deserializer::from_reader(BufReader::new(reader));
        let read = de.deserialize_map(OnlyRecords(&tx)).and_then(|()| de.end());
        if let Err(e) = read {
            // Nobody is listening any more when the reader stopped early: nothing to say.
            let _ = tx.send(Err(not_a_bundle(&e)));
        }
    });
    Records { rx }
}

type Sender = std::sync::mpsc::SyncSender<Result<BundleRecord, String>>;

/// Visits a bundle's top-level object, sending each record and skipping the rest.
struct OnlyRecords<'a>(&'a Sender);

impl<'de> Visitor<'de> for OnlyRecords<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a bundle (a JSON object)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            if key == "records" {
                map.next_value_seed(RecordSeq(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

struct RecordSeq<'a>(&'a Sender);

impl<'de> DeserializeSeed<'de> for RecordSeq<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for RecordSeq<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of records")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(r) = seq.next_element::<BundleRecord>()? {
            if self.0.send(Ok(r)).is_err() {
                return Err(de::Error::custom("the reader stopped"));
            }
        }
        Ok(())
    }
}

/// What a successful verification established.
#[derive(Debug, Serialize)]
pub struct Verified {
    pub origin: String,
    pub checkpoint_size: u64,
    pub root: String,
    pub records: usize,
    pub consistent_with: Vec<u64>,
    pub key_from_bundle: bool,
}

/// A bundle's head, checked: the key, the checkpoint, the sizes it proves consistency from.
pub struct CheckedHead {
    pub verifier: NoteVerifier,
    pub checkpoint: Checkpoint,
    consistent_with: Vec<u64>,
    key_from_bundle: bool,
}

impl CheckedHead {
    fn verified(self, records: usize) -> Verified {
        Verified {
            origin: self.checkpoint.origin,
            checkpoint_size: self.checkpoint.size,
            root: hex::encode(self.checkpoint.root),
            records,
            consistent_with: self.consistent_with,
            key_from_bundle: self.key_from_bundle,
        }
    }
}

fn hash(s: &str, what: &str) -> Result<Hash, String> {
    let b = hex::decode(s).map_err(|_| format!("{what} is not hex"))?;
    merkle::hash_from_slice(&b).map_err(|e| format!("{what}: {e}"))
}

fn proof(v: &[String], what: &str) -> Result<Vec<Hash>, String> {
    v.iter()
        .enumerate()
        .map(|(i, h)| hash(h, &format!("{what} hash {i}")))
        .collect()
}

/// Checks a bundle's head: its format, its key against `key` (the verifier key the caller
/// trusts; the bundle's own when `None`), its checkpoint's signature, its consistency
/// proofs, and that it extends `since` (an earlier checkpoint the caller kept). The error
/// names the first broken thing.
pub fn verify_head(
    head: &BundleHead,
    key: Option<&str>,
    since: Option<&str>,
) -> Result<CheckedHead, String> {
    if head.format != FORMAT {
        return Err(format!(
            "unknown bundle format {:?} (expected {FORMAT})",
            head.format
        ));
    }
    let bundled = NoteVerifier::parse(&head.verifier_key)
        .map_err(|e| format!("the bundle's verifier key: {e}"))?;
    let verifier = match key {
        Some(k) => {
            let v = NoteVerifier::parse(k).map_err(|e| format!("--key: {e}"))?;
            if v != bundled {
                return Err(format!(
                    "the bundle names key {bundled}, not the key you gave ({v})"
                ));
            }
            v
        }
        None => bundled,
    };
    let signed = |note: &str| -> Result<Checkpoint, String> {
        let text = verify_note(note, std::slice::from_ref(&verifier)).map_err(|e| e.to_string())?;
        Checkpoint::parse(text).map_err(|e| e.to_string())
    };
    let cp = signed(&head.checkpoint).map_err(|e| format!("checkpoint: {e}"))?;
    if cp.origin != verifier.name() {
        return Err(format!(
            "checkpoint: origin {:?} is not the key's name {:?}",
            cp.origin,
            verifier.name()
        ));
    }
    let mut consistent_with = Vec::new();
    for (i, c) in head.consistency.iter().enumerate() {
        let at = format!("consistency proof {i}");
        let old = signed(&c.old_checkpoint).map_err(|e| format!("{at}: old checkpoint: {e}"))?;
        let p = proof(&c.proof, &at)?;
        merkle::verify_consistency(old.size, cp.size, &old.root, &cp.root, &p).map_err(|e| {
            format!(
                "{at}: from size {} to {}: {e} (the log does not extend that checkpoint)",
                old.size, cp.size
            )
        })?;
        consistent_with.push(old.size);
    }
    if let Some(note) = since {
        let old = signed(note).map_err(|e| format!("--since: {e}"))?;
        let ok = (old.size == cp.size && old.root == cp.root)
            || head.consistency.iter().any(|c| {
                signed(&c.old_checkpoint).is_ok_and(|o| o.size == old.size && o.root == old.root)
            });
        if !ok {
            return Err(format!(
                "--since: the bundle carries no consistency proof from your checkpoint (size {}); export with `--since` that checkpoint",
                old.size
            ));
        }
    }
    Ok(CheckedHead {
        verifier,
        checkpoint: cp,
        consistent_with,
        key_from_bundle: key.is_none(),
    })
}

/// Checks each record (its bytes against its leaf hash, its inclusion proof against the
/// checkpoint) in increasing index order, one at a time; returns how many there were.
/// `progress` advances per record.
pub fn verify_records(
    records: impl Iterator<Item = Result<BundleRecord, String>>,
    cp: &Checkpoint,
    progress: &indicatif::ProgressBar,
) -> Result<usize, String> {
    let mut previous: Option<u64> = None;
    let mut n = 0;
    for r in records {
        let r = r?;
        let at = format!("record at index {}", r.index);
        if previous.is_some_and(|p| r.index <= p) {
            return Err(format!("{at}: records are not in increasing index order"));
        }
        previous = Some(r.index);
        let bytes = B64
            .decode(&r.record)
            .map_err(|_| format!("{at}: the record is not base64"))?;
        let leaf = hash(&r.leaf_hash, &format!("{at}: leaf hash"))?;
        if merkle::leaf_hash(&bytes) != leaf {
            return Err(format!(
                "{at}: the record does not match its leaf hash (the record was altered)"
            ));
        }
        let p = proof(&r.proof, &format!("{at}: proof"))?;
        merkle::verify_inclusion(r.index, cp.size, &leaf, &p, &cp.root).map_err(|e| {
            format!(
                "{at}: inclusion proof against checkpoint size {}: {e}",
                cp.size
            )
        })?;
        n += 1;
        progress.inc(1);
    }
    Ok(n)
}

/// Verifies a bundle held in memory (see [`verify_head`] and [`verify_records`]).
pub fn verify(
    bundle: &Bundle,
    key: Option<&str>,
    since: Option<&str>,
    progress: &indicatif::ProgressBar,
) -> Result<Verified, String> {
    let head = verify_head(&bundle.head(), key, since)?;
    progress.set_length(bundle.records.len() as u64);
    let n = verify_records(
        bundle.records.iter().cloned().map(Ok),
        &head.checkpoint,
        progress,
    )?;
    Ok(head.verified(n))
}

/// Why a bundle file did not verify.
#[derive(Debug)]
pub enum FileFailure {
    /// The file could not be read.
    Unreadable(String),
    /// It was read, and it is not a valid bundle, or not of the key given.
    Invalid(String),
}

/// Verifies the bundle in `path`, reading it twice: its head, then its records one at a
/// time. Memory does not grow with the number of records.
pub fn verify_file(
    path: &Path,
    key: Option<&str>,
    since: Option<&str>,
    progress: &indicatif::ProgressBar,
) -> Result<(BundleHead, Verified), FileFailure> {
    let open = || {
        std::fs::File::open(path).map_err(|e| FileFailure::Unreadable(format!("cannot read: {e}")))
    };
    let head = read_head(open()?).map_err(FileFailure::Invalid)?;
    let checked = verify_head(&head, key, since).map_err(FileFailure::Invalid)?;
    progress.set_length(head.record_count);
    let n = verify_records(records(open()?), &checked.checkpoint, progress)
        .map_err(FileFailure::Invalid)?;
    Ok((head, checked.verified(n)))
}

/// What the corroboration of one incident came to.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Corroborated {
    pub incident: i64,
    /// The logs whose statements verified with a key given.
    pub verified: Vec<String>,
    /// The signers of statements no key was given for (not checked).
    pub unchecked: Vec<String>,
}

/// Checks a bundle's corroborating statements with the peers' keys (`peers`): each one
/// signed by a key given must verify (signature, checkpoint, inclusion proofs, times as of
/// `now_ms`); those by other keys are listed as unchecked. The error names the first
/// statement that fails.
pub fn verify_corroboration(
    corroboration: &[BundleCorroboration],
    peers: &[NoteVerifier],
    now_ms: i64,
) -> Result<Vec<Corroborated>, String> {
    let mut out = Vec::new();
    for c in corroboration {
        let mut done = Corroborated {
            incident: c.incident,
            verified: Vec::new(),
            unchecked: Vec::new(),
        };
        for (i, env) in c.statements.iter().enumerate() {
            let at = format!("corroboration of incident {}, statement {i}", c.incident);
            let (_, sigs) =
                probity_core::note::split_note(&env.statement).map_err(|e| format!("{at}: {e}"))?;
            let Some(key) = peers
                .iter()
                .find(|k| sigs.iter().any(|s| s.name == k.name()))
            else {
                done.unchecked.extend(sigs.first().map(|s| s.name.clone()));
                continue;
            };
            let st = probity_core::federation::verify(env, key, now_ms)
                .map_err(|e| format!("{at} (by {}): {e}", key.name()))?;
            done.verified.push(st.origin);
        }
        done.verified.sort();
        done.verified.dedup();
        out.push(done);
    }
    Ok(out)
}

/// How two bundles of one log relate.
#[derive(Debug, Serialize, PartialEq)]
#[serde(tag = "relation", rename_all = "snake_case")]
pub enum Relation {
    /// The newer checkpoint is proven to extend the older one (or they are the same).
    Consistent { older_size: u64, newer_size: u64 },
    /// Two statements signed by the same key that cannot both be true: at one size two
    /// roots, or at one index two records. The two bundles are the proof.
    Fork { detail: String },
    /// Neither bundle carries what would show one extends the other.
    Undetermined { detail: String },
}

/// The checkpoints a bundle's head states, by size: its own and the older ones it proves
/// consistency from.
fn stated_roots(
    h: &BundleHead,
    v: &NoteVerifier,
) -> Result<(Checkpoint, BTreeMap<u64, Hash>), String> {
    let parse = |note: &str| {
        verify_note(note, std::slice::from_ref(v))
            .map_err(|e| e.to_string())
            .and_then(|t| Checkpoint::parse(t).map_err(|e| e.to_string()))
    };
    let cp = parse(&h.checkpoint)?;
    let mut roots = BTreeMap::from([(cp.size, cp.root)]);
    for c in &h.consistency {
        let old = parse(&c.old_checkpoint)?;
        roots.insert(old.size, old.root);
    }
    Ok((cp, roots))
}

/// The roots a bundle's records prove while they are the log's first leaves, in order:
/// a bundle that holds leaves `0..n` knows the root at every size up to `n`.
struct Prefix<'a> {
    tree: merkle::Frontier,
    whole: bool,
    /// The other bundle's stated roots, by size.
    stated: &'a BTreeMap<u64, Hash>,
    /// The first size whose computed root differs from the stated one.
    mismatch: Option<(u64, Hash, Hash)>,
    proven: BTreeSet<u64>,
}

impl Prefix<'_> {
    fn push(&mut self, index: u64, leaf: Hash) {
        if !self.whole || index != self.tree.size() {
            self.whole = false;
            return;
        }
        self.tree.push(leaf);
        let size = self.tree.size();
        if let Some(stated) = self.stated.get(&size) {
            let computed = self.tree.root();
            if computed == *stated {
                self.proven.insert(size);
            } else if self.mismatch.is_none() {
                self.mismatch = Some((size, computed, *stated));
            }
        }
    }
}

/// A record stream as (index, leaf hash), checked to rise.
fn leaves(
    records: impl Iterator<Item = Result<BundleRecord, String>>,
    which: &'static str,
) -> impl Iterator<Item = Result<(u64, Hash), String>> {
    let mut previous: Option<u64> = None;
    records.map(move |r| {
        let r = r.map_err(|e| format!("{which} bundle: {e}"))?;
        if previous.is_some_and(|p| r.index <= p) {
            return Err(format!(
                "{which} bundle: record at index {}: records are not in increasing index order",
                r.index
            ));
        }
        previous = Some(r.index);
        let at = format!("{which} bundle: record at index {}: leaf hash", r.index);
        Ok((r.index, hash(&r.leaf_hash, &at)?))
    })
}

/// Compares two bundles, each already checked with `verifier`, reading their records once,
/// side by side in index order: finds a fork (the same size with two roots, the same index
/// with two records, or a bundle holding the log's first leaves whose root differs from the
/// other's checkpoint at that size), or shows the newer checkpoint extends the older.
pub fn compare_streams(
    (ha, ra): (
        &BundleHead,
        impl Iterator<Item = Result<BundleRecord, String>>,
    ),
    (hb, rb): (
        &BundleHead,
        impl Iterator<Item = Result<BundleRecord, String>>,
    ),
    verifier: &NoteVerifier,
) -> Result<Relation, String> {
    let (ca, roots_a) = stated_roots(ha, verifier).map_err(|e| format!("first bundle: {e}"))?;
    let (cb, roots_b) = stated_roots(hb, verifier).map_err(|e| format!("second bundle: {e}"))?;
    if ca.origin != cb.origin {
        return Err(format!(
            "the bundles are of different logs ({:?} and {:?}); nothing to compare",
            ca.origin, cb.origin
        ));
    }
    for (size, root) in &roots_a {
        if let Some(other) = roots_b.get(size).filter(|o| *o != root) {
            return Ok(Relation::Fork {
                detail: format!(
                    "both bundles carry a checkpoint of size {size} signed by the same key, with roots {} and {}",
                    hex::encode(root),
                    hex::encode(other)
                ),
            });
        }
    }
    let prefix = |stated| Prefix {
        tree: merkle::Frontier::new(),
        whole: true,
        stated,
        mismatch: None,
        proven: BTreeSet::new(),
    };
    let (mut pa, mut pb) = (prefix(&roots_b), prefix(&roots_a));
    let mut la = leaves(ra, "first").peekable();
    let mut lb = leaves(rb, "second").peekable();
    loop {
        let next_a = la.peek().map(|x| x.as_ref().map(|(i, _)| *i));
        let next_b = lb.peek().map(|x| x.as_ref().map(|(i, _)| *i));
        let (take_a, take_b) = match (next_a, next_b) {
            (None, None) => break,
            (Some(Err(_)), _) | (Some(Ok(_)), None) => (true, false),
            (_, Some(Err(_))) | (None, Some(Ok(_))) => (false, true),
            (Some(Ok(i)), Some(Ok(j))) => (i <= j, j <= i),
        };
        let a = take_a.then(|| la.next()).flatten().transpose()?;
        let b = take_b.then(|| lb.next()).flatten().transpose()?;
        if let (Some((index, h)), Some((_, other))) = (a, b)
            && h != other
        {
            return Ok(Relation::Fork {
                detail: format!(
                    "both bundles prove a record at index {index}, and they differ (leaf hashes {} and {})",
                    hex::encode(h),
                    hex::encode(other)
                ),
            });
        }
        if let Some((index, h)) = a {
            pa.push(index, h);
        }
        if let Some((index, h)) = b {
            pb.push(index, h);
        }
    }
    if let Some((size, computed, stated)) = pa.mismatch.or(pb.mismatch) {
        return Ok(Relation::Fork {
            detail: format!(
                "the log's first {size} records in one bundle have root {}, and the other bundle's checkpoint of size {size} says {}",
                hex::encode(computed),
                hex::encode(stated)
            ),
        });
    }
    let (older, newer, newer_roots) = if ca.size <= cb.size {
        (&ca, &cb, &roots_b)
    } else {
        (&cb, &ca, &roots_a)
    };
    if newer_roots.get(&older.size) == Some(&older.root)
        || pa.proven.contains(&older.size)
        || pb.proven.contains(&older.size)
    {
        return Ok(Relation::Consistent {
            older_size: older.size,
            newer_size: newer.size,
        });
    }
    Ok(Relation::Undetermined {
        detail: format!(
            "neither bundle shows that the checkpoint of size {} extends the one of size {}: export the newer again with `--since` the older bundle's checkpoint (its `checkpoint` field, saved to a file)",
            newer.size, older.size
        ),
    })
}

/// [`compare_streams`] of two bundles held in memory.
pub fn compare(a: &Bundle, b: &Bundle, verifier: &NoteVerifier) -> Result<Relation, String> {
    compare_streams(
        (&a.head(), a.records.iter().cloned().map(Ok)),
        (&b.head(), b.records.iter().cloned().map(Ok)),
        verifier,
    )
}

/// [`compare_streams`] of two bundle files (heads already read), their records streamed.
pub fn compare_files(
    (a, ha): (&Path, &BundleHead),
    (b, hb): (&Path, &BundleHead),
    verifier: &NoteVerifier,
) -> Result<Relation, String> {
    let open =
        |p: &Path| std::fs::File::open(p).map_err(|e| format!("{}: cannot read: {e}", p.display()));
    compare_streams((ha, records(open(a)?)), (hb, records(open(b)?)), verifier)
}
