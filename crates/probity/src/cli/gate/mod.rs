//! `probity gate judge`: is the canary worse than the baseline? Each side is a URL (probed
//! side by side for `--duration`) or a file of samples; the judge is pure
//! (`probity_core::judge`). Exit codes: 0 promote, 1 roll back, 2 inconclusive, 3 a usage
//! or input error (the rollout tools' convention, which this command keeps instead of the
//! usual 2).

use probity_core::duration::HumanDuration;
use probity_core::judge::{self, Settings, Verdict};
use probity_engine::gate;

mod run;
pub use run::{RunArgs, run};
use std::path::Path;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct JudgeArgs {
    /// The baseline: a URL to probe, or a file of samples (CSV with the header
    /// `latency_ms,ok`, or JSON lines `{"latency_ms": 12.5, "ok": true}`).
    #[arg(long)]
    pub baseline: String,
    /// The canary, as `--baseline`.
    #[arg(long)]
    pub canary: String,
    /// How long to probe URLs for.
    #[arg(long, default_value = "5m")]
    pub duration: HumanDuration,
    /// How often to probe each URL.
    #[arg(long, default_value = "250ms")]
    pub every: HumanDuration,
    /// The relative latency increase that matters (0.2 is 20%).
    #[arg(long, default_value_t = 0.2)]
    pub latency_increase: f64,
    /// Fewest samples per side.
    #[arg(long, default_value_t = 20)]
    pub min_samples: usize,
    /// The score a pass needs.
    #[arg(long, default_value_t = 95.0)]
    pub pass: f64,
    /// The score under which it fails (between: inconclusive).
    #[arg(long, default_value_t = 75.0)]
    pub marginal: f64,
    /// Print the judgement as JSON.
    #[arg(long)]
    pub json: bool,
    /// Record the verdict in the evidence log of this configuration's store.
    #[arg(long)]
    pub config: Option<std::path::PathBuf>,
    /// Also write the judgement as an HTML page, with both distributions plotted.
    #[arg(long)]
    pub html: Option<std::path::PathBuf>,
}

fn is_url(s: &str) -> bool {
    s.starts_with("http://") || s.starts_with("https://")
}

pub fn judge(a: JudgeArgs) -> anyhow::Result<ExitCode> {
    let settings = Settings {
        latency_increase: a.latency_increase,
        min_samples: a.min_samples,
        pass: a.pass,
        marginal: a.marginal,
        ..Settings::default()
    };
    let (base, canary) = match (is_url(&a.baseline), is_url(&a.canary)) {
        (true, true) => {
            let bar = indicatif::ProgressBar::new(a.duration.as_millis() / 1000);
            let got = probity_ground::process::runtime()?.block_on(gate::probe_both(
                &a.baseline,
                &a.canary,
                a.duration.as_std(),
                a.every.as_std(),
                |s| bar.set_position(s),
            ));
            bar.finish_and_clear();
            got
        }
        (false, false) => {
            match (
                gate::read_samples(Path::new(&a.baseline)),
                gate::read_samples(Path::new(&a.canary)),
            ) {
                (Ok(b), Ok(c)) => (b, c),
                (Err(e), _) | (_, Err(e)) => {
                    eprintln!("{e}");
                    return Ok(ExitCode::from(3));
                }
            }
        }
        _ => {
            eprintln!("--baseline and --canary are both URLs or both files of samples");
            return Ok(ExitCode::from(3));
        }
    };
    let j = judge::judge(&base, &canary, &settings);
    // How each side is named in records and pages: never a URL's credentials or query.
    let shown = |s: &str| {
        if is_url(s) {
            gate::display_url(s)
        } else {
            let name = Path::new(s)
                .file_name()
                .map(|f| f.to_string_lossy().into_owned());
            format!("file:{}", name.unwrap_or_default())
        }
    };
    let leaf = match &a.config {
        None => None,
        Some(path) => {
            let Some(config) = super::load_or_report(path) else {
                return Ok(ExitCode::from(3));
            };
            let record = probity_engine::store::leaf::VerdictRecord::new(
                jiff::Timestamp::now().as_millisecond(),
                (shown(&a.baseline), shown(&a.canary)),
                (None, None),
                &j,
            );
            let store = crate::cli::open_store(&config)?;
            let leaf =
                store.append_evidence(&[probity_engine::store::leaf::verdict_record(&record)])?;
            eprintln!("recorded in the evidence log as leaf {leaf}");
            Some(leaf)
        }
    };
    if let Some(path) = &a.html {
        let page = gate::html_report(
            "Canary judgement",
            &[gate::Judged {
                title: format!("{} against {}", shown(&a.canary), shown(&a.baseline)),
                baseline: &base,
                canary: &canary,
                judgement: &j,
            }],
        );
        std::fs::write(path, page)?;
    }
    if a.json {
        let mut v = serde_json::to_value(&j)?;
        if let Some(leaf) = leaf {
            v["evidence_leaf"] = leaf.into();
        }
        println!("{v}");
    } else {
        println!(
            "{:<12} {:<12} {:>9} {:>9} {:>10} {:>10}  why",
            "metric", "class", "baseline", "canary", "n (b/c)", "p worse"
        );
        for m in &j.metrics {
            let f = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.3}"));
            println!(
                "{:<12} {:<12} {:>9} {:>9} {:>10} {:>10}  {}",
                m.metric,
                serde_json::to_value(m.class)?.as_str().unwrap_or("?"),
                f(m.baseline),
                f(m.canary),
                format!("{}/{}", m.baseline_n, m.canary_n),
                m.p_worse.map_or("—".into(), |p| format!("{p:.2e}")),
                m.why
            );
        }
        println!("{}", j.summary);
    }
    Ok(ExitCode::from(match j.verdict {
        Verdict::Pass => 0,
        Verdict::Fail => 1,
        Verdict::Inconclusive => 2,
    }))
}

#[derive(clap::Args)]
pub struct WeatherArgs {
    /// The configuration file.
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: std::path::PathBuf,
    /// Only targets of these services (`service` or `provider_service`; comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub services: Vec<String>,
    /// Only targets of these providers (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub providers: Vec<String>,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub json: bool,
}

/// What stands in a deployment's way now.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Blocker {
    /// `observed`, `declared` or `slo`.
    pub kind: &'static str,
    pub what: String,
}

/// `probity gate weather`: 0 while the providers the deployment depends on are calm, 1
/// while one of its targets has an open observed incident, its provider declares an open
/// incident on it, or an SLO covering it burns past an alert's threshold.
pub fn weather(a: WeatherArgs) -> anyhow::Result<ExitCode> {
    // Usage and configuration errors are 3 under `gate` (2 is "inconclusive" there).
    let Some(config) = super::load_or_report(&a.config) else {
        return Ok(ExitCode::from(3));
    };
    let store = match super::open_existing(&config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(3));
        }
    };
    let (targets, blockers) = blockers(&config, &*store, &a.services, &a.providers)?;
    if a.json {
        println!(
            "{}",
            serde_json::json!({"clear": blockers.is_empty(), "targets": targets, "blockers": blockers})
        );
    } else if blockers.is_empty() {
        println!("clear: {targets} targets, nothing open on them");
    } else {
        for b in &blockers {
            println!("{:<9} {}", b.kind, b.what);
        }
        println!("not now: {} things stand in the way", blockers.len());
    }
    Ok(ExitCode::from(u8::from(!blockers.is_empty())))
}

/// What stands in the way of a deployment now, on the targets with a `provider` (narrowed
/// by `services` and `providers`): the number of such targets, and the blockers.
pub fn blockers(
    config: &probity_ground::config::Config,
    store: &dyn probity_engine::store::Store,
    services: &[String],
    providers: &[String],
) -> anyhow::Result<(usize, Vec<Blocker>)> {
    let slug = probity_core::names::slug;
    let targets: Vec<&probity_ground::config::Target> = config
        .targets
        .iter()
        .filter(|t| t.provider.is_some())
        .filter(|t| {
            providers.is_empty()
                || providers
                    .iter()
                    .any(|p| t.provider.as_deref().is_some_and(|tp| slug(tp) == slug(p)))
        })
        .filter(|t| {
            services.is_empty()
                || services.iter().any(|s| {
                    [t.service.as_deref(), t.provider_service.as_deref()]
                        .into_iter()
                        .flatten()
                        .any(|ts| slug(ts) == slug(s))
                })
        })
        .map(|t| &**t)
        .collect();
    let names: std::collections::HashSet<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    let mut blockers = Vec::new();
    let rfc = probity_ground::time::rfc3339;
    for i in store.incidents(probity_engine::store::IncidentFilter::Open)? {
        if names.contains(i.target.as_str()) {
            blockers.push(Blocker {
                kind: "observed",
                what: format!(
                    "incident {} on {} open since {} ({})",
                    i.id,
                    i.target,
                    rfc(i.started_at_ms),
                    i.cause.detail
                ),
            });
        }
    }
    // Only incidents whose span reaches now (the open ones, and any resolved this very
    // millisecond), not every incident ever stored.
    let now = jiff::Timestamp::now().as_millisecond();
    let mut declared = store.provider_incidents(&probity_engine::store::ProviderFilter {
        since_ms: Some(now),
        until_ms: Some(now + 1),
        ..Default::default()
    })?;
    probity_engine::feeds::map_components(&config.reconcile.components, &mut declared);
    for p in declared {
        let i = &p.incident;
        let open = i.resolved_at_ms.is_none() && p.removed_at_ms.is_none();
        if !open || i.impact == probity_core::provider::Impact::None {
            continue;
        }
        if let Some(t) = targets
            .iter()
            .find(|t| probity_core::names::affects(i, t.names()))
        {
            blockers.push(Blocker {
                kind: "declared",
                what: format!(
                    "{} declares \"{}\" ({}, impact {}) affecting {}",
                    i.provider,
                    i.title,
                    i.status,
                    i.impact.as_str(),
                    t.name
                ),
            });
        }
    }
    for slo in &config.slos {
        if !slo.targets.iter().any(|t| names.contains(t.as_str())) {
            continue;
        }
        let s = probity_engine::account::slo::status(store, slo, now)?;
        if let Some(a) = s.alerts.iter().find(|a| a.firing) {
            blockers.push(Blocker {
                kind: "slo",
                what: format!(
                    "SLO {} burns at {:.1}× its budget ({} alert)",
                    slo.name,
                    a.long_burn_rate.unwrap_or(0.0),
                    a.severity
                ),
            });
        }
    }
    Ok((names.len(), blockers))
}
