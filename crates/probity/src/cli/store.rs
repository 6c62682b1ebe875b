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

use probity_engine::store::DAY_MS;

fn date(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| t.strftime("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

fn mib(b: u64) -> String {
    format!("{:.1} MiB", b as f64 / (1024.0 * 1024.0))
}

pub fn stats(a: StatsArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = super::load_or_report(&a.config) else {
        return Ok(ExitCode::from(2));
    };
    let store = super::open_existing(&config)?;
    let now = jiff::Timestamp::now().as_millisecond();
    let st = store.stats(now)?;
    // The server samples the store's size hourly: the last 30 days' daily sizes, and the
    // growth over the last 7 (the figure /metrics gives).
    let sizes = store.sizes(now - 30 * DAY_MS)?;
    let growth = probity_engine::store::weekly_growth(&sizes, now);
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
                "size_per_day": sizes.iter().map(|d| serde_json::json!({"day": date(d.day_ms), "bytes": d.bytes, "sampled_at": probity_ground::time::Stamp::ms(d.at_ms)})).collect::<Vec<_>>(),
                "growth_bytes_per_day": growth,
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
    if sizes.is_empty() {
        println!("store size by day: none noted yet (a running server notes it hourly)");
    } else {
        println!("store size by day (UTC; the server's last hourly sample of the day):");
        for d in &sizes {
            println!("  {}  {:>12}", date(d.day_ms), mib(d.bytes));
        }
        match growth {
            Some(g) => println!(
                "grew {:.1} MiB a day over the last 7 days",
                g / (1024.0 * 1024.0)
            ),
            None => println!("growth: the samples do not span a day yet"),
        }
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

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// The store to copy: `sqlite:PATH`, PATH a data directory or its probity.db.
    #[arg(long)]
    pub from: String,
    /// The empty PostgreSQL database to copy into: postgres://USER@HOST/DATABASE (the
    /// password from PGPASSWORD or --password-file, never in the URL).
    #[arg(long)]
    pub to: String,
    /// A file holding the database password (its first line).
    #[arg(long)]
    pub password_file: Option<std::path::PathBuf>,
    /// PEM certificates to trust for the database's TLS certificate (a private CA).
    #[arg(long)]
    pub ca_file: Option<std::path::PathBuf>,
    /// Print what was copied as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `probity store migrate`: copies a SQLite store into an empty PostgreSQL database and
/// checks the copy (row counts, the evidence log's root). Exit 0 copied and checked; 1 the
/// copy failed or differs (the database is left as it was: one transaction); 2 bad
/// arguments.
pub fn migrate(a: MigrateArgs) -> anyhow::Result<ExitCode> {
    let Some(path) = a.from.strip_prefix("sqlite:") else {
        eprintln!(
            "--from {}: write sqlite:PATH (a data directory or its probity.db)",
            a.from
        );
        return Ok(ExitCode::from(2));
    };
    let path = std::path::Path::new(path);
    let dir = if path.is_dir() {
        path.to_path_buf()
    } else if path.file_name().is_some_and(|f| f == "probity.db") {
        path.parent()
            .unwrap_or(std::path::Path::new("."))
            .to_path_buf()
    } else {
        path.to_path_buf()
    };
    if !dir.join("probity.db").is_file() {
        eprintln!("--from {}: no probity.db there", a.from);
        return Ok(ExitCode::from(2));
    }
    if !(a.to.starts_with("postgres://") || a.to.starts_with("postgresql://")) {
        eprintln!("--to: write a PostgreSQL URL, postgres://USER@HOST/DATABASE");
        return Ok(ExitCode::from(2));
    }
    if probity_ground::config::url_holds_password(&a.to) {
        eprintln!("--to: no password in the URL (it is shown): use PGPASSWORD or --password-file");
        return Ok(ExitCode::from(2));
    }
    let shown = a.to.clone();
    let password = match &a.password_file {
        Some(f) => match std::fs::read_to_string(f) {
            Ok(s) => Some(s.lines().next().unwrap_or_default().to_string()),
            Err(e) => {
                eprintln!("--password-file {}: {e}", f.display());
                return Ok(ExitCode::from(2));
            }
        },
        None => std::env::var("PGPASSWORD").ok(),
    };
    let target = probity_engine::store::PgStore::open(&probity_engine::store::PgOptions {
        url: a.to.clone(),
        password,
        pool_size: 2,
        ca_file: a.ca_file.clone(),
    })
    .map_err(|e| anyhow::anyhow!("opening {shown}: {e}"))?;
    let bar = probity_engine::attest::bundle::progress_bar("copying rows");
    let copied = probity_engine::store::copy_sqlite(&dir, &target, &mut |done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let copied = match copied {
        Ok(c) => c,
        Err(e) => {
            eprintln!("store migrate: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "from": dir.join("probity.db").display().to_string(),
                "to": shown,
                "tables": copied.tables.iter().map(|(t, n)| (t.clone(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
                "evidence_size": copied.evidence_size,
                "evidence_root": copied.evidence_root,
            })
        );
    } else {
        let rows: u64 = copied.tables.iter().map(|(_, n)| n).sum();
        println!(
            "copied {rows} rows in {} tables from {} to {shown}",
            copied.tables.len(),
            dir.join("probity.db").display()
        );
        for (t, n) in copied.tables.iter().filter(|(_, n)| *n > 0) {
            println!("  {t:<22} {n:>12} rows");
        }
        println!(
            "evidence log: {} leaves, root {} on both sides",
            copied.evidence_size, copied.evidence_root
        );
        println!(
            "to run on it, set [store] url = \"{shown}\" (and the password) in the configuration"
        );
    }
    Ok(ExitCode::SUCCESS)
}
