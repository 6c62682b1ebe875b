//! The deployment gate: `[[gate]]` tables (two targets the server judges on request, for
//! Argo Rollouts and Flagger) and rollout plans (`probity gate run --plan PLAN.toml`, a
//! file of its own, read with the same checker so its problems carry line and column).

use super::common::*;
use super::{ConfigErrors, Target};
use probity_core::duration::HumanDuration;
use probity_core::judge::Settings;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use toml::Spanned;
use toml::de::DeTable;

/// The judge's settings as written (in `[[gate]]` and a plan's `[judge]`).
#[derive(Deserialize, schemars::JsonSchema, Default)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "JudgeSettings")]
pub(super) struct JudgeToml {
    /// The relative latency increase that matters (0.2 is 20%).
    #[schemars(with = "Option<f64>")]
    latency_increase: Option<Spanned<f64>>,
    /// Fewest samples on each side.
    #[schemars(with = "Option<u32>")]
    min_samples: Option<Spanned<i64>>,
    /// The score a pass needs (0 to 100).
    #[schemars(with = "Option<f64>")]
    pass: Option<Spanned<f64>>,
    /// The score under which the canary fails.
    #[schemars(with = "Option<f64>")]
    marginal: Option<Spanned<f64>>,
}

impl JudgeToml {
    /// The settings, each value checked.
    pub(super) fn settings(&self, ck: &mut Checker<'_>, ctx: &str) -> Settings {
        let mut s = Settings::default();
        if let Some(v) = &self.latency_increase {
            if !(*v.get_ref() > 0.0 && *v.get_ref() <= 10.0) {
                ck.at(
                    v.span(),
                    format!("{ctx}: `latency_increase` is a share above 0, such as 0.2 (20%)"),
                );
            }
            s.latency_increase = *v.get_ref();
        }
        if let Some(v) = &self.min_samples {
            if !(3..=1_000_000).contains(v.get_ref()) {
                ck.at(v.span(), format!("{ctx}: `min_samples` is 3 to 1000000"));
            }
            s.min_samples = (*v.get_ref()).clamp(3, 1_000_000) as usize;
        }
        for (v, what) in [(&self.pass, "pass"), (&self.marginal, "marginal")] {
            if let Some(v) = v
                && !(0.0..=100.0).contains(v.get_ref())
            {
                ck.at(
                    v.span(),
                    format!("{ctx}: `{what}` is a score from 0 to 100"),
                );
            }
        }
        s.pass = self.pass.as_ref().map_or(s.pass, |v| *v.get_ref());
        s.marginal = self.marginal.as_ref().map_or(s.marginal, |v| *v.get_ref());
        if s.marginal > s.pass
            && let Some(v) = self.marginal.as_ref().or(self.pass.as_ref())
        {
            ck.at(
                v.span(),
                format!(
                    "{ctx}: `marginal` ({}) is above `pass` ({})",
                    s.marginal, s.pass
                ),
            );
        }
        s
    }
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Gate")]
pub(super) struct GateToml {
    /// The gate's name (what a rollout tool names in its request).
    #[schemars(with = "String")]
    pub(super) name: Spanned<String>,
    /// The baseline target's name.
    #[schemars(with = "String")]
    baseline: Spanned<String>,
    /// The canary target's name.
    #[schemars(with = "String")]
    canary: Spanned<String>,
    /// How far back a judgement looks (default 5m).
    #[schemars(with = "Option<DurationSchema>")]
    window: Option<Spanned<HumanDuration>>,
    #[serde(default)]
    judge: JudgeToml,
}

impl NamedTable for GateToml {
    fn name(&self) -> &Spanned<String> {
        &self.name
    }
}

/// A gate the server judges on request (`POST /api/v1/gate/judge`): the results of two
/// targets over the last `window`.
#[derive(Clone, Debug)]
pub struct GateConfig {
    pub name: String,
    pub baseline: String,
    pub canary: String,
    pub window: HumanDuration,
    pub settings: Settings,
}

pub(super) fn build_gate(
    ck: &mut Checker<'_>,
    raw: GateToml,
    targets: &[Target],
) -> Option<GateConfig> {
    let before = ck.problems.len();
    let name = raw.name.get_ref().clone();
    let ctx = format!("gate `{name}`");
    if name.trim().is_empty() || name.chars().any(char::is_whitespace) || name.len() > 100 {
        ck.at(
            raw.name.span(),
            format!("{ctx}: a gate's name is 1 to 100 characters without spaces"),
        );
    }
    // Both sides name targets, checked (with a suggestion) as every table's names are.
    let sides = [raw.baseline.clone(), raw.canary.clone()];
    super::target::select_targets(
        ck,
        &ctx,
        super::target::Selectors {
            names: &sides,
            tags: &[],
            provider: None,
            service: None,
            region: None,
        },
        targets,
    );
    if raw.baseline.get_ref() == raw.canary.get_ref() {
        ck.at(
            raw.canary.span(),
            format!("{ctx}: the canary is the baseline"),
        );
    }
    let window = raw
        .window
        .as_ref()
        .map_or(HumanDuration::from_secs(300), |w| *w.get_ref());
    if let Some(w) = &raw.window
        && !(10_000..=86_400_000).contains(&w.get_ref().as_millis())
    {
        ck.at(w.span(), format!("{ctx}: `window` is 10s to 24h"));
    }
    let settings = raw.judge.settings(ck, &ctx);
    (ck.problems.len() == before).then(|| GateConfig {
        name,
        baseline: raw.baseline.into_inner(),
        canary: raw.canary.into_inner(),
        window,
        settings,
    })
}

// ---- rollout plans ----

/// A command (argv, no shell) or a webhook (POSTed JSON) that a plan runs.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// `{weight}` in an argument is replaced by the step's weight.
    Command(Vec<String>),
    Webhook(String),
}

/// Where an analysis step's samples come from.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanSource {
    /// Probity probes both URLs side by side, one GET each per `every`.
    Probes {
        baseline: String,
        canary: String,
        every: HumanDuration,
    },
    /// A PromQL query per side, read from `server` at `step`.
    Prometheus {
        server: String,
        baseline: String,
        canary: String,
        step: HumanDuration,
    },
    /// Files of samples (read when the step runs, so a pipeline may write them).
    Files { baseline: PathBuf, canary: PathBuf },
}

#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    SetWeight(u32),
    Pause(HumanDuration),
    Analysis(HumanDuration),
}

/// What a plan does when an analysis is inconclusive (or the weather stays bad).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnInconclusive {
    Rollback,
    Hold,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub name: String,
    pub traffic: Option<Action>,
    pub rollback: Option<Action>,
    pub promote: Option<Action>,
    pub source: Option<PlanSource>,
    pub settings: Settings,
    /// Check the provider weather before each step.
    pub require_weather: bool,
    pub weather_services: Vec<String>,
    pub weather_providers: Vec<String>,
    /// How long to wait for bad weather to clear before giving up.
    pub weather_wait: HumanDuration,
    pub on_inconclusive: OnInconclusive,
    pub steps: Vec<Step>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct PlanToml {
    #[schemars(with = "String")]
    name: Spanned<String>,
    #[serde(default)]
    require_weather: bool,
    #[schemars(with = "Option<String>")]
    on_inconclusive: Option<Spanned<String>>,
    traffic: Option<ActionToml>,
    rollback: Option<ActionToml>,
    promote: Option<ActionToml>,
    analysis: Option<AnalysisToml>,
    #[serde(default)]
    judge: JudgeToml,
    weather: Option<WeatherToml>,
    #[schemars(with = "Vec<StepToml>")]
    step: Spanned<Vec<Spanned<StepToml>>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ActionToml {
    #[schemars(with = "Option<Vec<String>>")]
    command: Option<Spanned<Vec<String>>>,
    #[schemars(with = "Option<String>")]
    webhook: Option<Spanned<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct AnalysisToml {
    #[schemars(with = "String")]
    source: Spanned<String>,
    #[schemars(with = "String")]
    baseline: Spanned<String>,
    #[schemars(with = "String")]
    canary: Spanned<String>,
    #[schemars(with = "Option<DurationSchema>")]
    every: Option<Spanned<HumanDuration>>,
    #[schemars(with = "Option<String>")]
    prometheus: Option<Spanned<String>>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct WeatherToml {
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    providers: Vec<String>,
    #[schemars(with = "Option<DurationSchema>")]
    wait: Option<HumanDuration>,
}

#[derive(Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct StepToml {
    set_weight: Option<i64>,
    #[schemars(with = "Option<DurationSchema>")]
    pause: Option<HumanDuration>,
    #[schemars(with = "Option<DurationSchema>")]
    analysis: Option<HumanDuration>,
}

fn action(
    ck: &mut Checker<'_>,
    raw: Option<ActionToml>,
    what: &str,
    base_dir: &Path,
) -> Option<Action> {
    let raw = raw?;
    match (raw.command, raw.webhook) {
        (Some(c), None) => {
            if c.get_ref().is_empty() || c.get_ref()[0].trim().is_empty() {
                ck.at(
                    c.span(),
                    format!(
                        "[{what}] `command` names a program: [\"./shift-traffic\", \"{{weight}}\"]"
                    ),
                );
            }
            Some(Action::Command(c.into_inner()))
        }
        (None, Some(w)) => {
            let url = secret(ck, &w, base_dir, &format!("[{what}]"));
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                ck.at(
                    w.span(),
                    format!("[{what}] `webhook` is an http:// or https:// URL"),
                );
            }
            Some(Action::Webhook(url))
        }
        (Some(c), Some(_)) => {
            ck.at(
                c.span(),
                format!("[{what}] has a `command` or a `webhook`, not both"),
            );
            None
        }
        (None, None) => {
            ck.problems.push((
                0,
                Problem {
                    line: 1,
                    col: 1,
                    message: format!("[{what}] needs a `command` or a `webhook`"),
                    snippet: None,
                },
            ));
            None
        }
    }
}

/// Reads and checks a rollout plan.
pub fn load_plan(path: &Path) -> Result<Plan, ConfigErrors> {
    let file = path.display().to_string();
    let src = std::fs::read_to_string(path).map_err(|e| ConfigErrors {
        file: file.clone(),
        problems: vec![Problem {
            line: 1,
            col: 1,
            message: format!("cannot read the plan: {e}"),
            snippet: None,
        }],
    })?;
    let base = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    parse_plan(&file, &src, base)
}

/// Checks a plan's text; relative file paths are anchored at `base_dir`.
pub fn parse_plan(file: &str, src: &str, base_dir: &Path) -> Result<Plan, ConfigErrors> {
    let mut ck = Checker {
        src,
        problems: Vec::new(),
    };
    let fail = |mut problems: Vec<(usize, Problem)>| {
        problems.sort_by_key(|(o, _)| *o);
        ConfigErrors {
            file: file.to_string(),
            problems: problems.into_iter().map(|(_, p)| p).collect(),
        }
    };
    let root = match DeTable::parse(src) {
        Ok(r) => r,
        Err(e) => {
            ck.toml_error(&e, "syntax error");
            return Err(fail(ck.problems));
        }
    };
    let Some(raw) = read_table::<PlanToml>(&mut ck, root, "the plan") else {
        return Err(fail(ck.problems));
    };
    let name = raw.name.get_ref().clone();
    if name.trim().is_empty() || name.len() > 100 {
        ck.at(raw.name.span(), "the plan's `name` is 1 to 100 characters");
    }
    let on_inconclusive = match raw.on_inconclusive.as_ref().map(|s| s.get_ref().as_str()) {
        None | Some("rollback") => OnInconclusive::Rollback,
        Some("hold") => OnInconclusive::Hold,
        Some(other) => {
            let span = raw.on_inconclusive.as_ref().expect("matched Some").span();
            ck.at(
                span,
                format!("`on_inconclusive` is `rollback` or `hold`, not `{other}`"),
            );
            OnInconclusive::Rollback
        }
    };
    let traffic = action(&mut ck, raw.traffic, "traffic", base_dir);
    let rollback = action(&mut ck, raw.rollback, "rollback", base_dir);
    let promote = action(&mut ck, raw.promote, "promote", base_dir);
    let source = raw.analysis.map(|a| {
        let every = a.every.as_ref().map_or(HumanDuration::from_millis(1000), |e| *e.get_ref());
        if let Some(e) = &a.every
            && e.get_ref().as_millis() < 10
        {
            ck.at(e.span(), "[analysis] `every` is at least 10ms");
        }
        let is_url = |s: &str| s.starts_with("http://") || s.starts_with("https://");
        match a.source.get_ref().as_str() {
            "probes" => {
                for side in [&a.baseline, &a.canary] {
                    if !is_url(side.get_ref()) {
                        ck.at(side.span(), "[analysis] with `source = \"probes\"`, `baseline` and `canary` are http:// or https:// URLs");
                    }
                }
                PlanSource::Probes { baseline: a.baseline.into_inner(), canary: a.canary.into_inner(), every }
            }
            "prometheus" => {
                let server = match &a.prometheus {
                    Some(p) => {
                        let url = secret(&mut ck, p, base_dir, "[analysis]");
                        if !is_url(&url) {
                            ck.at(p.span(), "[analysis] `prometheus` is the server's http:// or https:// base URL");
                        }
                        url
                    }
                    None => {
                        ck.at(a.source.span(), "[analysis] with `source = \"prometheus\"`, `prometheus` names the server (http://127.0.0.1:9090)");
                        String::new()
                    }
                };
                PlanSource::Prometheus { server, baseline: a.baseline.into_inner(), canary: a.canary.into_inner(), step: every }
            }
            "files" => PlanSource::Files {
                baseline: base_dir.join(a.baseline.get_ref()),
                canary: base_dir.join(a.canary.get_ref()),
            },
            other => {
                ck.at(a.source.span(), format!("[analysis] `source` is `probes`, `prometheus` or `files`, not `{other}`"));
                PlanSource::Files { baseline: PathBuf::new(), canary: PathBuf::new() }
            }
        }
    });
    let settings = raw.judge.settings(&mut ck, "[judge]");
    let mut steps = Vec::new();
    for s in raw.step.get_ref() {
        let st = s.get_ref();
        let n = [
            st.set_weight.is_some(),
            st.pause.is_some(),
            st.analysis.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if n != 1 {
            ck.at(s.span(), "each [[step]] is one of `set_weight = 20`, `pause = \"1m\"` or `analysis = \"5m\"`");
            continue;
        }
        if let Some(w) = st.set_weight {
            if !(0..=100).contains(&w) {
                ck.at(
                    s.span(),
                    format!("`set_weight` is a percentage from 0 to 100, not {w}"),
                );
            }
            if traffic.is_none() {
                ck.at(s.span(), "a `set_weight` step needs [traffic] (a `command` or `webhook` that shifts traffic)");
            }
            steps.push(Step::SetWeight(w.clamp(0, 100) as u32));
        } else if let Some(p) = st.pause {
            steps.push(Step::Pause(p));
        } else if let Some(a) = st.analysis {
            if source.is_none() {
                ck.at(
                    s.span(),
                    "an `analysis` step needs [analysis] (where the samples come from)",
                );
            }
            if a.as_millis() < 1000 && !matches!(source, Some(PlanSource::Files { .. })) {
                ck.at(s.span(), "an `analysis` step lasts at least 1s");
            }
            steps.push(Step::Analysis(a));
        }
    }
    if raw.step.get_ref().is_empty() {
        ck.at(raw.step.span(), "a plan has at least one [[step]]");
    }
    let weather = raw.weather;
    if !ck.problems.is_empty() {
        return Err(fail(ck.problems));
    }
    Ok(Plan {
        name,
        traffic,
        rollback,
        promote,
        source,
        settings,
        require_weather: raw.require_weather,
        weather_services: weather
            .as_ref()
            .map(|w| w.services.clone())
            .unwrap_or_default(),
        weather_providers: weather
            .as_ref()
            .map(|w| w.providers.clone())
            .unwrap_or_default(),
        weather_wait: weather
            .and_then(|w| w.wait)
            .unwrap_or(HumanDuration::from_secs(0)),
        on_inconclusive,
        steps,
    })
}
