//! The store against a real database, on both backends (a SQLite file and a fresh
//! PostgreSQL database): batches, rollups, incidents, retention, reopening, and what it
//! refuses. Each test runs its body on every backend there is.

use probity_core::result::{Cause, ErrorClass, Health, Phases};
use probity_engine::store::traits::*;
use probity_engine::store::{
    Batch, IncidentChange, IncidentFilter, Origin, PgOptions, PgStore, ResultRecord, SqliteStore,
    StoredCheckpoint, minute_of,
};

/// Where a test's store lives: a directory for SQLite, a database for PostgreSQL.
pub(crate) enum Backend {
    Sqlite(tempfile::TempDir),
    Pg(crate::common::pg::Database),
}

impl Backend {
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite(_) => "sqlite",
            Backend::Pg(_) => "postgres",
        }
    }

    /// Opens the store (again: a second open sees what the first wrote).
    pub(crate) fn open(&self) -> Box<dyn Store> {
        match self {
            Backend::Sqlite(dir) => Box::new(SqliteStore::open(dir.path()).unwrap()),
            Backend::Pg(db) => Box::new(pg_open(&db.url).unwrap()),
        }
    }
}

pub(crate) fn pg_open(url: &str) -> probity_engine::store::StoreResult<PgStore> {
    PgStore::open(&PgOptions {
        url: url.to_string(),
        password: None,
        pool_size: 4,
        ca_file: None,
    })
}

/// SQLite always; PostgreSQL when there is a test server (else `test` says it skipped it).
pub(crate) fn backends(test: &str) -> Vec<Backend> {
    let mut out = vec![Backend::Sqlite(tempfile::tempdir().unwrap())];
    if let Some(db) = crate::common::pg::database(test) {
        out.push(Backend::Pg(db));
    }
    out
}

fn result(id: i64, target: &str, at_ms: i64, health: Health, total_ms: f64) -> ResultRecord {
    ResultRecord {
        id,
        target: target.into(),
        vantage: "local".into(),
        at_ms,
        health,
        phases: Phases {
            total_ms: Some(total_ms),
            connect_ms: Some(1.0),
            ..Default::default()
        },
        cause: (health != Health::Up).then(|| Cause {
            class: ErrorClass::Connect,
            detail: "refused".into(),
        }),
        details: None,
        unmeasured: false,
        origin: None,
        clock_offset_ms: None,
    }
}

fn origin(origin: &str, target: &str, at_ms: i64) -> Origin {
    Origin {
        origin: origin.into(),
        target: target.into(),
        at_ms,
    }
}

const T0: i64 = 1_794_999_960_000; // on a minute boundary

#[test]
fn results_and_rollups_round_trip() {
    for backend in backends("store::results_and_rollups_round_trip") {
        eprintln!("backend: {}", backend.name());
        let s = backend.open();
        let s = s.as_ref();
        assert_eq!(T0 % 60_000, 0);
        let mut batch = Batch::default();
        for i in 0..6 {
            let health = if i == 2 {
                Health::Down
            } else if i == 3 {
                Health::Degraded
            } else {
                Health::Up
            };
            batch.results.push(result(
                s.next_result_id().unwrap(),
                "a",
                T0 + i * 10_000,
                health,
                10.0 * (i + 1) as f64,
            ));
        }
        s.write(&batch).unwrap();
        let rows = s.results("a", None, None, 100).unwrap();
        assert_eq!(rows.len(), 6);
        assert_eq!(rows[0].at_ms, T0 + 50_000, "newest first");
        assert_eq!(
            rows[3].cause,
            Some(Cause {
                class: ErrorClass::Connect,
                detail: "refused".into()
            })
        );
        let rollups = s.rollups("a", T0, T0 + 60_000).unwrap();
        assert_eq!(rollups.len(), 1);
        let r = &rollups[0];
        assert_eq!((r.count, r.failures, r.degraded), (6, 1, 1));
        assert_eq!(
            (r.latency_min_ms, r.latency_max_ms, r.latency_sum_ms),
            (10.0, 60.0, 210.0)
        );
        let p50 = r.sketch.quantile(0.5).unwrap();
        assert!((29.0..=31.0).contains(&p50), "{p50}");
        // Degraded counts as available; down does not.
        let a = s.availability("a", T0, T0 + 60_000).unwrap();
        assert_eq!(a.uptime(), Some(5.0 / 6.0));
        // Time windows on raw results: since inclusive, until exclusive.
        assert_eq!(
            s.results("a", Some(T0 + 10_000), Some(T0 + 30_000), 100)
                .unwrap()
                .len(),
            2
        );
    }
}

#[test]
fn a_batch_across_minutes_and_a_second_batch_merge_into_the_right_rollups() {
    for backend in
        backends("store::a_batch_across_minutes_and_a_second_batch_merge_into_the_right_rollups")
    {
        eprintln!("backend: {}", backend.name());
        let s = backend.open();
        let s = s.as_ref();
        let b1 = Batch {
            results: vec![
                result(1, "a", T0 + 59_999, Health::Up, 5.0),
                result(2, "a", T0 + 60_000, Health::Down, 7.0),
            ],
            incidents: vec![],
            alerts: Vec::new(),
            canaries: Vec::new(),
        };
        let b2 = Batch {
            results: vec![result(3, "a", T0 + 1, Health::Up, 9.0)],
            incidents: vec![],
            alerts: Vec::new(),
            canaries: Vec::new(),
        };
        s.write(&b1).unwrap();
        s.write(&b2).unwrap();
        let r = s.rollups("a", T0, T0 + 120_000).unwrap();
        assert_eq!(
            r.iter()
                .map(|r| (r.minute_ms, r.count, r.failures))
                .collect::<Vec<_>>(),
            vec![(T0, 2, 0), (T0 + 60_000, 1, 1)]
        );
        assert_eq!(r[0].sketch.count(), 2);
        assert_eq!(minute_of(T0 + 59_999), T0);
    }
}

#[test]
fn replaying_a_batch_does_not_count_twice() {
    for backend in backends("store::replaying_a_batch_does_not_count_twice") {
        eprintln!("backend: {}", backend.name());
        let s = backend.open();
        let s = s.as_ref();
        let b = Batch {
            results: vec![
                result(1, "a", T0, Health::Up, 5.0),
                result(2, "a", T0 + 1000, Health::Down, 5.0),
            ],
            incidents: vec![],
            alerts: Vec::new(),
            canaries: Vec::new(),
        };
        s.write(&b).unwrap();
        s.write(&b).unwrap();
        assert_eq!(s.results("a", None, None, 100).unwrap().len(), 2);
        let r = s.rollups("a", T0, T0 + 60_000).unwrap();
        assert_eq!((r[0].count, r[0].failures), (2, 1));
        assert_eq!(
            s.availability_by_target(T0, T0 + 60_000).unwrap()["a"].count,
            2
        );
    }
}

#[test]
fn nothing_measured_is_unknown_not_up() {
    for backend in backends("store::nothing_measured_is_unknown_not_up") {
        eprintln!("backend: {}", backend.name());
        let s = backend.open();
        let s = s.as_ref();
        assert_eq!(
            s.availability("a", T0, T0 + 86_400_000).unwrap().uptime(),
            None
        );
        assert!(
            s.availability_by_target(T0, T0 + 86_400_000)
                .unwrap()
                .is_empty()
        );
    }
}

#[test]
fn incidents_open_escalate_resolve_and_keep_their_evidence() {
    for backend in backends("store::incidents_open_escalate_resolve_and_keep_their_evidence") {
        eprintln!("backend: {}", backend.name());
        let s = backend.open();
        let s = s.as_ref();
        let cause = Cause {
            class: ErrorClass::Condition,
            detail: "slow".into(),
        };
        s.write(&Batch {
            results: (1..=3)
                .map(|i| result(i, "a", T0 + i * 1000, Health::Degraded, 900.0))
                .collect(),
            incidents: vec![IncidentChange::Open {
                id: 7,
                target: "a".into(),
                started_at_ms: T0 + 1000,
                severity: Health::Degraded,
                cause: cause.clone(),
                evidence: vec![1, 2, 3],
                seen: Vec::new(),
            }],
            alerts: Vec::new(),
            canaries: Vec::new(),
        })
        .unwrap();
        assert_eq!(s.incidents(IncidentFilter::Open).unwrap().len(), 1);
        // A window's read: an open incident overlaps any window after its start.
        let overlapping = |from_ms, until_ms| {
            s.incidents(IncidentFilter::Overlapping { from_ms, until_ms })
                .unwrap()
                .len()
        };
        assert_eq!(overlapping(T0 + 1_000_000_000, T0 + 1001), 1);
        assert_eq!(overlapping(0, T0 + 1000), 0);
        let opened = s.status_marks().unwrap();
        assert_eq!(
            (opened.incidents, opened.resolved, opened.max_incident),
            (1, 0, 7)
        );
        s.write(&Batch {
            results: vec![result(4, "a", T0 + 4000, Health::Down, 1.0)],
            incidents: vec![IncidentChange::Escalate {
                id: 7,
                severity: Health::Down,
                result_id: 4,
            }],
            alerts: Vec::new(),
            canaries: Vec::new(),
        })
        .unwrap();
        // Acknowledged while open; no longer counted once resolved.
        assert!(s.acknowledged_open().unwrap().is_empty());
        assert!(s.ack_incident(7, T0 + 4500, "oncall", "on it").unwrap());
        assert_eq!(
            s.acknowledged_open().unwrap(),
            std::collections::HashSet::from([7])
        );
        s.write(&Batch {
            results: (5..=6)
                .map(|i| result(i, "a", T0 + i * 1000, Health::Up, 5.0))
                .collect(),
            incidents: vec![IncidentChange::Resolve {
                id: 7,
                resolved_at_ms: T0 + 5000,
                evidence: vec![5, 6],
                seen: Vec::new(),
            }],
            alerts: Vec::new(),
            canaries: Vec::new(),
        })
        .unwrap();
        assert!(s.incidents(IncidentFilter::Open).unwrap().is_empty());
        assert!(s.acknowledged_open().unwrap().is_empty());
        // The status page's marks moved with the resolution only (not the escalation or
        // the acknowledgment, which change nothing it shows), then with its own incidents.
        let resolved = s.status_marks().unwrap();
        assert_eq!(
            resolved,
            probity_engine::store::StatusMarks {
                resolved: 1,
                ..opened
            }
        );
        let update = |id: &str, status: &str| probity_engine::store::StatusUpdate {
            id: id.into(),
            at_ms: T0,
            status: status.into(),
            message: "m".into(),
        };
        s.create_status_incident(&probity_engine::store::StatusIncident {
            id: "s1".into(),
            name: "n".into(),
            status: "investigating".into(),
            impact: "minor".into(),
            components: vec!["c".into()],
            created_at_ms: T0,
            updated_at_ms: T0,
            resolved_at_ms: None,
            updates: vec![update("u1", "investigating")],
        })
        .unwrap();
        let posted = s.status_marks().unwrap();
        assert_eq!((posted.status_incidents, posted.status_updates), (1, 1));
        s.add_status_update("s1", &update("u2", "resolved"))
            .unwrap();
        assert_eq!(
            s.status_marks().unwrap(),
            probity_engine::store::StatusMarks {
                status_updates: 2,
                ..posted
            }
        );
        let all = s.incidents(IncidentFilter::All).unwrap();
        assert_eq!(all.len(), 1);
        let i = &all[0];
        assert_eq!(
            (i.id, i.started_at_ms, i.resolved_at_ms, i.severity),
            (7, T0 + 1000, Some(T0 + 5000), Health::Down)
        );
        assert_eq!(i.cause, cause);
        assert_eq!(i.evidence, vec![1, 2, 3, 4, 5, 6]);
        assert_eq!(s.incidents(IncidentFilter::Resolved).unwrap().len(), 1);
        // Resolved at T0 + 5000: in windows from then on, not in those from after.
        let overlapping = |from_ms, until_ms| {
            s.incidents(IncidentFilter::Overlapping { from_ms, until_ms })
                .unwrap()
        };
        assert_eq!(overlapping(T0 + 5000, T0 + 1001), all);
        assert!(overlapping(T0 + 5001, T0 + 9000).is_empty());
        assert!(overlapping(0, T0 + 1000).is_empty());

        // Retention removes old raw results but keeps those that prove an incident.
        s.write(&Batch {
            results: vec![result(8, "a", T0 + 7000, Health::Up, 1.0)],
            incidents: vec![],
            alerts: Vec::new(),
            canaries: Vec::new(),
        })
        .unwrap();
        let pruned = s.prune(T0 + 1_000_000, T0 - 1).unwrap();
        assert_eq!((pruned.results, pruned.rollups), (1, 0));
        let left: Vec<i64> = s
            .results("a", None, None, 100)
            .unwrap()
            .iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(left, vec![6, 5, 4, 3, 2, 1]);
        // Rollups past their retention go, with the hourly totals.
        let pruned = s.prune(T0, T0 + 3_600_000).unwrap();
        assert_eq!(pruned.rollups, 1);
        assert!(
            s.availability_by_target(T0 - 3_600_000, T0 + 3_600_000)
                .unwrap()
                .is_empty()
        );
    }
}

/// Daily totals (the status page's bars, the dashboard's overview): of every target, or of
/// the targets asked for only, the same figures either way, each vantage counted.
#[test]
fn daily_availability_of_some_targets_is_theirs_of_all() {
    for backend in backends("store::daily_availability_of_some_targets_is_theirs_of_all") {
        eprintln!("backend: {}", backend.name());
        let s = backend.open();
        let s = s.as_ref();
        let day = 86_400_000;
        let d0 = T0.div_euclid(day) * day;
        let mut results = Vec::new();
        for (i, (target, at, health)) in [
            ("a", d0 + 1000, Health::Up),
            ("a", d0 + 7_200_000, Health::Down),
            ("a", d0 + day + 1000, Health::Up),
            ("b", d0 + 1000, Health::Down),
        ]
        .into_iter()
        .enumerate()
        {
            results.push(result(i as i64 + 1, target, at, health, 2.0));
        }
        let mut other = result(10, "a", d0 + 2000, Health::Up, 2.0);
        other.vantage = "eu".into();
        results.push(other);
        s.write(&Batch {
            results,
            ..Default::default()
        })
        .unwrap();
        let all = s.daily_availability(d0, None).unwrap();
        assert_eq!(all.len(), 3);
        let a = s.daily_availability(d0, Some(&["a".to_string()])).unwrap();
        assert_eq!(a.len(), 2);
        for (k, v) in &a {
            assert_eq!(all.get(k), Some(v), "{k:?}");
        }
        let first = &a[&("a".to_string(), d0)];
        assert_eq!((first.count, first.failures), (3, 1));
        assert!(
            s.daily_availability(d0 + day, Some(&[]))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            s.daily_availability(d0 + day, Some(&["a".to_string(), "b".to_string()]))
                .unwrap()
                .len(),
            1
        );
    }
}

#[test]
fn reopening_continues_ids_and_keeps_everything() {
    for backend in backends("store::reopening_continues_ids_and_keeps_everything") {
        eprintln!("backend: {}", backend.name());
        {
            let s = backend.open();
            let id = s.next_result_id().unwrap();
            s.write(&Batch {
                results: vec![result(id, "a", T0, Health::Up, 1.0)],
                incidents: vec![],
                alerts: Vec::new(),
                canaries: Vec::new(),
            })
            .unwrap();
            assert_eq!(s.next_incident_id().unwrap(), 1);
        }
        let s = backend.open();
        // SQLite goes on from the next id; PostgreSQL hands a block of ids to each server
        // that opens it, past every id written.
        let next = s.next_result_id().unwrap();
        match backend.name() {
            "sqlite" => assert_eq!(next, 2),
            _ => assert_eq!(next, (1 << 24) + 1),
        }
        assert_eq!(s.latest_results().unwrap().len(), 1);
        assert_eq!(s.evidence_size().unwrap(), 1);
    }
}

/// The audit replays the log through the tree's right edge and reads checkpoints a page at
/// a time: every one of several pages' worth is checked, and a bad one deep in is found.
#[test]
fn the_audit_checks_every_checkpoint_page_by_page() {
    for backend in backends("store::the_audit_checks_every_checkpoint_page_by_page") {
        eprintln!("backend: {}", backend.name());
        let s = backend.open();
        let s = s.as_ref();
        use probity_core::merkle;
        use probity_core::note::{Checkpoint, NoteSigner};
        let signer = NoteSigner::from_seed("audit.test/log", [5; 32]).unwrap();
        let mut tree = merkle::Frontier::new();
        let sign = |size: u64, root: [u8; 32]| {
            signer
                .sign(
                    &Checkpoint {
                        origin: "audit.test/log".into(),
                        size,
                        root,
                        extensions: Vec::new(),
                    }
                    .to_text(),
                )
                .unwrap()
        };
        const N: i64 = 35;
        for i in 0..N {
            s.write(&Batch {
                results: vec![result(i + 1, "a", T0 + i * 1000, Health::Up, 5.0)],
                incidents: vec![],
                alerts: Vec::new(),
                canaries: Vec::new(),
            })
            .unwrap();
            let leaf = s.evidence_records(i as u64, i as u64 + 1).unwrap();
            tree.push(merkle::leaf_hash(&leaf[0].record));
            // Checkpoint 25 is signed over another root: the third page of 10 must be read.
            let root = if i + 1 == 25 { [7; 32] } else { tree.root() };
            s.add_checkpoint(&StoredCheckpoint {
                size: tree.size(),
                root: tree.root(),
                note: sign(tree.size(), root),
                at_ms: T0 + i * 1000,
            })
            .unwrap();
        }
        let hidden = indicatif::ProgressBar::hidden();
        let a = probity_engine::attest::bundle::audit_paged(s, &signer.verifier(), &hidden, 10)
            .unwrap();
        assert_eq!((a.leaves, a.checkpoints), (N as u64, N as usize));
        let problems: Vec<&str> = a.findings.iter().map(|f| f.problem.as_str()).collect();
        assert_eq!(
            problems,
            [
                "checkpoint at size 25: the signed root differs from the root recomputed from the leaves"
            ]
        );
    }
}

/// Two stores on one PostgreSQL database appending to the evidence log at once (two
/// processes, or two servers): every append gets its own indices, the log has no gap and
/// its root is that of the leaves in index order.
#[test]
fn appends_from_two_stores_on_one_database_never_collide() {
    let Some(db) =
        crate::common::pg::database("store::appends_from_two_stores_on_one_database_never_collide")
    else {
        return;
    };
    let stores: Vec<std::sync::Arc<PgStore>> = (0..2)
        .map(|_| std::sync::Arc::new(pg_open(&db.url).unwrap()))
        .collect();
    let handles: Vec<_> = stores
        .iter()
        .enumerate()
        .map(|(n, s)| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..40 {
                    s.append_evidence(&[format!("{n}-{i}").into_bytes()])
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let s = &stores[0];
    assert_eq!(s.evidence_size().unwrap(), 80);
    let leaves = s.evidence_records(0, 80).unwrap();
    assert_eq!(
        leaves.iter().map(|l| l.index).collect::<Vec<_>>(),
        (0..80).collect::<Vec<_>>()
    );
    let mut tree = probity_core::merkle::Frontier::new();
    for l in &leaves {
        tree.push(probity_core::merkle::leaf_hash(&l.record));
    }
    assert_eq!(s.evidence_root(80).unwrap(), tree.root());
    assert!(s.integrity_check().unwrap().is_empty());
}

/// The same batches written to both backends, with what makes writes tricky (a batch
/// written twice, an agent's result ids sent again in a later batch, unmeasured results,
/// failures with unicode error texts, missing phases, many minutes and vantages): every
/// read answers the same, and the evidence logs have the same root.
#[test]
fn both_backends_answer_the_same_for_the_same_batches() {
    let backends = backends("store::both_backends_answer_the_same_for_the_same_batches");
    if backends.len() < 2 {
        return;
    }
    let stores: Vec<Box<dyn Store>> = backends.iter().map(|b| b.open()).collect();
    // A small deterministic generator: the same batches for both.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut id = 1i64;
    let mut sent: Vec<ResultRecord> = Vec::new();
    for b in 0..40 {
        let mut batch = Batch::default();
        for _ in 0..(1 + next() % 30) {
            let health = match next() % 10 {
                0 => Health::Down,
                1 => Health::Degraded,
                _ => Health::Up,
            };
            let vantage = ["local", "eu", "us"][(next() % 3) as usize];
            let mut r = result(
                id,
                ["a", "b", "c"][(next() % 3) as usize],
                T0 + (next() % 7_200_000) as i64,
                health,
                (next() % 5000) as f64 / 10.0,
            );
            r.vantage = vantage.into();
            if next() % 4 == 0 {
                r.phases.total_ms = None;
            }
            if health == Health::Down {
                r.cause = Some(Cause {
                    class: ErrorClass::Connect,
                    detail: format!("refusé — 接続 {}", next() % 100),
                });
            }
            r.unmeasured = next() % 13 == 0;
            if vantage != "local" {
                r.origin = Some(format!("{vantage}-{id}"));
            }
            id += 1;
            batch.results.push(r);
        }
        // An agent sends ids it sent before (under new server ids): stored once.
        if b % 5 == 4 {
            let again: Vec<ResultRecord> = sent
                .iter()
                .filter(|r| r.origin.is_some())
                .take(3)
                .map(|r| {
                    let mut r = r.clone();
                    r.id = id;
                    id += 1;
                    r
                })
                .collect();
            batch.results.extend(again);
        }
        sent.extend(batch.results.iter().cloned());
        for s in &stores {
            s.write(&batch).unwrap();
            if b % 7 == 3 {
                s.write(&batch).unwrap(); // replayed whole
            }
        }
    }
    let answers = |s: &dyn Store| {
        let mut out = Vec::new();
        for t in ["a", "b", "c"] {
            out.push(format!("{:?}", s.results(t, None, None, 10_000).unwrap()));
            let rollups = s.rollups(t, T0 - 60_000, T0 + 8_000_000).unwrap();
            // The counts-only read is the same rows without their sketches.
            let counts: Vec<probity_engine::store::RollupCount> =
                rollups.iter().map(Into::into).collect();
            assert_eq!(
                s.rollup_counts(t, T0 - 60_000, T0 + 8_000_000).unwrap(),
                counts,
                "{t}"
            );
            out.push(format!("{rollups:?}"));
            out.push(format!(
                "{:?}",
                s.minute_counts(t, T0 + 12_345, T0 + 5_432_100).unwrap()
            ));
            out.push(format!(
                "{:?}",
                s.availability(t, T0, T0 + 3_600_000).unwrap()
            ));
        }
        let mut by: Vec<_> = s
            .availability_by_target(T0, T0 + 7_200_000)
            .unwrap()
            .into_iter()
            .collect();
        by.sort_by(|a, b| a.0.cmp(&b.0));
        out.push(format!("{by:?}"));
        let mut first: Vec<_> = s.first_measured().unwrap().into_iter().collect();
        first.sort();
        out.push(format!("{first:?}"));
        let size = s.evidence_size().unwrap();
        out.push(format!("{size} {:?}", s.evidence_root(size).unwrap()));
        out.push(format!(
            "{:?}",
            s.evidence_records(0, size)
                .unwrap()
                .iter()
                .map(|l| l.record.clone())
                .collect::<Vec<_>>()
        ));
        out
    };
    let (a, b) = (answers(stores[0].as_ref()), answers(stores[1].as_ref()));
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert_eq!(x, y, "answer {i} differs between sqlite and postgres");
    }
    // The agent's repeated ids were stored once.
    let all: usize = ["a", "b", "c"]
        .iter()
        .map(|t| stores[1].results(t, None, None, 10_000).unwrap().len())
        .sum();
    let origins: std::collections::HashSet<_> =
        sent.iter().filter_map(|r| r.origin.clone()).collect();
    let plain = sent.iter().filter(|r| r.origin.is_none()).count();
    assert_eq!(all, plain + origins.len());
}

/// PostgreSQL: readers beyond `pool_size` wait for a connection instead of opening more:
/// twelve threads reading while the table is locked (so every read in progress holds its
/// connection) hold two connections between them, besides the writer's.
#[test]
fn postgres_readers_stay_within_the_pool() {
    let Some(db) = crate::common::pg::database("store::postgres_readers_stay_within_the_pool")
    else {
        return;
    };
    let s = std::sync::Arc::new(
        PgStore::open(&PgOptions {
            url: db.url.clone(),
            password: None,
            pool_size: 2,
            ca_file: None,
        })
        .unwrap(),
    );
    let mut locker = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let mut lock = locker.transaction().unwrap();
    lock.batch_execute("LOCK TABLE results IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let handles: Vec<_> = (0..12)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || s.results("a", None, None, 1).unwrap().len())
        })
        .collect();
    let mut watch = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let count = |watch: &mut postgres::Client| -> i64 {
        watch
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity
                 WHERE datname = current_database() AND application_name = 'probity'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    // Wait until the two readers are waiting on the lock, then a little longer for any
    // connection more that would be opened.
    crate::common::wait_for(std::time::Duration::from_secs(10), || {
        (count(&mut watch) >= 3).then_some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(count(&mut watch), 3, "the writer and two readers");
    lock.commit().unwrap();
    for h in handles {
        assert_eq!(h.join().unwrap(), 0);
    }
}

/// PostgreSQL: results live in day partitions, made ahead; retention drops a whole day's
/// partition, keeping the results an incident holds as evidence (moved to the default
/// partition), and deletes the rest of what is past it row by row.
#[test]
fn postgres_retention_drops_day_partitions_and_keeps_evidence() {
    let Some(db) = crate::common::pg::database(
        "store::postgres_retention_drops_day_partitions_and_keeps_evidence",
    ) else {
        return;
    };
    let s = pg_open(&db.url).unwrap();
    let day = 86_400_000;
    let now = jiff::Timestamp::now().as_millisecond();
    let today = now.div_euclid(day) * day;
    let partition = |ms: i64| {
        format!(
            "results_d{}",
            jiff::Timestamp::from_millisecond(ms)
                .unwrap()
                .strftime("%Y%m%d")
        )
    };
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    let exists = |c: &mut postgres::Client, name: &str| -> bool {
        c.query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
            .unwrap()
            .get(0)
    };
    for k in 0..=3 {
        assert!(exists(&mut c, &partition(today + k * day)), "day {k}");
    }
    c.batch_execute(&format!(
        "CREATE TABLE {} PARTITION OF results FOR VALUES FROM ({}) TO ({today})",
        partition(today - day),
        today - day
    ))
    .unwrap();
    let ids: Vec<i64> = (0..4).map(|_| s.next_result_id().unwrap()).collect();
    let incident = s.next_incident_id().unwrap();
    s.write(&Batch {
        results: vec![
            // Ten days ago: no day partition, the default one.
            result(ids[0], "a", today - 10 * day, Health::Up, 1.0),
            // Yesterday (made by hand: the store makes today's on): one result an incident
            // keeps, one it does not.
            result(ids[1], "a", today - day + 1_000, Health::Down, 1.0),
            result(ids[2], "a", today - day + 2_000, Health::Up, 1.0),
            // Today.
            result(ids[3], "a", today + 1_000, Health::Up, 1.0),
        ],
        incidents: vec![IncidentChange::Open {
            id: incident,
            target: "a".into(),
            started_at_ms: today - day + 1_000,
            severity: Health::Down,
            cause: Cause {
                class: ErrorClass::Connect,
                detail: "refused".into(),
            },
            evidence: vec![ids[1]],
            seen: Vec::new(),
        }],
        alerts: Vec::new(),
        canaries: Vec::new(),
    })
    .unwrap();
    let in_part: i64 = c
        .query_one(
            &format!("SELECT COUNT(*) FROM {}", partition(today - day)),
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(in_part, 2);

    let pruned = s.prune(today, 0).unwrap();
    assert_eq!(pruned.results, 2, "yesterday's free result and the old one");
    assert!(
        !exists(&mut c, &partition(today - day)),
        "yesterday's partition dropped"
    );
    let left: Vec<i64> = s
        .results_by_ids(ids[0], ids[3])
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(left, [ids[1], ids[3]]);
    let kept_in: String = c
        .query_one(
            "SELECT tableoid::regclass::TEXT FROM results WHERE id = $1",
            &[&ids[1]],
        )
        .unwrap()
        .get(0);
    assert_eq!(kept_in, "results_default");
    assert_eq!(s.integrity_check().unwrap(), Vec::<String>::new());
    // Partitions are made ahead again (and the dropped day is not made again).
    s.prune(today, 0).unwrap();
    assert!(exists(&mut c, &partition(today + 3 * day)));
}

/// PostgreSQL: a database of the schema before day partitions, with results in it, is
/// brought to them when opened, every result kept.
#[test]
fn a_postgres_store_from_before_partitions_keeps_its_results() {
    use sha2::Digest;
    let Some(db) = crate::common::pg::database(
        "store::a_postgres_store_from_before_partitions_keeps_its_results",
    ) else {
        return;
    };
    let mut c = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    c.batch_execute(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, checksum TEXT NOT NULL,
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )
    .unwrap();
    for (v, sql) in [
        (
            1i64,
            include_str!("../../../engine/src/store/pg/migrations/0001.sql"),
        ),
        (
            2,
            include_str!("../../../engine/src/store/pg/migrations/0002.sql"),
        ),
    ] {
        c.batch_execute(sql).unwrap();
        c.execute(
            "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
            &[&v, &hex::encode(sha2::Sha256::digest(sql.as_bytes()))],
        )
        .unwrap();
    }
    let now = jiff::Timestamp::now().as_millisecond();
    for (id, at) in [(1i64, now - 40 * 86_400_000), (2, now), (3, now + 1)] {
        c.execute(
            "INSERT INTO results (id, target, vantage, at_ms, health, origin)
             VALUES ($1, 'a', 'eu', $2, 'up', $3)",
            &[&id, &at, &format!("o{id}")],
        )
        .unwrap();
    }
    let s = pg_open(&db.url).unwrap();
    let ids: Vec<i64> = s
        .results_by_ids(1, 3)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [1, 2, 3]);
    let partitioned: bool = c
        .query_one(
            "SELECT relkind = 'p' FROM pg_class WHERE relname = 'results'",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(partitioned);
    // An agent's result id is still taken once.
    let known = s
        .known_origins("eu", &[origin("o2", "api", 0), origin("o9", "api", 0)])
        .unwrap();
    assert!(known.contains("o2") && !known.contains("o9"), "{known:?}");
    assert_eq!(s.next_result_id().unwrap(), (1 << 24) + 1);
}
