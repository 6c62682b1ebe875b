//! `probity scorecard`: each provider's record over a window, as a table or JSON.

use probity_core::duration::HumanDuration;
use probity_engine::account::reconcile::{gather, provider_json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(clap::Args)]
pub struct ScorecardArgs {
    /// The configuration file.
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// Only this provider.
    #[arg(long)]
    pub provider: Option<String>,
    /// How far back from now (`30d`, `90d`, `365d`), or back from `--to`.
    #[arg(long, default_value = "30d")]
    pub window: HumanDuration,
    /// The window's start (RFC 3339 or Unix milliseconds): with `--to`, the window is
    /// `[from, to)`, and the same bounds give the same figures whenever computed.
    #[arg(long)]
    pub from: Option<String>,
    /// The window's end, excluded (default: now).
    #[arg(long)]
    pub to: Option<String>,
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
    let span = match bounds(&a) {
        Ok(span) => span,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(2));
        }
    };
    let (cards, span, _) = compute(&config, span, a.provider.as_deref())?;
    let window_name = if a.from.is_some() || a.to.is_some() {
        HumanDuration::from_millis((span.1 - span.0) as u64).to_string()
    } else {
        a.window.to_string()
    };
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

/// The window `[from, to)` the arguments state: `--from`/`--to` where given, else
/// `--window` back from `--to` (or now).
fn bounds(a: &ScorecardArgs) -> Result<(i64, i64), String> {
    let at = |v: &Option<String>, flag: &str| -> Result<Option<i64>, String> {
        v.as_deref()
            .map(|s| {
                probity_ground::time::parse_instant(s).ok_or_else(|| {
                    format!(
                        "{flag} must be an RFC 3339 time such as 2026-11-01T00:00:00Z, not {s:?}"
                    )
                })
            })
            .transpose()
    };
    let to = at(&a.to, "--to")?.unwrap_or_else(|| jiff::Timestamp::now().as_millisecond());
    let from = at(&a.from, "--from")?.unwrap_or(to - a.window.as_millis() as i64);
    if to - from < 60_000 {
        return Err(format!(
            "the window must be at least 1m: --from {} is not a minute before --to {}",
            probity_ground::time::rfc3339(from),
            probity_ground::time::rfc3339(to)
        ));
    }
    Ok((from, to))
}

type Cards = Vec<(
    probity_core::scorecard::Scorecard,
    Vec<probity_core::scorecard::Scorecard>,
)>;

/// The scorecards of a configuration's providers over `span`, the window, and the
/// providers watched.
fn compute(
    config: &probity_ground::config::Config,
    span: (i64, i64),
    provider: Option<&str>,
) -> anyhow::Result<(Cards, (i64, i64), Vec<String>)> {
    let store = super::open_existing(config)?;
    let targets: Vec<Arc<probity_ground::config::Target>> = config.targets.clone();
    let now = jiff::Timestamp::now().as_millisecond();
    let inputs = gather(&*store, &targets, &config.reconcile, span, now)?;
    let rec = inputs.reconcile();
    Ok((inputs.scorecards(&rec, provider), span, inputs.providers()))
}

/// Prints the scorecard table of `config`'s providers.
pub fn print(
    config: &probity_ground::config::Config,
    window_len: HumanDuration,
    provider: Option<&str>,
) -> anyhow::Result<()> {
    let now = jiff::Timestamp::now().as_millisecond();
    let span = (now - window_len.as_millis() as i64, now);
    let (cards, window, _) = compute(config, span, provider)?;
    table(&cards, window, &window_len.to_string());
    Ok(())
}

fn table(cards: &Cards, window: (i64, i64), window_name: &str) {
    // The first column as wide as its widest name (services indented by two): never cut.
    let nw = cards
        .iter()
        .flat_map(|(card, services)| {
            std::iter::once(
                card.service
                    .as_deref()
                    .unwrap_or(card.provider.as_str())
                    .chars()
                    .count(),
            )
            .chain(services.iter().map(|s| {
                2 + s
                    .service
                    .as_deref()
                    .unwrap_or(s.provider.as_str())
                    .chars()
                    .count()
            }))
        })
        .max()
        .unwrap_or(0)
        .max(22);
    println!(
        "{:<nw$} {:>5} {:>9} {:>9} {:>6} {:>6} {:>8} {:>6} {:>7} {:>7} {:>7} {:>6}",
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
                "{:<nw$} {:>5} {:>9} {:>9} {:>6} {:>6} {:>8} {:>6} {:>7} {:>7} {:>7} {:>6}",
                name,
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
    // Data that came back wrong is a figure of its own.
    for (card, services) in cards {
        for c in std::iter::once(card).chain(services.iter()) {
            if c.integrity_incidents > 0 {
                println!(
                    "integrity: {}: {} incident(s) of data lost, changed or served stale, {} never declared",
                    c.service.as_deref().unwrap_or(c.provider.as_str()),
                    c.integrity_incidents,
                    c.integrity_unacknowledged,
                );
            }
            if c.corroborated_incidents > 0 {
                println!(
                    "corroborated: {}: {} incident(s) other organisations saw too, {} never declared",
                    c.service.as_deref().unwrap_or(c.provider.as_str()),
                    c.corroborated_incidents,
                    c.corroborated_unacknowledged,
                );
            }
        }
    }
    // What was declared and never observed, and why.
    for (card, _) in cards {
        for n in &card.declared_not_observed {
            println!(
                "declared, not observed: {} {:?} ({} → {}): {}",
                n.key,
                n.title,
                probity_ground::time::rfc3339(n.start_ms),
                n.end_ms
                    .map_or("open".into(), probity_ground::time::rfc3339),
                match n.why {
                    probity_core::scorecard::Why::NotWatched => "no target watches it".to_string(),
                    probity_core::scorecard::Why::Unmeasured =>
                        format!("{} not measured during it", n.targets.join(", ")),
                    probity_core::scorecard::Why::FailingBelowThreshold => format!(
                        "{} failed during it, below the threshold (no incident)",
                        n.targets.join(", ")
                    ),
                    probity_core::scorecard::Why::UpThroughout => format!(
                        "{} measured for {:.0} min of it, nothing observed",
                        n.targets.join(", "),
                        n.measured_s / 60.0
                    ),
                }
            );
        }
    }
    println!(
        "window {window_name} ({} → {}); grade = 0.5 acknowledgment + 0.2 timeliness + 0.2 accuracy + 0.1 integrity (docs/reconciliation.md)",
        probity_ground::time::rfc3339(window.0),
        probity_ground::time::rfc3339(window.1)
    );
}
