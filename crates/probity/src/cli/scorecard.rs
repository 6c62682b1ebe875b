//! `probity scorecard`: each provider's record over a window, as a table or JSON.

use probity_core::duration::HumanDuration;
use probity_engine::account::reconcile::{gather, provider_json};
use probity_engine::store::SqliteStore;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct ScorecardArgs {
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// How far back from now (`30d`, `90d`, `365d`).
    #[arg(long, default_value = "30d")]
    pub window: HumanDuration,
    /// Print the scorecards as JSON.
    #[arg(long)]
    pub json: bool,
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.3}%", v * 100.0))
}

fn secs(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(s) if s.abs() >= 3600.0 => format!("{:.1}h", s / 3600.0),
        Some(s) if s.abs() >= 60.0 => format!("{:.0}m", s / 60.0),
        Some(s) => format!("{s:.0}s"),
    }
}

pub fn main(a: ScorecardArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = super::load_or_report(&a.config) else {
        return Ok(ExitCode::from(2));
    };
    if a.window.as_millis() < 60_000 {
        eprintln!("--window must be at least 1m");
        return Ok(ExitCode::from(2));
    }
    // An unknown provider is refused before the store is touched.
    let providers: std::collections::BTreeSet<&str> = config
        .targets
        .iter()
        .filter_map(|t| t.provider.as_deref())
        .collect();
    if let Some(p) = &a.provider
        && !providers
            .iter()
            .any(|x| probity_core::names::slug(x) == probity_core::names::slug(p))
    {
        eprintln!(
            "{}: no target watches provider `{p}` (providers: {})",
            a.config.display(),
            providers.into_iter().collect::<Vec<_>>().join(", ")
        );
        return Ok(ExitCode::from(2));
    }
    let (cards, span, _) = compute(&config, a.window, a.provider.as_deref())?;
    let window_name = a.window.to_string();
    if a.json {
        let all: Vec<_> = cards
            .iter()
            .map(|(c, s)| provider_json(c, s, &window_name))
            .collect();
        println!("{}", serde_json::to_string_pretty(&all)?);
    } else {
        table(&cards, span, &window_name);
    }
    Ok(ExitCode::SUCCESS)
}

type Cards = Vec<(
    probity_core::reconcile::Scorecard,
    Vec<probity_core::reconcile::Scorecard>,
)>;

/// The scorecards of a configuration's providers over `window` back from now, the window,
/// and the providers watched.
fn compute(
    config: &probity_ground::config::Config,
    window: HumanDuration,
    provider: Option<&str>,
) -> anyhow::Result<(Cards, (i64, i64), Vec<String>)> {
    let store = SqliteStore::open(&config.server.data_dir)?;
    let targets: Vec<Arc<probity_ground::config::Target>> =
        config.targets.iter().cloned().map(Arc::new).collect();
    let now = jiff::Timestamp::now().as_millisecond();
    let span = (now - window.as_millis() as i64, now);
    let inputs = gather(&store, &targets, &config.reconcile, span, now)?;
    let rec = inputs.reconcile();
    Ok((inputs.scorecards(&rec, provider), span, inputs.providers()))
}

/// Prints the scorecard table of `config`'s providers.
pub fn print(
    config: &probity_ground::config::Config,
    window_len: HumanDuration,
    provider: Option<&str>,
) -> anyhow::Result<()> {
    let (cards, window, _) = compute(config, window_len, provider)?;
    table(&cards, window, &window_len.to_string());
    Ok(())
}

fn table(cards: &Cards, window: (i64, i64), window_name: &str) {
    println!(
        "{:<22} {:>5} {:>9} {:>9} {:>6} {:>6} {:>8} {:>6} {:>7} {:>7} {:>7} {:>6}",
        "provider / service",
        "grade",
        "measured",
        "declared",
        "unack",
        "down",
        "ack rate",
        "lag50",
        "lag90",
        "lagmax",
        "edited",
        "score"
    );
    for (card, services) in cards {
        for (c, indent) in std::iter::once((card, "")).chain(services.iter().map(|s| (s, "  "))) {
            let name = format!(
                "{indent}{}",
                c.service.as_deref().unwrap_or(c.provider.as_str())
            );
            println!(
                "{:<22} {:>5} {:>9} {:>9} {:>6} {:>6} {:>8} {:>6} {:>7} {:>7} {:>7} {:>6}",
                name.chars().take(22).collect::<String>(),
                c.grade,
                pct(c.measured_availability),
                pct(c.declared_availability),
                c.unacknowledged_incidents,
                secs(Some(c.unacknowledged_downtime_s)),
                c.acknowledgment_rate
                    .map_or("—".into(), |r| format!("{:.0}%", r * 100.0)),
                secs(c.disclosure_lag_s.p50),
                secs(c.disclosure_lag_s.p90),
                secs(c.disclosure_lag_s.max),
                c.changed_after_publication,
                c.score.map_or("—".into(), |s| format!("{s:.1}")),
            );
        }
    }
    println!(
        "window {window_name} ({} → {}); grade = 0.5 acknowledgment + 0.2 timeliness + 0.2 accuracy + 0.1 integrity (docs/reconciliation.md)",
        probity_ground::time::rfc3339(window.0),
        probity_ground::time::rfc3339(window.1)
    );
}
