//! `probity gate run`: a staged rollout plan, step by step. `set_weight` runs the plan's
//! traffic command or webhook, `pause` waits, `analysis` judges the canary against the
//! baseline over an interval (each verdict recorded in the evidence log). A failed
//! analysis, a traffic step that fails, or an interruption (Ctrl-C, SIGTERM) rolls back;
//! an inconclusive analysis, or weather that stays bad, rolls back or holds as the plan
//! says. Exit codes: 0 promoted, 1 rolled back, 2 inconclusive, 3 usage or configuration.

use probity_core::judge::{Judgement, Samples, Verdict};
use probity_engine::gate;
use probity_engine::store::leaf::{VerdictRecord, verdict_record};
use probity_ground::config::{Action, Config, OnInconclusive, Plan, PlanSource, Step};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The configuration file (its store records the verdicts; its targets and feeds are
    /// the weather).
    #[arg(long, short, default_value = probity_ground::config::DEFAULT_PATH)]
    pub config: PathBuf,
    /// The rollout plan (TOML; see docs/gate.md).
    #[arg(long)]
    pub plan: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Also write the report as an HTML page, with each analysis's distributions plotted.
    #[arg(long)]
    pub html: Option<PathBuf>,
}

/// How the rollout ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
enum Outcome {
    Promoted,
    RolledBack,
    /// Inconclusive, rolled back (`on_inconclusive = "rollback"`) or held.
    Inconclusive,
}

#[derive(serde::Serialize)]
struct StepReport {
    step: usize,
    /// `set_weight`, `pause`, `analysis` or `weather`.
    kind: &'static str,
    detail: String,
    ok: bool,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    judgement: Option<Judgement>,
    /// The evidence leaf that records the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence_leaf: Option<u64>,
}

#[derive(serde::Serialize)]
struct Report {
    plan: String,
    outcome: Outcome,
    reason: String,
    /// What the rollback did (`null` when none was needed).
    rollback: Option<String>,
    steps: Vec<StepReport>,
}

/// The end of a step that stops the plan.
enum Stop {
    Fail(String),
    Inconclusive(String),
    Interrupted,
}

pub fn run(a: RunArgs) -> anyhow::Result<ExitCode> {
    let Some(config) = super::super::load_or_report(&a.config) else {
        return Ok(ExitCode::from(3));
    };
    let plan = match probity_ground::config::load_plan(&a.plan) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return Ok(ExitCode::from(3));
        }
    };
    let store = crate::cli::open_store(&config)?;
    let rt = probity_ground::process::runtime()?;
    let mut samples: Vec<(String, Samples, Samples, Judgement)> = Vec::new();
    let report = rt.block_on(execute(&config, &plan, &*store, &mut samples));
    if let Some(path) = &a.html {
        let judged: Vec<gate::Judged<'_>> = samples
            .iter()
            .map(|(title, b, c, j)| gate::Judged {
                title: title.clone(),
                baseline: b,
                canary: c,
                judgement: j,
            })
            .collect();
        let title = format!("Rollout {}: {}", plan.name, outcome_word(report.outcome));
        std::fs::write(path, gate::html_report(&title, &judged))?;
    }
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        for s in &report.steps {
            println!(
                "{:>3}  {:<10} {:<4} {:>7.1}s  {}",
                s.step,
                s.kind,
                if s.ok { "ok" } else { "STOP" },
                s.seconds,
                s.detail
            );
        }
        if let Some(r) = &report.rollback {
            println!("rollback: {r}");
        }
        println!("{}: {}", outcome_word(report.outcome), report.reason);
    }
    Ok(ExitCode::from(match report.outcome {
        Outcome::Promoted => 0,
        Outcome::RolledBack => 1,
        Outcome::Inconclusive => 2,
    }))
}

fn outcome_word(o: Outcome) -> &'static str {
    match o {
        Outcome::Promoted => "promoted",
        Outcome::RolledBack => "rolled back",
        Outcome::Inconclusive => "inconclusive",
    }
}

async fn execute(
    config: &Config,
    plan: &Plan,
    store: &dyn probity_engine::store::Store,
    samples: &mut Vec<(String, Samples, Samples, Judgement)>,
) -> Report {
    let mut steps = Vec::new();
    let total = plan.steps.len();
    let interrupted = probity_ground::process::termination();
    tokio::pin!(interrupted);
    let mut stop = None;
    for (i, step) in plan.steps.iter().enumerate() {
        let n = i + 1;
        if plan.require_weather {
            let started = std::time::Instant::now();
            let checked = tokio::select! {
                r = wait_for_weather(config, plan, store) => r,
                _ = &mut interrupted => Err(Stop::Interrupted),
            };
            let (ok, detail) = match &checked {
                Ok(()) => (true, "clear".to_string()),
                Err(Stop::Inconclusive(why)) | Err(Stop::Fail(why)) => (false, why.clone()),
                Err(Stop::Interrupted) => (false, "interrupted".into()),
            };
            eprintln!("step {n}/{total}: weather: {detail}");
            steps.push(StepReport {
                step: n,
                kind: "weather",
                detail,
                ok,
                seconds: started.elapsed().as_secs_f64(),
                judgement: None,
                evidence_leaf: None,
            });
            if let Err(s) = checked {
                stop = Some(s);
                break;
            }
        }
        let started = std::time::Instant::now();
        let mut report = StepReport {
            step: n,
            kind: "pause",
            detail: String::new(),
            ok: true,
            seconds: 0.0,
            judgement: None,
            evidence_leaf: None,
        };
        let outcome: Result<(), Stop> = match step {
            Step::SetWeight(w) => {
                report.kind = "set_weight";
                report.detail = format!("weight {w}%");
                let action = plan
                    .traffic
                    .as_ref()
                    .expect("checked when the plan was read");
                tokio::select! {
                    r = perform(action, plan, n, Some(*w)) => r.map_err(|e| Stop::Fail(format!("shifting traffic to {w}% failed: {e}"))),
                    _ = &mut interrupted => Err(Stop::Interrupted),
                }
            }
            Step::Pause(d) => {
                report.detail = format!("pause {d}");
                tokio::select! {
                    _ = tokio::time::sleep(d.as_std()) => Ok(()),
                    _ = &mut interrupted => Err(Stop::Interrupted),
                }
            }
            Step::Analysis(d) => {
                report.kind = "analysis";
                let source = plan
                    .source
                    .as_ref()
                    .expect("checked when the plan was read");
                let gathered = tokio::select! {
                    r = gather(source, d.as_std()) => r.map_err(Stop::Inconclusive),
                    _ = &mut interrupted => Err(Stop::Interrupted),
                };
                match gathered {
                    Err(s) => Err(s),
                    Ok((base, canary, span, sides)) => {
                        let j = probity_core::judge::judge(&base, &canary, &plan.settings);
                        let mut record = VerdictRecord::new(
                            jiff::Timestamp::now().as_millisecond(),
                            sides,
                            span,
                            &j,
                        );
                        record.gate = Some(plan.name.clone());
                        record.step = Some(n as u32);
                        match store.append_evidence(&[verdict_record(&record)]) {
                            Ok(leaf) => report.evidence_leaf = Some(leaf),
                            Err(e) => eprintln!("the verdict could not be recorded: {e}"),
                        }
                        report.detail = format!("analysis {d}: {}", j.summary);
                        let r = match j.verdict {
                            Verdict::Pass => Ok(()),
                            Verdict::Fail => Err(Stop::Fail(j.summary.clone())),
                            Verdict::Inconclusive => Err(Stop::Inconclusive(j.summary.clone())),
                        };
                        samples.push((
                            format!("Step {n}: analysis over {d}"),
                            base,
                            canary,
                            j.clone(),
                        ));
                        report.judgement = Some(j);
                        r
                    }
                }
            }
        };
        report.seconds = started.elapsed().as_secs_f64();
        report.ok = outcome.is_ok();
        if let Err(Stop::Interrupted) = &outcome {
            report.detail.push_str(" (interrupted)");
        }
        eprintln!(
            "step {n}/{total}: {} {}",
            report.detail,
            if report.ok { "ok" } else { "— stop" }
        );
        steps.push(report);
        if let Err(s) = outcome {
            stop = Some(s);
            break;
        }
    }
    let (outcome, reason, roll) = match stop {
        None => {
            let reason = match &plan.promote {
                None => "every step passed".to_string(),
                Some(a) => match perform(a, plan, total, Some(100)).await {
                    Ok(()) => "every step passed; the promote action ran".into(),
                    Err(e) => format!("every step passed; the promote action failed: {e}"),
                },
            };
            (Outcome::Promoted, reason, false)
        }
        Some(Stop::Fail(why)) => (Outcome::RolledBack, why, true),
        Some(Stop::Interrupted) => (
            Outcome::RolledBack,
            "interrupted (a signal): rolled back".into(),
            true,
        ),
        Some(Stop::Inconclusive(why)) => (
            Outcome::Inconclusive,
            why,
            plan.on_inconclusive == OnInconclusive::Rollback,
        ),
    };
    let rollback = if roll {
        Some(match &plan.rollback {
            None => "none configured (the plan has no [rollback])".to_string(),
            Some(a) => match perform(a, plan, total, Some(0)).await {
                Ok(()) => "ran".to_string(),
                Err(e) => format!("FAILED: {e}"),
            },
        })
    } else if outcome == Outcome::Inconclusive {
        Some("held (on_inconclusive = \"hold\"): traffic left where it is".into())
    } else {
        None
    };
    Report {
        plan: plan.name.clone(),
        outcome,
        reason,
        rollback,
        steps,
    }
}

/// Waits (up to the plan's `[weather] wait`) for nothing to stand in the way.
async fn wait_for_weather(
    config: &Config,
    plan: &Plan,
    store: &dyn probity_engine::store::Store,
) -> Result<(), Stop> {
    let until = tokio::time::Instant::now() + plan.weather_wait.as_std();
    loop {
        let found = super::blockers(
            config,
            store,
            &plan.weather_services,
            &plan.weather_providers,
        )
        .map_err(|e| Stop::Inconclusive(format!("the weather could not be read: {e}")))?;
        if found.1.is_empty() {
            return Ok(());
        }
        if tokio::time::Instant::now() >= until {
            let what: Vec<String> = found
                .1
                .iter()
                .map(|b| format!("{}: {}", b.kind, b.what))
                .collect();
            return Err(Stop::Inconclusive(format!("not now: {}", what.join("; "))));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// Samples for one analysis of `duration`, the span they cover, and how each side is named
/// in the record.
async fn gather(
    source: &PlanSource,
    duration: Duration,
) -> Result<
    (
        Samples,
        Samples,
        (Option<i64>, Option<i64>),
        (String, String),
    ),
    String,
> {
    let now = || jiff::Timestamp::now().as_millisecond();
    match source {
        PlanSource::Probes {
            baseline,
            canary,
            every,
        } => {
            let from = now();
            let (b, c) = gate::probe_both(baseline, canary, duration, every.as_std(), |_| {}).await;
            Ok((
                b,
                c,
                (Some(from), Some(now())),
                (gate::display_url(baseline), gate::display_url(canary)),
            ))
        }
        PlanSource::Prometheus {
            server,
            baseline,
            canary,
            step,
        } => {
            // The interval is lived through first, then read back whole.
            tokio::time::sleep(duration).await;
            let to = now();
            let from = to - duration.as_millis() as i64;
            let client = probity_ground::http_client::client(
                probity_ground::http_client::Purpose::Gate,
                Some(Duration::from_secs(30)),
            )
            .map_err(|e| e.to_string())?;
            let b = gate::prometheus(&client, server, baseline, (from, to), step.as_std()).await?;
            let c = gate::prometheus(&client, server, canary, (from, to), step.as_std()).await?;
            Ok((
                b,
                c,
                (Some(from), Some(to)),
                (format!("promql:{baseline}"), format!("promql:{canary}")),
            ))
        }
        PlanSource::Files { baseline, canary } => {
            tokio::time::sleep(duration).await;
            let b = gate::read_samples(baseline)?;
            let c = gate::read_samples(canary)?;
            let name = |p: &std::path::Path| {
                format!(
                    "file:{}",
                    p.file_name()
                        .map_or_else(String::new, |f| f.to_string_lossy().into_owned())
                )
            };
            Ok((b, c, (None, None), (name(baseline), name(canary))))
        }
    }
}

/// Runs a command (argv; `{weight}` replaced; `PROBITY_PLAN`, `PROBITY_STEP` and
/// `PROBITY_WEIGHT` set) or POSTs `{"plan", "step", "weight"}` to a webhook (any 2xx is
/// success). Bounded: a command gets 5 minutes, a webhook 30 seconds.
async fn perform(
    action: &Action,
    plan: &Plan,
    step: usize,
    weight: Option<u32>,
) -> Result<(), String> {
    let w = weight.map(|w| w.to_string()).unwrap_or_default();
    match action {
        Action::Command(argv) => {
            let args: Vec<String> = argv.iter().map(|a| a.replace("{weight}", &w)).collect();
            let mut cmd = tokio::process::Command::new(&args[0]);
            cmd.args(&args[1..])
                .env("PROBITY_PLAN", &plan.name)
                .env("PROBITY_STEP", step.to_string())
                .env("PROBITY_WEIGHT", &w)
                .stdin(std::process::Stdio::null())
                .kill_on_drop(true);
            let out = tokio::time::timeout(Duration::from_secs(300), cmd.output())
                .await
                .map_err(|_| format!("`{}` ran past 5 minutes", args[0]))?
                .map_err(|e| format!("`{}` could not start: {e}", args[0]))?;
            // The command's own output goes to standard error: standard output is the report.
            use std::io::Write;
            let _ = std::io::stderr().write_all(&out.stdout);
            let _ = std::io::stderr().write_all(&out.stderr);
            if out.status.success() {
                Ok(())
            } else {
                Err(format!("`{}` exited with {}", args[0], out.status))
            }
        }
        Action::Webhook(url) => {
            let client = probity_ground::http_client::client(
                probity_ground::http_client::Purpose::Gate,
                Some(Duration::from_secs(30)),
            )
            .map_err(|e| e.to_string())?;
            let shown = gate::display_url(url);
            let resp = client
                .post(url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(
                    serde_json::json!({"plan": plan.name, "step": step, "weight": weight})
                        .to_string(),
                )
                .send()
                .await
                .map_err(|e| format!("{shown}: {}", probity_ground::http_client::describe(e)))?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(format!("{shown} answered HTTP {}", resp.status()))
            }
        }
    }
}
