//! `probity results import`: past results, one JSON object a line, run through the same
//! recorder as live ones (rollups, incidents, evidence) and written in one transaction.
//! The file is read twice, a line at a time: once to check every line, once to import it
//! a batch at a time, so memory stays bounded whatever its size.

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
    /// Results per evidence leaf and per batch held in memory (all batches are written in
    /// one transaction). A file longer than one batch must keep each target's results in
    /// time order; within a batch they are sorted.
    #[arg(long, default_value_t = 10_000)]
    pub batch_size: usize,
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

/// One line read: the target, what it measured, from where.
type Item = (Arc<Target>, ProbeOutput, String);

/// Reads one line, or says what is wrong with it (without the `file:line: ` prefix).
fn read_line(
    raw: &str,
    targets: &HashMap<&str, Arc<Target>>,
    config: &std::path::Path,
) -> Result<Item, String> {
    let line: Line = serde_json::from_str(raw).map_err(|e| e.to_string())?;
    let Some(target) = targets.get(line.target.as_str()) else {
        return Err(format!(
            "no target named `{}` in {}",
            line.target,
            config.display()
        ));
    };
    let Ok(at) = line.at.parse::<jiff::Timestamp>() else {
        return Err(format!(
            "`at` must be an RFC 3339 time such as 2026-10-01T12:00:00Z, not {:?}",
            line.at
        ));
    };
    if let Some(l) = line.latency_ms
        && !(l.is_finite() && l >= 0.0)
    {
        return Err(format!(
            "`latency_ms` must be a number of milliseconds ≥ 0, not {l}"
        ));
    }
    let class = match line.error_class.as_deref() {
        None => ErrorClass::Unknown,
        Some(c) => ErrorClass::parse(c).ok_or_else(|| format!("unknown `error_class` {c:?}"))?,
    };
    if line.ok && (line.error.is_some() || line.error_class.is_some()) {
        return Err("a result with `ok: true` has no `error`".into());
    }
    let health = if line.ok { Health::Up } else { class.health() };
    Ok((
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
                detail: line.error.unwrap_or_else(|| "failed (imported)".into()),
            }),
            details: Default::default(),
            observation: Default::default(),
        },
        line.vantage
            .unwrap_or_else(|| probity_ground::vantage::LOCAL.into()),
    ))
}

/// Where each target's results stand while checking: the latest time of the batches before
/// the current one (with its line), and of the current one.
#[derive(Default)]
struct Order {
    batch: usize,
    before: Option<(i64, usize)>,
    current: Option<(i64, usize)>,
}

/// The file's lines that are not blank, with their line numbers, read as they come.
fn lines_of(
    path: &std::path::Path,
    bar: &indicatif::ProgressBar,
) -> std::io::Result<impl Iterator<Item = std::io::Result<(usize, String)>>> {
    use std::io::BufRead;
    let bar = bar.clone();
    Ok(std::io::BufReader::new(std::fs::File::open(path)?)
        .lines()
        .enumerate()
        .map(move |(n, l)| {
            l.map(|l| {
                bar.inc(l.len() as u64 + 1);
                (n + 1, l)
            })
        })
        .filter(|l| l.as_ref().map_or(true, |(_, t)| !t.trim().is_empty())))
}

fn progress(what: &str, bytes: u64) -> indicatif::ProgressBar {
    let bar = probity_engine::attest::bundle::progress_bar(what);
    bar.set_length(bytes);
    bar
}

pub fn import(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = super::load_or_report(&a.config) else {
        return Ok(ExitCode::from(2));
    };
    let file = a.file.display().to_string();
    let bytes = match std::fs::metadata(&a.file) {
        Ok(m) => m.len(),
        Err(e) => {
            eprintln!("{file}: cannot read: {e}");
            return Ok(ExitCode::from(2));
        }
    };
    let batch_size = a.batch_size.max(1);
    let targets: HashMap<&str, Arc<Target>> = config
        .targets
        .iter()
        .map(|t| (t.name.as_str(), t.clone()))
        .collect();
    let lock = match probity_ground::process::lock_data_dir(&config.server.data_dir) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{e:#}; results are imported with probity stopped");
            return Ok(ExitCode::from(1));
        }
    };
    let store: Arc<dyn Store> = crate::cli::open_store(&config)?;
    // Results are recorded in time order, as live ones are: a target's imported results must
    // all be newer than its latest stored one (import history in order, before measuring
    // live), or the incidents they imply would be out of order and re-imports would count
    // twice.
    let latest: HashMap<String, i64> = store
        .latest_results()?
        .into_iter()
        .map(|r| (r.target, r.at_ms))
        .collect();

    // First pass: every line checked, holding nothing but each target's order.
    let mut problems: Vec<String> = Vec::new();
    let mut order: HashMap<String, Order> = HashMap::new();
    let bar = progress("checking", bytes);
    let mut count = 0usize;
    for item in lines_of(&a.file, &bar)? {
        if problems.len() >= MAX_PROBLEMS {
            break;
        }
        let (n, raw) = match item {
            Ok(l) => l,
            Err(e) => {
                problems.push(format!("{file}: cannot read: {e}"));
                break;
            }
        };
        let batch = count / batch_size;
        count += 1;
        let (t, out, _) = match read_line(&raw, &targets, &a.config) {
            Ok(i) => i,
            Err(e) => {
                problems.push(format!("{file}:{n}: {e}"));
                continue;
            }
        };
        if let Some(&l) = latest.get(&t.name)
            && out.at_ms <= l
        {
            problems.push(format!(
                "{file}:{n}: target `{}` already has results up to {}; imported results must be newer (import history in time order, before measuring live)",
                t.name,
                probity_ground::time::rfc3339(l)
            ));
            continue;
        }
        let o = order.entry(t.name.clone()).or_default();
        if o.batch != batch {
            o.before = o.before.max(o.current.take());
            o.batch = batch;
        }
        if let Some((before, line)) = o.before
            && out.at_ms < before
        {
            problems.push(format!(
                "{file}:{n}: target `{}` goes back in time, before line {line} ({}): a file of more than {batch_size} results (--batch-size) must keep each target's results in time order",
                t.name,
                probity_ground::time::rfc3339(before)
            ));
            continue;
        }
        o.current = o.current.max(Some((out.at_ms, n)));
    }
    bar.finish_and_clear();
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

    // Second pass: a batch at a time, in time order within it (stable: equal times keep
    // the file's order), through the recorder, all batches in one transaction.
    let list: Vec<Arc<Target>> = targets.values().cloned().collect();
    let mut recorder = probity_engine::record::Recorder::new(
        store.clone(),
        Arc::new(probity_engine::live::Shared::default()),
        &list,
    )?;
    let bar = progress("importing", bytes);
    let mut lines = lines_of(&a.file, &bar)?;
    let (mut results, mut incidents, mut opened) = (0usize, 0usize, 0usize);
    let changed = |m: String| {
        probity_engine::store::StoreError::Corrupt(format!(
            "{file}: {m}; the file changed while it was imported, nothing imported"
        ))
    };
    store.write_each(&mut || {
        let mut items: Vec<(usize, Item)> = Vec::with_capacity(batch_size.min(count));
        while items.len() < batch_size {
            let Some(l) = lines.next() else { break };
            let (n, raw) = l.map_err(|e| changed(e.to_string()))?;
            let item = read_line(&raw, &targets, &a.config)
                .map_err(|e| changed(format!("line {n}: {e}")))?;
            items.push((n, item));
        }
        if items.is_empty() {
            return Ok(None);
        }
        items.sort_by_key(|(n, (_, out, _))| (out.at_ms, *n));
        let batch = recorder.batch_of(&items.into_iter().map(|(_, i)| i).collect::<Vec<_>>());
        results += batch.results.len();
        incidents += batch.incidents.len();
        opened += batch
            .incidents
            .iter()
            .filter(|c| c.kind() == "opened")
            .count();
        Ok(Some(batch))
    })?;
    bar.finish_and_clear();
    drop(lock);
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
