//! `probity results import`: past results, one JSON object a line, run through the same
//! recorder as live ones (rollups, incidents, evidence) and written in one transaction.

use probity_core::result::{Cause, ErrorClass, Health, Phases};
use probity_engine::probe::ProbeOutput;
use probity_engine::store::Store;
use probity_ground::config::Target;
use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct ImportArgs {
    /// The configuration file.
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// The results: one JSON object a line (`target`, `at`, `ok`, `latency_ms`, optional
    /// `vantage`, `error`, `error_class`).
    pub file: PathBuf,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    target: String,
    at: String,
    ok: bool,
    latency_ms: Option<f64>,
    vantage: Option<String>,
    error: Option<String>,
    error_class: Option<String>,
}

/// The most problems listed before giving up on a file.
const MAX_PROBLEMS: usize = 20;

pub fn import(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = super::load_or_report(&a.config) else {
        return Ok(ExitCode::from(2));
    };
    let text = match std::fs::read_to_string(&a.file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{}: cannot read: {e}", a.file.display());
            return Ok(ExitCode::from(2));
        }
    };
    let targets: HashMap<&str, Arc<Target>> = config
        .targets
        .iter()
        .map(|t| (t.name.as_str(), Arc::new(t.clone())))
        .collect();
    let file = a.file.display().to_string();
    let mut problems: Vec<String> = Vec::new();
    let mut items: Vec<(usize, Arc<Target>, ProbeOutput, String)> = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let n = n + 1;
        if raw.trim().is_empty() {
            continue;
        }
        if problems.len() >= MAX_PROBLEMS {
            break;
        }
        let line: Line = match serde_json::from_str(raw) {
            Ok(l) => l,
            Err(e) => {
                problems.push(format!("{file}:{n}: {e}"));
                continue;
            }
        };
        let Some(target) = targets.get(line.target.as_str()) else {
            problems.push(format!(
                "{file}:{n}: no target named `{}` in {}",
                line.target,
                a.config.display()
            ));
            continue;
        };
        let Ok(at) = line.at.parse::<jiff::Timestamp>() else {
            problems.push(format!(
                "{file}:{n}: `at` must be an RFC 3339 time such as 2026-10-01T12:00:00Z, not {:?}",
                line.at
            ));
            continue;
        };
        if let Some(l) = line.latency_ms
            && !(l.is_finite() && l >= 0.0)
        {
            problems.push(format!(
                "{file}:{n}: `latency_ms` must be a number of milliseconds ≥ 0, not {l}"
            ));
            continue;
        }
        let class = match line.error_class.as_deref() {
            None => ErrorClass::Unknown,
            Some(c) => match ErrorClass::parse(c) {
                Some(c) => c,
                None => {
                    problems.push(format!("{file}:{n}: unknown `error_class` {c:?}"));
                    continue;
                }
            },
        };
        if line.ok && (line.error.is_some() || line.error_class.is_some()) {
            problems.push(format!(
                "{file}:{n}: a result with `ok: true` has no `error`"
            ));
            continue;
        }
        let health = if line.ok { Health::Up } else { class.health() };
        items.push((
            n,
            target.clone(),
            ProbeOutput {
                at_ms: at.as_millisecond(),
                phases: Phases {
                    total_ms: line.latency_ms,
                    ..Phases::default()
                },
                health,
                cause: (!line.ok).then(|| Cause {
                    class,
                    detail: line
                        .error
                        .clone()
                        .unwrap_or_else(|| "failed (imported)".into()),
                }),
                details: Default::default(),
                observation: Default::default(),
            },
            line.vantage
                .clone()
                .unwrap_or_else(|| probity_ground::vantage::LOCAL.into()),
        ));
    }
    let lock = match probity_ground::process::lock_data_dir(&config.server.data_dir) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e:#}; results are imported with probity stopped");
            return Ok(ExitCode::from(1));
        }
    };
    let store: Arc<dyn Store> = Arc::new(probity_engine::store::SqliteStore::open(
        &config.server.data_dir,
    )?);
    // Results are recorded in time order, as live ones are: a target's imported results must
    // all be newer than its latest stored one (import history in order, before measuring
    // live), or the incidents they imply would be out of order and re-imports would count
    // twice.
    let latest: HashMap<String, i64> = store
        .latest_results()?
        .into_iter()
        .map(|r| (r.target, r.at_ms))
        .collect();
    for (n, t, out, _) in &items {
        if let Some(&l) = latest.get(&t.name)
            && out.at_ms <= l
            && problems.len() < MAX_PROBLEMS
        {
            problems.push(format!(
                "{file}:{n}: target `{}` already has results up to {}; imported results must be newer (import history in time order, before measuring live)",
                t.name,
                probity_ground::time::rfc3339(l)
            ));
        }
    }
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("{p}");
        }
        eprintln!(
            "{file}: {}{} problem{}; nothing imported",
            problems.len(),
            if problems.len() >= MAX_PROBLEMS {
                " or more"
            } else {
                ""
            },
            if problems.len() == 1 { "" } else { "s" }
        );
        return Ok(ExitCode::from(2));
    }
    // In time order (stable: equal times keep the file's order), as they were measured.
    items.sort_by_key(|(n, _, out, _)| (out.at_ms, *n));
    let list: Vec<Arc<Target>> = targets.values().cloned().collect();
    let mut recorder = probity_engine::record::Recorder::new(
        store.clone(),
        Arc::new(probity_engine::live::Shared::default()),
        &list,
    )?;
    let batch = recorder.batch_of(
        &items
            .into_iter()
            .map(|(_, t, o, v)| (t, o, v))
            .collect::<Vec<_>>(),
    );
    let (results, incidents) = (batch.results.len(), batch.incidents.len());
    store.write(&batch)?;
    drop(lock);
    let opened = batch
        .incidents
        .iter()
        .filter(|c| c.kind() == "opened")
        .count();
    if a.json {
        println!(
            "{}",
            serde_json::json!({"file": file, "results": results, "incident_changes": incidents, "incidents_opened": opened})
        );
    } else {
        println!(
            "{file}: imported {results} result{}, {opened} incident{} opened ({incidents} incident change{})",
            if results == 1 { "" } else { "s" },
            if opened == 1 { "" } else { "s" },
            if incidents == 1 { "" } else { "s" },
        );
    }
    Ok(ExitCode::SUCCESS)
}
