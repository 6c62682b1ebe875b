//! `probity store stats`: what the store holds and how fast it grows, to size a disk and
//! choose retention.

use std::process::ExitCode;

#[derive(clap::Args)]
pub struct StatsArgs {
    /// The configuration file.
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: std::path::PathBuf,
    /// Print the figures as JSON.
    #[arg(long)]
    pub json: bool,
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

pub fn stats(a: StatsArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = super::load_or_report(&a.config) else {
        return Ok(ExitCode::from(2));
    };
    let store = super::open_existing(&config)?;
    let st = store.stats(jiff::Timestamp::now().as_millisecond())?;
    let results = st.rows.get("results").copied().unwrap_or(0);
    // Bytes per stored result over the whole file (every table's share included): the
    // figure that sizes a disk, not a single table's.
    let per_result = (results > 0).then(|| st.database_bytes as f64 / results as f64);
    let full_days: Vec<u64> = st.results_per_day[..st.results_per_day.len().saturating_sub(1)]
        .iter()
        .map(|(_, n)| *n)
        .filter(|n| *n > 0)
        .collect();
    let per_day =
        (!full_days.is_empty()).then(|| full_days.iter().sum::<u64>() / full_days.len() as u64);
    let retention_days = config.server.raw_retention.as_millis() as f64 / 86_400_000.0;
    let projected = per_result
        .zip(per_day)
        .map(|(b, d)| (b * d as f64 * retention_days) as u64);
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "database_bytes": st.database_bytes,
                "wal_bytes": st.wal_bytes,
                "rows": st.rows,
                "results_per_day": st.results_per_day.iter().map(|(d, n)| serde_json::json!({"day": d, "results": n})).collect::<Vec<_>>(),
                "bytes_per_result": per_result,
                "results_per_full_day": per_day,
                "projected_bytes_at_raw_retention": projected,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    match config.store {
        probity_ground::config::StoreConfig::Sqlite => println!(
            "{}: {} ({} in the write-ahead log)",
            config.server.data_dir.join("probity.db").display(),
            mib(st.database_bytes),
            mib(st.wal_bytes)
        ),
        probity_ground::config::StoreConfig::Postgres(_) => println!(
            "{}: {} (the database's size)",
            probity_engine::store::shown(&config.store, &config.server.data_dir),
            mib(st.database_bytes)
        ),
    }
    for (table, n) in &st.rows {
        println!("  {table:<22} {n:>12} rows");
    }
    println!("results per day (UTC; the last is today, so far):");
    for (day, n) in &st.results_per_day {
        println!("  {day}  {n:>12}");
    }
    match (per_result, per_day, projected) {
        (Some(b), Some(d), Some(p)) => println!(
            "{b:.0} bytes per result (the whole file over its results); at {d} results a day, {retention_days:.0} days of raw results ([server] raw_retention) take about {}",
            mib(p)
        ),
        _ => println!("no full day of results yet: nothing to project"),
    }
    Ok(ExitCode::SUCCESS)
}
