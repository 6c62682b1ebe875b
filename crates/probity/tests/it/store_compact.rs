//! Compact results (SQLite): results moved into chunks read back equal to what was written,
//! by every reader; the evidence records of their leaves are rebuilt byte for byte (the
//! audit reproduces every leaf hash and finds altered chunks); a store from before
//! compaction opens and keeps what it had; agents' ids and incidents' evidence survive.

use probity_core::merkle;
use probity_core::note::{Checkpoint, NoteSigner};
use probity_core::result::{Cause, ErrorClass, Health, Phases};
use probity_engine::store::traits::*;
use probity_engine::store::{Batch, IncidentChange, Origin, ResultRecord, SqliteStore};

const HOUR: i64 = 3_600_000;

/// A small deterministic generator (the cases are reproducible from the seed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn phase(&mut self) -> Option<f64> {
        match self.below(5) {
            0 => None,
            // An older store's or a hostile agent's time: not whole microseconds.
            1 => Some(self.below(1 << 40) as f64 / 7.0),
            _ => Some(self.below(5_000_000) as f64 / 1000.0),
        }
    }
}

const TEXTS: &[&str] = &[
    "connection refused",
    "connexion refusée: 東京 ✓",
    "",
    "tls: certificate expired 🔒",
    "status 503",
];

/// `n` random results of a few targets and vantages, from `first_id`, 13 s apart from two
/// hours before `now`: failures, missing phases, unicode error texts, agents' ids.
fn random_results(rng: &mut Rng, first_id: i64, n: usize, now: i64) -> Vec<ResultRecord> {
    (0..n)
        .map(|i| {
            let health =
                [Health::Up, Health::Up, Health::Degraded, Health::Down][rng.below(4) as usize];
            let agent = rng.below(3) == 0;
            ResultRecord {
                id: first_id + i as i64,
                target: format!("t{}", rng.below(4)),
                vantage: if agent { "eu".into() } else { "local".into() },
                // Later ids are later results (as they are measured), a few seconds of jitter.
                at_ms: now - 2 * HOUR + (first_id + i as i64) * 13_000 + rng.below(5_000) as i64,
                health,
                phases: Phases {
                    dns_ms: rng.phase(),
                    connect_ms: rng.phase(),
                    tls_ms: rng.phase(),
                    ttfb_ms: rng.phase(),
                    total_ms: rng.phase(),
                },
                cause: (health != Health::Up).then(|| Cause {
                    class: [ErrorClass::Connect, ErrorClass::Tls, ErrorClass::HttpStatus]
                        [rng.below(3) as usize],
                    detail: TEXTS[rng.below(TEXTS.len() as u64) as usize].into(),
                }),
                details: (health != Health::Up)
                    .then(|| format!(r#"{{"note":"{}"}}"#, TEXTS[rng.below(5) as usize])),
                unmeasured: rng.below(10) == 0,
                origin: agent.then(|| format!("o-{}", first_id + i as i64)),
                clock_offset_ms: (agent && rng.below(2) == 0)
                    .then(|| rng.below(9_000) as i64 - 4_000),
            }
        })
        .collect()
}

fn batch(results: Vec<ResultRecord>) -> Batch {
    Batch {
        results,
        incidents: Vec::new(),
        alerts: Vec::new(),
        canaries: Vec::new(),
    }
}

/// A SQLite store holding `batches` batches of `per` random results from `seed`, ids from 1.
fn store_with(seed: u64, batches: i64, per: usize) -> (tempfile::TempDir, SqliteStore, i64) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    let mut rng = Rng(seed);
    for b in 0..batches {
        s.write(&batch(random_results(
            &mut rng,
            1 + b * per as i64,
            per,
            now,
        )))
        .unwrap();
    }
    (dir, s, now)
}

/// A batch that opens incident `id` on `target` with `evidence`.
fn opened(id: i64, target: &str, evidence: Vec<i64>, now: i64) -> Batch {
    Batch {
        incidents: vec![IncidentChange::Open {
            id,
            target: target.into(),
            started_at_ms: now - HOUR,
            severity: Health::Down,
            cause: Cause {
                class: ErrorClass::Connect,
                detail: "refused".into(),
            },
            evidence,
            seen: Vec::new(),
        }],
        ..batch(Vec::new())
    }
}

/// Everything the readers give for `targets`: results by target and by id, the latest,
/// the counts of each minute, the evidence records.
struct Seen {
    by_target: Vec<Vec<(i64, String)>>,
    by_ids: Vec<String>,
    latest: Vec<String>,
    minutes: Vec<Vec<(i64, String, u64, u64)>>,
    records: Vec<Vec<u8>>,
    stored_results: u64,
}

fn seen(s: &dyn Store, targets: &[&str], ids: (i64, i64), now: i64) -> Seen {
    let show = |r: &ResultRecord| format!("{r:?}");
    let mut latest: Vec<String> = s.latest_results().unwrap().iter().map(show).collect();
    latest.sort();
    Seen {
        by_target: targets
            .iter()
            .map(|t| {
                s.results(t, None, None, usize::MAX)
                    .unwrap()
                    .iter()
                    .map(|r| (r.id, show(r)))
                    .collect()
            })
            .collect(),
        by_ids: s
            .results_by_ids(ids.0, ids.1)
            .unwrap()
            .iter()
            .map(show)
            .collect(),
        latest,
        // Bounds that cut minutes: their edges are read from the results themselves.
        minutes: targets
            .iter()
            .map(|t| {
                s.minute_counts(t, now - 2 * HOUR - 1_234, now - 17_321)
                    .unwrap()
            })
            .collect(),
        records: s
            .evidence_records(0, s.evidence_size().unwrap())
            .unwrap()
            .into_iter()
            .map(|l| l.record)
            .collect(),
        stored_results: s.stats(now).unwrap().rows["results"],
    }
}

/// The first difference between what two reads saw, short enough to read.
fn differs(a: &Seen, b: &Seen) -> Option<String> {
    fn first<T: std::fmt::Debug + PartialEq>(what: &str, a: &[T], b: &[T]) -> Option<String> {
        if a.len() != b.len() {
            return Some(format!("{what}: {} against {}", a.len(), b.len()));
        }
        let i = a.iter().zip(b).position(|(x, y)| x != y)?;
        let cut = |s: String| s.chars().take(600).collect::<String>();
        Some(format!(
            "{what}[{i}]:\n  {}\n  {}",
            cut(format!("{:?}", a[i])),
            cut(format!("{:?}", b[i]))
        ))
    }
    let flat = |v: &Vec<Vec<(i64, String)>>| v.concat();
    first("by_target", &flat(&a.by_target), &flat(&b.by_target))
        .or_else(|| first("by_ids", &a.by_ids, &b.by_ids))
        .or_else(|| first("latest", &a.latest, &b.latest))
        .or_else(|| first("minutes", &a.minutes.concat(), &b.minutes.concat()))
        .or_else(|| {
            let text = |v: &Vec<Vec<u8>>| {
                v.iter()
                    .map(|r| String::from_utf8_lossy(r).into_owned())
                    .collect::<Vec<_>>()
            };
            first("records", &text(&a.records), &text(&b.records))
        })
        .or_else(|| {
            (a.stored_results != b.stored_results)
                .then(|| format!("stored {} against {}", a.stored_results, b.stored_results))
        })
}

#[test]
fn compacted_results_read_back_as_written_and_rebuild_their_records() {
    for seed in [1u64, 7, 42, 1_000_003, 0x5eed] {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(dir.path()).unwrap();
        let now = jiff::Timestamp::now().as_millisecond();
        let mut rng = Rng(seed);
        let mut next = 1;
        for _ in 0..12 {
            let n = 1 + rng.below(60) as usize;
            s.write(&batch(random_results(&mut rng, next, n, now)))
                .unwrap();
            next += n as i64;
        }
        // An incident names two results: they stay rows as well.
        let inc = s.next_incident_id().unwrap();
        s.write(&opened(inc, "t1", vec![3, 5], now)).unwrap();
        let targets = ["t0", "t1", "t2", "t3"];
        let before = seen(&s, &targets, (1, next), now);
        assert!(before.stored_results == (next - 1) as u64);
        let leaves = s.evidence_size().unwrap();

        // Everything written so far is older than the head window given.
        let done = s.compact(now + 3 * HOUR).unwrap();
        assert_eq!(done.results, (next - 1) as usize, "seed {seed}");
        assert_eq!(done.leaves, 12, "seed {seed}: every results leaf rebuilds");
        assert!(done.chunks >= 4, "seed {seed}");
        let after = seen(&s, &targets, (1, next), now);
        assert_eq!(differs(&after, &before), None, "seed {seed}");
        // The records are rebuilt, not stored: the rows are gone but the incident's two.
        let rebuilt = s.evidence_records(0, leaves).unwrap();
        assert_eq!(rebuilt.iter().filter(|l| l.rebuilt).count(), 12);
        let conn = rusqlite::Connection::open(dir.path().join("probity.db")).unwrap();
        let (rows, stored): (i64, i64) = conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM results), (SELECT COUNT(*) FROM evidence_leaves WHERE length(record) > 0)",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(
            (rows, stored),
            (2, 1),
            "seed {seed}: the incident's record stays"
        );
        let evidence = s.incident(inc).unwrap().unwrap();
        assert_eq!(evidence.evidence, [3, 5]);
        // A second pass has nothing left to do; a reopened store hands out new ids.
        assert_eq!(s.compact(now + 3 * HOUR).unwrap().results, 0);
        drop(s);
        let s = SqliteStore::open(dir.path()).unwrap();
        assert_eq!(s.next_result_id().unwrap(), next);
        let again = seen(&s, &targets, (1, next), now);
        assert_eq!(differs(&again, &before), None, "seed {seed}: reopened");
    }
}

fn signed_log(s: &dyn Store, signer: &NoteSigner) {
    let size = s.evidence_size().unwrap();
    let mut tree = merkle::Frontier::new();
    for l in s.evidence_records(0, size).unwrap() {
        tree.push(merkle::leaf_hash(&l.record));
    }
    let note = signer
        .sign(
            &Checkpoint {
                origin: "compact.test/log".into(),
                size,
                root: tree.root(),
                extensions: Vec::new(),
            }
            .to_text(),
        )
        .unwrap();
    s.add_checkpoint(&probity_engine::store::StoredCheckpoint {
        size,
        root: tree.root(),
        note,
        at_ms: 0,
    })
    .unwrap();
}

#[test]
fn the_audit_reproduces_every_leaf_from_chunks_and_finds_an_altered_one() {
    let (dir, s, now) = store_with(99, 6, 50);
    let signer = NoteSigner::from_seed("compact.test/log", [3; 32]).unwrap();
    signed_log(&s, &signer);
    assert_eq!(s.compact(now + 3 * HOUR).unwrap().leaves, 6);
    let hidden = indicatif::ProgressBar::hidden();
    let a =
        probity_engine::attest::bundle::audit_paged(&s, &signer.verifier(), &hidden, 10).unwrap();
    assert!(a.findings.is_empty(), "{:?}", a.findings);
    assert_eq!((a.leaves, a.results_compared), (6, 300));

    // Alter one result inside a chunk (its health), coded again so that it still decodes.
    let conn = rusqlite::Connection::open(dir.path().join("probity.db")).unwrap();
    let (rowid, data): (i64, Vec<u8>) = conn
        .query_row(
            "SELECT rowid, data FROM result_chunks ORDER BY rowid LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let mut rows = probity_core::chunk::decode(&data).unwrap();
    rows[0].health = if rows[0].health == "up" { "down" } else { "up" }.into();
    let leaf = rows[0].leaf as u64;
    conn.execute(
        "UPDATE result_chunks SET data = ?1 WHERE rowid = ?2",
        rusqlite::params![probity_core::chunk::encode(&rows), rowid],
    )
    .unwrap();
    let a =
        probity_engine::attest::bundle::audit_paged(&s, &signer.verifier(), &hidden, 10).unwrap();
    let problems: Vec<(Option<u64>, &str)> = a
        .findings
        .iter()
        .map(|f| (f.leaf, f.problem.as_str()))
        .collect();
    assert_eq!(
        problems[0],
        (
            Some(leaf),
            "the record rebuilt from the compacted results does not match its stored leaf hash (the results were altered or lost)"
        )
    );
}

#[test]
fn an_agents_result_compacted_is_still_known_and_not_taken_twice() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    let results = random_results(&mut Rng(5), 1, 40, now);
    s.write(&batch(results.clone())).unwrap();
    s.compact(now + 3 * HOUR).unwrap();
    let pushed: Vec<Origin> = results
        .iter()
        .filter(|r| r.vantage == "eu")
        .map(|r| Origin {
            origin: r.origin.clone().unwrap(),
            target: r.target.clone(),
            at_ms: r.at_ms,
        })
        .chain([Origin {
            origin: "o-new".into(),
            target: "t0".into(),
            at_ms: now,
        }])
        .collect();
    assert!(pushed.len() > 2);
    let known = s.known_origins("eu", &pushed).unwrap();
    assert_eq!(known.len(), pushed.len() - 1);
    assert!(!known.contains("o-new"));
    // Another vantage's ids are its own.
    assert!(s.known_origins("us", &pushed).unwrap().is_empty());
}

/// A store written before compaction existed (schema version 16: its rows name no leaf)
/// is migrated when it opens, reads as before, and keeps its rows and records: compaction
/// takes only what names its leaf.
#[test]
fn a_store_from_before_compaction_keeps_its_rows_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    let old = random_results(&mut Rng(11), 1, 30, now);
    {
        let s = SqliteStore::open(dir.path()).unwrap();
        s.write(&batch(old.clone())).unwrap();
    }
    // Taken back to the schema before compaction (version 16): what 0017 added, removed.
    let conn = rusqlite::Connection::open(dir.path().join("probity.db")).unwrap();
    conn.execute_batch(
        "DROP INDEX results_leaf; DROP INDEX evidence_leaves_ids; DROP TABLE result_chunks;
         DROP INDEX incident_evidence_result;
         ALTER TABLE results DROP COLUMN leaf;
         ALTER TABLE evidence_leaves DROP COLUMN span_from_ms;
         ALTER TABLE evidence_leaves DROP COLUMN span_to_ms;
         ALTER TABLE evidence_leaves DROP COLUMN first_id;
         ALTER TABLE evidence_leaves DROP COLUMN last_id;
         PRAGMA user_version = 16;",
    )
    .unwrap();
    drop(conn);
    let s = SqliteStore::open(dir.path()).unwrap();
    let record = s.evidence_records(0, 1).unwrap().remove(0).record;
    let by_id = |s: &SqliteStore| format!("{:?}", s.results_by_ids(1, 30).unwrap());
    assert_eq!(by_id(&s), format!("{old:?}"));
    let new = random_results(&mut Rng(12), 31, 30, now);
    s.write(&batch(new)).unwrap();
    let done = s.compact(now + 3 * HOUR).unwrap();
    assert_eq!((done.results, done.leaves), (30, 1), "only the new batch");
    let leaves = s.evidence_records(0, 2).unwrap();
    assert_eq!((leaves[0].rebuilt, leaves[1].rebuilt), (false, true));
    assert_eq!(leaves[0].record, record);
    assert_eq!(by_id(&s), format!("{old:?}"));
    assert_eq!(s.results_by_ids(1, 60).unwrap().len(), 60);
    drop(s);
    let s = SqliteStore::open(dir.path()).unwrap();
    assert_eq!(s.next_result_id().unwrap(), 61);
}

/// Steady HTTP results (all five phases, a little jitter) take a dozen bytes each in
/// chunks; docs/BENCHMARKS.md measures the whole file at scale (bench/compact.sh).
#[test]
fn steady_results_take_a_dozen_bytes_each_in_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    let start = now - 2 * HOUR;
    let start = start - start.rem_euclid(HOUR);
    let mut id = 1;
    // 20 targets every 10 s for an hour, a batch (leaf) a second.
    for tick in 0..360 {
        let results: Vec<ResultRecord> = (0..20)
            .map(|t| {
                let jitter = (id * 7919 % 13) - 6;
                let us = |base: i64| Some((base + (id * 104_729 % 900)) as f64 / 1000.0);
                let r = ResultRecord {
                    id,
                    target: format!("https-{t}.example"),
                    vantage: "local".into(),
                    at_ms: start + 6 + tick * 10_000 + t * 400 + jitter,
                    health: Health::Up,
                    phases: Phases {
                        dns_ms: us(300),
                        connect_ms: us(1_200),
                        tls_ms: us(8_000),
                        ttfb_ms: us(30_000),
                        total_ms: us(31_000),
                    },
                    cause: None,
                    details: None,
                    unmeasured: false,
                    origin: None,
                    clock_offset_ms: None,
                };
                id += 1;
                r
            })
            .collect();
        s.write(&batch(results)).unwrap();
    }
    let done = s.compact(now + 3 * HOUR).unwrap();
    assert_eq!((done.results, done.chunks, done.leaves), (7_200, 20, 360));
    let conn = rusqlite::Connection::open(dir.path().join("probity.db")).unwrap();
    let bytes: i64 = conn
        .query_row("SELECT SUM(length(data)) FROM result_chunks", [], |r| {
            r.get(0)
        })
        .unwrap();
    let per = bytes as f64 / 7_200.0;
    assert!(per < 16.0, "{per:.1} bytes a result");
}

/// `probity store migrate` of a compacted store: PostgreSQL keeps rows, so the compacted
/// results become rows again and the compacted leaves get their records back, equal to
/// what the SQLite store reads.
#[test]
fn a_compacted_store_migrates_to_postgres_whole() {
    let Some(db) =
        crate::common::pg::database("store_compact::a_compacted_store_migrates_to_postgres_whole")
    else {
        return;
    };
    let (dir, s, now) = store_with(2026, 5, 40);
    s.write(&opened(1, "t2", vec![7], now)).unwrap();
    assert_eq!(s.compact(now + 3 * HOUR).unwrap().leaves, 5);
    let pg = crate::store::pg_open(&db.url).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().build().unwrap();
    let copied = rt
        .block_on(async {
            tokio::task::block_in_place(|| {
                probity_engine::store::copy_sqlite(dir.path(), &pg, &mut |_, _| {})
            })
        })
        .unwrap();
    let rows = copied
        .tables
        .iter()
        .find(|(t, _)| t == "results")
        .unwrap()
        .1;
    assert_eq!(rows, 200, "every result, once");
    let targets = ["t0", "t1", "t2", "t3"];
    let theirs = seen(&pg, &targets, (1, 200), now);
    let ours = seen(&s, &targets, (1, 200), now);
    assert_eq!(differs(&theirs, &ours), None);
    assert!(theirs.records.iter().all(|r| !r.is_empty()));
}

/// Rows naming a leaf the log does not have (a store changed outside probity) do not stop
/// compaction: they stay rows, and the rest is compacted.
#[test]
fn rows_naming_no_leaf_stay_rows_and_compaction_goes_on() {
    let (dir, s, now) = store_with(31, 4, 10);
    let conn = rusqlite::Connection::open(dir.path().join("probity.db")).unwrap();
    conn.execute("DELETE FROM evidence_leaves WHERE idx = 0", [])
        .unwrap();
    let done = s.compact(now + 3 * HOUR).unwrap();
    assert_eq!((done.results, done.leaves), (30, 3));
    let unnamed: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM results WHERE id <= 10 AND leaf IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unnamed, 10);
    assert_eq!(s.results_by_ids(1, 40).unwrap().len(), 40);
}

/// A leaf whose record does not rebuild (its results written out of id order) keeps its
/// record, and one whose results span more than two hours too; both leaves' results are
/// still found by target, and the first leaf's by id as well.
#[test]
fn leaves_that_do_not_rebuild_keep_their_records_and_their_results() {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(dir.path()).unwrap();
    let now = jiff::Timestamp::now().as_millisecond();
    let mut out_of_order = random_results(&mut Rng(8), 1, 6, now);
    out_of_order.reverse();
    s.write(&batch(out_of_order)).unwrap();
    let mut wide = random_results(&mut Rng(9), 7, 2, now);
    wide[0].at_ms = now - 5 * HOUR;
    s.write(&batch(wide)).unwrap();
    let records = s.evidence_records(0, 2).unwrap();
    let done = s.compact(now + 3 * HOUR).unwrap();
    assert_eq!((done.results, done.leaves), (8, 0));
    let after = s.evidence_records(0, 2).unwrap();
    assert!(after.iter().all(|l| !l.rebuilt));
    assert_eq!(
        after.iter().map(|l| &l.record).collect::<Vec<_>>(),
        records.iter().map(|l| &l.record).collect::<Vec<_>>()
    );
    assert_eq!(s.results_by_ids(1, 6).unwrap().len(), 6);
    let by_target: usize = ["t0", "t1", "t2", "t3"]
        .iter()
        .map(|t| s.results(t, None, None, 100).unwrap().len())
        .sum();
    assert_eq!(by_target, 8);
}
