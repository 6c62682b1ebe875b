//! Benchmark of the status page's automatic incidents (`bench/status.sh`): a SQLite store
//! with INCIDENTS observed incidents over TARGETS targets (all but OPEN resolved, each with
//! three results as evidence), each target a status-page component's; one pass posts their
//! status-page incidents, then the loop's two costs are timed: a full pass (every incident
//! of both kinds read and compared) and the check of the store's marks that lets a pass
//! with nothing new stop there. Usage: `status_bench [INCIDENTS] [TARGETS] [OPEN]`
//! (default 10,000 incidents, 1,000 targets, 100 open).

use probity_core::result::{Cause, ErrorClass, Health, Phases};
use probity_engine::store::traits::*;
use probity_engine::store::{Batch, IncidentChange, IncidentFilter, ResultRecord, SqliteStore};
use std::time::Instant;

fn result(id: i64, target: &str, at_ms: i64) -> ResultRecord {
    ResultRecord {
        id,
        target: target.into(),
        vantage: "local".into(),
        at_ms,
        health: Health::Down,
        phases: Phases::default(),
        cause: Some(Cause {
            class: ErrorClass::Connect,
            detail: "refused".into(),
        }),
        details: None,
        unmeasured: false,
        origin: None,
        clock_offset_ms: None,
    }
}

fn main() -> anyhow::Result<()> {
    let arg = |i: usize, default: i64| -> i64 {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (n, targets, open) = (arg(1, 10_000), arg(2, 1_000).max(1), arg(3, 100));
    let dir = tempfile::tempdir()?;
    let mut toml = String::from("[status]\nauto_incidents = true\n");
    for t in 0..targets {
        toml.push_str(&format!(
            "\n[[target]]\nname = \"t{t}\"\nkind = \"tcp\"\naddress = \"127.0.0.1:9\"\n\n[[component]]\nname = \"C{t}\"\ntargets = [\"t{t}\"]\n"
        ));
    }
    let config = probity_ground::config::parse("probity.toml", &toml, dir.path())
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let store = SqliteStore::open(dir.path())?;

    // Incidents over the last 80 days, a minute apart per target.
    let now = jiff::Timestamp::now().as_millisecond();
    let start = now - 80 * 86_400_000;
    let step = (80 * 86_400_000 / n.max(1)).max(1);
    let mut batch = Batch::default();
    for i in 0..n {
        let at = start + i * step;
        let target = format!("t{}", i % targets);
        let ids = [3 * i + 1, 3 * i + 2, 3 * i + 3];
        batch
            .results
            .extend(ids.iter().map(|&id| result(id, &target, at)));
        batch.incidents.push(IncidentChange::Open {
            id: i + 1,
            target: target.clone(),
            started_at_ms: at,
            severity: Health::Down,
            cause: Cause {
                class: ErrorClass::Connect,
                detail: "refused".into(),
            },
            evidence: ids[..2].to_vec(),
            seen: Vec::new(),
        });
        if i < n - open {
            batch.incidents.push(IncidentChange::Resolve {
                id: i + 1,
                resolved_at_ms: at + 60_000,
                evidence: vec![ids[2]],
                seen: Vec::new(),
            });
        }
        if batch.results.len() >= 30_000 {
            store.write(&std::mem::take(&mut batch))?;
        }
    }
    store.write(&batch)?;

    // The loop's full pass: what `status_auto::run_auto` does when the marks moved.
    let pass = |store: &SqliteStore| -> anyhow::Result<(usize, usize)> {
        let observed = store.incidents(IncidentFilter::All)?;
        let existing = store.status_incidents()?;
        let (create, resolve) = probity_publish::status_auto::auto_incidents(
            &config,
            &observed,
            &existing,
            now - 90 * 86_400_000,
        );
        for i in &create {
            store.create_status_incident(i)?;
        }
        for (id, u) in &resolve {
            store.add_status_update(id, u)?;
        }
        Ok((create.len(), resolve.len()))
    };
    let t = Instant::now();
    let (created, _) = pass(&store)?;
    let first = t.elapsed().as_secs_f64();
    let posted = store.status_incidents()?;
    let unresolved = posted.iter().filter(|i| i.resolved_at_ms.is_none()).count();
    anyhow::ensure!(
        created as i64 == n && posted.len() as i64 == n && unresolved as i64 == open,
        "the first pass posted {created} ({} stored, {unresolved} unresolved), not {n} ({open} unresolved)",
        posted.len()
    );
    println!(
        "incidents: {n} over {targets} targets ({open} open), posted on the status page in {:.0} ms",
        first * 1000.0
    );
    let runs = 5;
    let t = Instant::now();
    for _ in 0..runs {
        anyhow::ensure!(pass(&store)? == (0, 0), "a second pass found work");
    }
    let full = t.elapsed().as_secs_f64() / runs as f64;
    let marks = store.status_marks()?;
    let runs = 1000;
    let t = Instant::now();
    for _ in 0..runs {
        anyhow::ensure!(store.status_marks()? == marks, "the marks moved");
    }
    let check = t.elapsed().as_secs_f64() / runs as f64;
    // One pass every 2 seconds: the share of a core each costs.
    println!(
        "full pass: {:.2} ms ({:.2}% of a core at one every 2 s)",
        full * 1000.0,
        full / 2.0 * 100.0
    );
    println!(
        "unchanged: {:.1} µs ({:.4}% of a core at one every 2 s)",
        check * 1e6,
        check / 2.0 * 100.0
    );
    Ok(())
}
