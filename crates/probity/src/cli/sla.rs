//! `probity sla report`.

use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ReportArgs {
    /// The configuration file.
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// The calendar month, UTC: `YYYY-MM` (the current one by default).
    #[arg(long)]
    pub month: Option<String>,
    /// Account `[from, to)` instead of a month (RFC 3339, whole minutes; both needed): the
    /// same bounds give the same figures whenever computed.
    #[arg(long, conflicts_with = "month", requires = "to")]
    pub from: Option<String>,
    /// The end of `--from`'s span, excluded.
    #[arg(long, conflicts_with = "month", requires = "from")]
    pub to: Option<String>,
    /// Only this SLA.
    #[arg(long)]
    pub sla: Option<String>,
    /// How to print: a table, JSON, CSV (a row per SLA) or an HTML page per report.
    #[arg(long, default_value = "table", value_parser = ["table", "json", "csv", "html"])]
    pub format: String,
    /// Print JSON (the same as `--format json`, as every command that prints data takes).
    #[arg(long, conflicts_with = "format")]
    pub json: bool,
}

pub fn report(mut a: ReportArgs) -> anyhow::Result<ExitCode> {
    if a.json {
        a.format = "json".into();
    }
    let Some(config) = super::load_or_report(&a.config) else {
        return Ok(ExitCode::from(2));
    };
    let now = jiff::Timestamp::now().as_millisecond();
    let month = match &a.month {
        None => probity_engine::account::sla::this_month(now),
        Some(m) => match probity_engine::account::sla::parse_month(m) {
            Some(m) => m,
            None => {
                eprintln!("--month must be YYYY-MM, such as 2026-11, not {m:?}");
                return Ok(ExitCode::from(2));
            }
        },
    };
    if config.slas.is_empty() {
        eprintln!(
            "{}: no [[sla]] to report on (see docs/sla.md)",
            a.config.display()
        );
        return Ok(ExitCode::from(2));
    }
    if let Some(name) = &a.sla
        && !config.slas.iter().any(|s| &s.name == name)
    {
        let names: Vec<&str> = config.slas.iter().map(|s| s.name.as_str()).collect();
        eprintln!(
            "{}: no [[sla]] named `{name}` (slas: {})",
            a.config.display(),
            names.join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    let span = match (&a.from, &a.to) {
        (Some(f), Some(t)) => match span(f, t) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("{e}");
                return Ok(ExitCode::from(2));
            }
        },
        _ => None,
    };
    let store = super::open_existing(&config)?;
    let reports = match span {
        Some(span) => probity_engine::account::sla::reports_between(
            &*store,
            &config,
            span,
            a.sla.as_deref(),
            now,
        )?,
        None => {
            probity_engine::account::sla::reports(&*store, &config, month, a.sla.as_deref(), now)?
        }
    };
    match a.format.as_str() {
        "json" => {
            let all: Vec<_> = reports.iter().map(|r| r.json()).collect();
            println!("{}", serde_json::to_string_pretty(&all)?);
        }
        "csv" => print!("{}", probity_engine::account::sla::csv(&reports)),
        "html" => print!("{}", probity_engine::account::sla::html(&reports)),
        _ => print!("{}", probity_engine::account::sla::table(&reports)),
    }
    Ok(ExitCode::SUCCESS)
}

/// `--from`/`--to` as a span of whole minutes.
fn span(from: &str, to: &str) -> Result<(i64, i64), String> {
    let at = |s: &str, flag: &str| {
        probity_ground::time::parse_instant(s).ok_or_else(|| {
            format!("{flag} must be an RFC 3339 time such as 2026-11-01T00:00:00Z, not {s:?}")
        })
    };
    let (a, b) = (at(from, "--from")?, at(to, "--to")?);
    if a % 60_000 != 0 || b % 60_000 != 0 {
        return Err(
            "--from and --to must be whole minutes (SLA minutes are calendar minutes)".into(),
        );
    }
    if b <= a {
        return Err("--to must be after --from".into());
    }
    if b - a > 366 * 86_400_000 {
        return Err("account at most 366 days at once".into());
    }
    Ok((a, b))
}
