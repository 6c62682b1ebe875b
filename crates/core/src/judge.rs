//! The canary judge: is a canary's behaviour worse than its baseline's? Pure statistics
//! over two samples, after Kayenta's NetflixACAJudge (a Mann–Whitney U test per metric, a
//! classification High / Low / Pass / NoData, a weighted score against `pass` and
//! `marginal` thresholds), and beyond it where its users hurt: a sample too small to
//! detect the effect that matters is *underpowered*, not a pass; error counts, mostly
//! zero, get Fisher's exact test instead of ranks; tails are compared (how many canary
//! samples pass the baseline's 95th percentile), not only the median shift.

use serde::Serialize;

/// The standard normal distribution function.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The complementary error function (Numerical Recipes' Chebyshev fit, relative error
/// under 1.2e-7 everywhere).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

/// The standard normal quantile (Acklam's rational approximation, refined by one Newton
/// step; error under 1e-9).
pub fn normal_quantile(p: f64) -> f64 {
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let x = if p < 0.02425 {
        let q = (-2.0 * p.ln()).sqrt();
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else if p > 1.0 - 0.02425 {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -(((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // One Newton step on Φ(x) = p.
    let e = normal_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// A Mann–Whitney U test of `y` (the experiment, the canary) against `x` (the control).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MannWhitney {
    /// U of `x`, as R's `wilcox.test(x, y)` reports it (`W`).
    pub w: f64,
    /// The one-sided p-value that `y` is larger than `x`.
    pub p_greater: f64,
    /// The one-sided p-value that `y` is smaller than `x`.
    pub p_less: f64,
    /// Whether the exact distribution was used (no ties, both samples under 50).
    pub exact: bool,
}

/// Midranks of `v` (1-based; ties share the mean of their ranks) and Σ(t³ − t) over tie
/// groups.
fn ranks(v: &[f64]) -> (Vec<f64>, f64) {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
    let mut r = vec![0.0; v.len()];
    let mut ties = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
            j += 1;
        }
        let mid = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            r[k] = mid;
        }
        let t = (j - i + 1) as f64;
        ties += t * t * t - t;
        i = j + 1;
    }
    (r, ties)
}

/// P(U ≤ u) for U of a sample of `m` against one of `n`, no ties: counts of arrangements by
/// the recurrence f(u; m, n) = f(u − n; m − 1, n) + f(u; m, n − 1).
fn exact_cdf(m: usize, n: usize, u: usize) -> f64 {
    // counts[j][k]: arrangements of j (of the first sample) and the current n giving U = k.
    let max = m * n;
    let mut prev: Vec<Vec<f64>> = (0..=m)
        .map(|j| {
            let mut c = vec![0.0; max + 1];
            if j == 0 {
                c[0] = 1.0;
            } else {
                c[0] = 1.0; // n = 0: only U = 0
            }
            c
        })
        .collect();
    for nn in 1..=n {
        let mut cur: Vec<Vec<f64>> = vec![vec![0.0; max + 1]; m + 1];
        cur[0][0] = 1.0;
        for j in 1..=m {
            for k in 0..=j * nn {
                let a = if k >= nn { cur[j - 1][k - nn] } else { 0.0 };
                let b = prev[j][k];
                cur[j][k] = a + b;
            }
        }
        prev = cur;
    }
    let counts = &prev[m];
    let total: f64 = counts.iter().sum();
    counts[..=u.min(max)].iter().sum::<f64>() / total
}

/// The Mann–Whitney U test, exact when there are no ties and both samples are under 50 (as
/// R does), otherwise the normal approximation with the tie correction and R's continuity
/// correction.
pub fn mann_whitney(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    let (m, n) = (x.len(), y.len());
    if m == 0 || n == 0 {
        return None;
    }
    let all: Vec<f64> = x.iter().chain(y).copied().collect();
    let (r, ties) = ranks(&all);
    let rx: f64 = r[..m].iter().sum();
    let w = rx - (m * (m + 1)) as f64 / 2.0;
    let mn = (m * n) as f64;
    if ties == 0.0 && m < 50 && n < 50 {
        // W (U of x) small means x is small, so y larger.
        let wu = w.round() as usize;
        let p_greater = exact_cdf(m, n, wu);
        let p_less = 1.0
            - if wu == 0 {
                0.0
            } else {
                exact_cdf(m, n, wu - 1)
            };
        return Some(MannWhitney {
            w,
            p_greater,
            p_less,
            exact: true,
        });
    }
    let nn = (m + n) as f64;
    let sigma = (mn / 12.0 * ((nn + 1.0) - ties / (nn * (nn - 1.0)))).sqrt();
    if sigma == 0.0 {
        return Some(MannWhitney {
            w,
            p_greater: 1.0,
            p_less: 1.0,
            exact: false,
        });
    }
    let d = w - mn / 2.0;
    // y larger ⇔ W small: P(W ≤ w) with the continuity correction.
    let p_greater = normal_cdf((d + 0.5) / sigma);
    let p_less = 1.0 - normal_cdf((d - 0.5) / sigma);
    Some(MannWhitney {
        w,
        p_greater,
        p_less,
        exact: false,
    })
}

/// The Hodges–Lehmann estimate of the shift `y − x` (the median of all pairwise
/// differences) and its confidence interval at `confidence` (by the normal approximation
/// of the order statistics the U distribution picks). Large samples are thinned evenly
/// (each sorted sample to at most 2,000 values), which keeps the estimate's meaning.
pub fn hodges_lehmann(x: &[f64], y: &[f64], confidence: f64) -> Option<(f64, f64, f64)> {
    if x.is_empty() || y.is_empty() {
        return None;
    }
    let thin = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        if s.len() <= 2000 {
            return s;
        }
        let step = s.len() as f64 / 2000.0;
        (0..2000).map(|i| s[(i as f64 * step) as usize]).collect()
    };
    let (x, y) = (thin(x), thin(y));
    let mut d: Vec<f64> = Vec::with_capacity(x.len() * y.len());
    for b in &y {
        for a in &x {
            d.push(b - a);
        }
    }
    d.sort_by(f64::total_cmp);
    let k = d.len();
    let median = if k % 2 == 1 {
        d[k / 2]
    } else {
        (d[k / 2 - 1] + d[k / 2]) / 2.0
    };
    let (m, n) = (x.len() as f64, y.len() as f64);
    let z = normal_quantile(1.0 - (1.0 - confidence) / 2.0);
    let c = (m * n / 2.0 - z * (m * n * (m + n + 1.0) / 12.0).sqrt()).floor();
    let c = (c.max(0.0) as usize).min(k - 1);
    Some((median, d[c], d[k - 1 - c]))
}

/// P(X ≥ k) for X ~ Binomial(n, p).
pub fn binomial_upper(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n {
        return 0.0;
    }
    let ln =
        |i: u64| -> f64 { ln_choose(n, i) + i as f64 * p.ln() + (n - i) as f64 * (1.0 - p).ln() };
    (k..=n).map(|i| ln(i).exp()).sum::<f64>().min(1.0)
}

/// ln n!: exact sums up to 30, Stirling's series beyond (error under 1e-12).
fn ln_factorial(n: u64) -> f64 {
    if n <= 30 {
        return (1..=n).map(|i| (i as f64).ln()).sum();
    }
    let x = n as f64;
    x * x.ln() - x + 0.5 * (2.0 * std::f64::consts::PI * x).ln() + 1.0 / (12.0 * x)
        - 1.0 / (360.0 * x.powi(3))
        + 1.0 / (1260.0 * x.powi(5))
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k)
}

/// Fisher's exact test, one-sided: the probability of the canary having at least
/// `canary_errors` of the errors, given both samples' totals, if both had the same rate.
pub fn fisher_greater(base_errors: u64, base_n: u64, canary_errors: u64, canary_n: u64) -> f64 {
    let errors = base_errors + canary_errors;
    let total = base_n + canary_n;
    let top = errors.min(canary_n);
    let ln_all = ln_choose(total, canary_n);
    (canary_errors..=top)
        .map(|k| (ln_choose(errors, k) + ln_choose(total - errors, canary_n - k) - ln_all).exp())
        .sum::<f64>()
        .min(1.0)
}

/// One side's samples: latencies (ms) of the requests that succeeded, and counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Samples {
    pub latencies_ms: Vec<f64>,
    pub ok: u64,
    pub errors: u64,
}

impl Samples {
    pub fn push(&mut self, latency_ms: Option<f64>, ok: bool) {
        if ok {
            self.ok += 1;
            if let Some(l) = latency_ms.filter(|l| l.is_finite()) {
                self.latencies_ms.push(l);
            }
        } else {
            self.errors += 1;
        }
    }
    pub fn total(&self) -> u64 {
        self.ok + self.errors
    }
    /// Latencies alone, from a source that counts no outcomes (a Prometheus query): the
    /// error rate is then `no_data`, not a pass.
    pub fn latency_only(latencies_ms: Vec<f64>) -> Self {
        Samples {
            latencies_ms: latencies_ms.into_iter().filter(|l| l.is_finite()).collect(),
            ok: 0,
            errors: 0,
        }
    }
}

/// The most samples a file or body of samples may hold (a million a side is hours of
/// probing at a sample a second per instance; beyond it the input is not a sample).
pub const MAX_SAMPLES: usize = 1_000_000;

/// A line of samples that does not read: its 1-based line number and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleError {
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for SampleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.line, self.message)
    }
}

/// Reads samples written as CSV with the header `latency_ms,ok` (one sample a line, `ok`
/// is `true` or `false`, an empty latency for a failure that has none), or as JSON lines
/// `{"latency_ms": 12.5, "ok": true}`. Blank lines are skipped; the first line that does
/// not read is the error; more than [`MAX_SAMPLES`] samples is an error.
pub fn parse_samples(text: &str) -> Result<Samples, SampleError> {
    let err = |line: usize, message: String| SampleError { line, message };
    let mut s = Samples::default();
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(n, l)| (n + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());
    let Some((first_no, first)) = lines.next() else {
        return Ok(s);
    };
    let mut count = 0usize;
    let mut push = |s: &mut Samples, n: usize, latency: Option<f64>, ok: bool| {
        count += 1;
        if count > MAX_SAMPLES {
            return Err(err(n, format!("more than {MAX_SAMPLES} samples")));
        }
        s.push(latency, ok);
        Ok(())
    };
    let latency_of = |n: usize, v: f64| {
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(err(
                n,
                format!("`latency_ms` {v} is not a number of milliseconds"),
            ))
        }
    };
    if first.starts_with('{') {
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Line {
            #[serde(default)]
            latency_ms: Option<f64>,
            ok: bool,
        }
        for (n, line) in std::iter::once((first_no, first)).chain(lines) {
            let l: Line = serde_json::from_str(line).map_err(|e| err(n, e.to_string()))?;
            let latency = l.latency_ms.map(|v| latency_of(n, v)).transpose()?;
            push(&mut s, n, latency, l.ok)?;
        }
        return Ok(s);
    }
    let header: Vec<String> = first
        .split(',')
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |name: &str| header.iter().position(|h| h == name);
    let (Some(li), Some(oi)) = (col("latency_ms"), col("ok")) else {
        return Err(err(
            first_no,
            "a CSV of samples starts with the header `latency_ms,ok`".into(),
        ));
    };
    for (n, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let ok = match cells.get(oi).copied() {
            Some("true") => true,
            Some("false") => false,
            other => return Err(err(n, format!("`ok` is true or false, not {other:?}"))),
        };
        let latency = match cells.get(li).copied() {
            None | Some("") => None,
            Some(v) => Some(
                v.parse::<f64>()
                    .map_err(|_| {
                        err(
                            n,
                            format!("`latency_ms` {v:?} is not a number of milliseconds"),
                        )
                    })
                    .and_then(|v| latency_of(n, v))?,
            ),
        };
        push(&mut s, n, latency, ok)?;
    }
    Ok(s)
}

/// How one metric compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Pass,
    /// The canary is worse (higher) beyond what is allowed.
    High,
    /// The canary is lower beyond what is allowed (a concern only where lower is bad).
    Low,
    /// A side has no samples.
    NoData,
    /// It passed, but the samples are too few to have seen the effect that matters.
    Underpowered,
}

/// The judge's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// Confidence of each test (Kayenta's judge: 0.98).
    pub confidence: f64,
    /// The relative latency increase that matters (0.2: 20% on the baseline's median): a
    /// shift beyond it fails; samples too few to detect it are underpowered.
    pub latency_increase: f64,
    /// The power a pass needs to count (0.8).
    pub power: f64,
    /// Fewest samples on each side.
    pub min_samples: usize,
    /// Score thresholds (Kayenta's examples: 95 and 75).
    pub pass: f64,
    pub marginal: f64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            confidence: 0.98,
            latency_increase: 0.2,
            power: 0.8,
            min_samples: 20,
            pass: 95.0,
            marginal: 75.0,
        }
    }
}

/// One metric's verdict, explained.
#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct MetricResult {
    pub metric: &'static str,
    pub class: Class,
    /// Whether a High here fails the whole judgement.
    pub critical: bool,
    pub baseline_n: u64,
    pub canary_n: u64,
    /// The baseline's and canary's figure (median latency, error rate, share above the
    /// baseline's p95).
    pub baseline: Option<f64>,
    pub canary: Option<f64>,
    /// The estimated shift (latency: Hodges–Lehmann, ms) and its confidence interval.
    pub shift: Option<f64>,
    pub shift_ci: Option<(f64, f64)>,
    /// The test's p-value that the canary is worse.
    pub p_worse: Option<f64>,
    /// The power to detect the effect that matters (latency).
    pub power: Option<f64>,
    pub why: String,
}

impl MetricResult {
    /// A metric not yet classified (`NoData`), with its counts and each side's figure.
    fn new(
        metric: &'static str,
        critical: bool,
        (baseline_n, canary_n): (u64, u64),
        (baseline, canary): (Option<f64>, Option<f64>),
    ) -> Self {
        MetricResult {
            metric,
            class: Class::NoData,
            critical,
            baseline_n,
            canary_n,
            baseline,
            canary,
            shift: None,
            shift_ci: None,
            p_worse: None,
            power: None,
            why: String::new(),
        }
    }
}

/// The whole judgement.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Pass,
    Fail,
    Inconclusive,
}

#[derive(Clone, Debug, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Judgement {
    pub verdict: Verdict,
    pub score: f64,
    pub metrics: Vec<MetricResult>,
    /// The metric that decided, and in one sentence why.
    pub decided_by: Option<&'static str>,
    pub summary: String,
}

fn median(v: &[f64]) -> Option<f64> {
    quantile(v, 0.5)
}

fn quantile(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let pos = q * (s.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    Some(s[lo] + (s[hi] - s[lo]) * (pos - lo as f64))
}

fn std_dev(v: &[f64]) -> f64 {
    let n = v.len() as f64;
    if n < 2.0 {
        return 0.0;
    }
    let mean = v.iter().sum::<f64>() / n;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// The latency metric: ranks (Mann–Whitney), the Hodges–Lehmann shift, and the power to
/// see the shift that matters.
fn latency(b: &Samples, c: &Samples, s: &Settings) -> MetricResult {
    let (x, y) = (&b.latencies_ms, &c.latencies_ms);
    let mut r = MetricResult::new(
        "latency",
        false,
        (x.len() as u64, y.len() as u64),
        (median(x), median(y)),
    );
    if x.len() < s.min_samples || y.len() < s.min_samples {
        r.why = format!(
            "{} baseline and {} canary latencies; at least {} each are needed",
            x.len(),
            y.len(),
            s.min_samples
        );
        return r;
    }
    let Some(mw) = mann_whitney(x, y) else {
        return r;
    };
    let (hl, lo, hi) = hodges_lehmann(x, y, s.confidence).unwrap_or((0.0, 0.0, 0.0));
    let base_median = r.baseline.unwrap_or(0.0);
    let matters = s.latency_increase * base_median.abs();
    // Power to detect a shift of `matters`, by the t-test's power scaled by the U test's
    // asymptotic relative efficiency (3/π).
    let sd = ((std_dev(x).powi(2) + std_dev(y).powi(2)) / 2.0).sqrt();
    let (m, n) = (x.len() as f64, y.len() as f64);
    let power = if sd == 0.0 {
        1.0
    } else {
        let d = matters / sd;
        normal_cdf(
            d * (3.0 / std::f64::consts::PI).sqrt() * (m * n / (m + n)).sqrt()
                - normal_quantile(s.confidence),
        )
    };
    r.shift = Some(hl);
    r.shift_ci = Some((lo, hi));
    r.p_worse = Some(mw.p_greater);
    r.power = Some(power);
    let alpha = 1.0 - s.confidence;
    // Kayenta's rule (the interval clears a tolerance of the estimate), and the effect
    // that matters: a real but tiny shift is not a regression.
    if mw.p_greater < alpha && lo > 0.25 * hl.abs() && hl > matters {
        r.class = Class::High;
        r.why = format!(
            "the canary is slower by {hl:.1} ms (interval {lo:.1} to {hi:.1} ms, p = {:.2e}), over the {:.0}% of the baseline's median that matters",
            mw.p_greater,
            s.latency_increase * 100.0
        );
    } else if power < s.power {
        r.class = Class::Underpowered;
        r.why = format!(
            "no regression seen, but {} and {} samples have only {:.0}% power to see a {:.0}% slowdown",
            x.len(),
            y.len(),
            power * 100.0,
            s.latency_increase * 100.0
        );
    } else {
        r.class = Class::Pass;
        r.why =
            format!("shift {hl:.1} ms (interval {lo:.1} to {hi:.1} ms): within what is allowed");
    }
    r
}

/// The tail: the share of each side's latencies above the two samples' pooled 95th
/// percentile, compared by Fisher's exact test (with no change both shares are alike; a
/// canary whose slow tail grew has more), so a shift of the tail is seen even when the
/// median does not move.
fn tail(b: &Samples, c: &Samples, s: &Settings) -> MetricResult {
    let (x, y) = (&b.latencies_ms, &c.latencies_ms);
    let mut r = MetricResult::new(
        "latency_p95",
        false,
        (x.len() as u64, y.len() as u64),
        (quantile(x, 0.95), quantile(y, 0.95)),
    );
    if x.len() < s.min_samples || y.len() < s.min_samples {
        r.why = "too few latencies for the tail".into();
        return r;
    }
    let pooled: Vec<f64> = x.iter().chain(y).copied().collect();
    let p95 = quantile(&pooled, 0.95).unwrap_or(f64::INFINITY);
    let above = |v: &[f64]| v.iter().filter(|l| **l > p95).count() as u64;
    let (ab, ac) = (above(x), above(y));
    let p = fisher_greater(ab, x.len() as u64, ac, y.len() as u64);
    r.p_worse = Some(p);
    let (sb, sc) = (ab as f64 / x.len() as f64, ac as f64 / y.len() as f64);
    if p < 1.0 - s.confidence && sc > sb * (1.0 + s.latency_increase) {
        r.class = Class::High;
        r.why = format!(
            "{:.1}% of the canary's latencies are above the pooled p95 ({p95:.1} ms) against the baseline's {:.1}% (p = {p:.2e})",
            sc * 100.0,
            sb * 100.0
        );
    } else {
        r.class = Class::Pass;
        r.why = format!(
            "{:.1}% of the canary's latencies above the pooled p95 ({p95:.1} ms), the baseline's {:.1}%",
            sc * 100.0,
            sb * 100.0
        );
    }
    r
}

/// Errors: Fisher's exact test on the two error counts (mostly zeros, where ranks say
/// nothing). Critical: a canary that fails more fails the judgement.
fn errors(b: &Samples, c: &Samples, s: &Settings) -> MetricResult {
    let rate = |x: &Samples| (x.total() > 0).then(|| x.errors as f64 / x.total() as f64);
    let mut r = MetricResult::new(
        "error_rate",
        true,
        (b.total(), c.total()),
        (rate(b), rate(c)),
    );
    if b.total() == 0 && c.total() == 0 && !b.latencies_ms.is_empty() {
        r.why = "the source counts no requests (latencies only)".into();
        return r;
    }
    if (b.total() as usize) < s.min_samples || (c.total() as usize) < s.min_samples {
        r.why = format!(
            "{} baseline and {} canary requests; at least {} each are needed",
            b.total(),
            c.total(),
            s.min_samples
        );
        return r;
    }
    let p = fisher_greater(b.errors, b.total(), c.errors, c.total());
    r.p_worse = Some(p);
    let (rb, rc) = (r.baseline.unwrap_or(0.0), r.canary.unwrap_or(0.0));
    if p < 1.0 - s.confidence && rc > rb {
        r.class = Class::High;
        r.why = format!(
            "the canary failed {} of {} ({:.2}%) against the baseline's {} of {} ({:.2}%), p = {p:.2e}",
            c.errors,
            c.total(),
            rc * 100.0,
            b.errors,
            b.total(),
            rb * 100.0
        );
    } else {
        r.class = Class::Pass;
        r.why = format!(
            "{:.2}% errors against the baseline's {:.2}%",
            rc * 100.0,
            rb * 100.0
        );
    }
    r
}

/// Judges `canary` against `baseline`: error rate (critical), latency (median shift) and
/// latency tail, scored as Kayenta scores (equal weights).
pub fn judge(baseline: &Samples, canary: &Samples, s: &Settings) -> Judgement {
    let metrics = vec![
        errors(baseline, canary, s),
        latency(baseline, canary, s),
        tail(baseline, canary, s),
    ];
    let counted: Vec<&MetricResult> = metrics
        .iter()
        .filter(|m| m.class != Class::NoData)
        .collect();
    let nodata = metrics.len() - counted.len();
    let critical = metrics
        .iter()
        .find(|m| m.critical && matches!(m.class, Class::High | Class::Low));
    let score = if critical.is_some() || nodata * 2 >= metrics.len() {
        0.0
    } else {
        let pass = counted
            .iter()
            .filter(|m| matches!(m.class, Class::Pass | Class::Underpowered))
            .count();
        (100.0 * pass as f64 / counted.len().max(1) as f64 * 100.0).round() / 100.0
    };
    let worst = critical.or_else(|| {
        metrics
            .iter()
            .find(|m| matches!(m.class, Class::High | Class::Low))
    });
    let underpowered = metrics.iter().find(|m| m.class == Class::Underpowered);
    let (verdict, decided_by, summary) = if let Some(m) = critical {
        (
            Verdict::Fail,
            Some(m.metric),
            format!("roll back: {}", m.why),
        )
    } else if nodata * 2 >= metrics.len() {
        let m = metrics.iter().find(|m| m.class == Class::NoData);
        (
            Verdict::Inconclusive,
            m.map(|m| m.metric),
            format!("inconclusive: {}", m.map_or("no data", |m| m.why.as_str())),
        )
    } else if score < s.marginal {
        let m = worst.unwrap_or(&metrics[0]);
        (
            Verdict::Fail,
            Some(m.metric),
            format!("roll back (score {score}): {}", m.why),
        )
    } else if score < s.pass {
        let m = worst.unwrap_or(&metrics[0]);
        (
            Verdict::Inconclusive,
            Some(m.metric),
            format!("marginal (score {score}): {}", m.why),
        )
    } else if let Some(m) = underpowered {
        (
            Verdict::Inconclusive,
            Some(m.metric),
            format!("inconclusive: {}", m.why),
        )
    } else {
        (
            Verdict::Pass,
            None,
            format!("promote (score {score}): no metric is worse"),
        )
    };
    Judgement {
        verdict,
        score,
        metrics,
        decided_by,
        summary,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_read_from_csv_and_json_lines() {
        let csv = parse_samples("latency_ms,ok\n12.5,true\n\n,false\n30,true\n").unwrap();
        assert_eq!(csv.latencies_ms, vec![12.5, 30.0]);
        assert_eq!((csv.ok, csv.errors), (2, 1));
        // Columns in any order, header in any case.
        let swapped = parse_samples("OK,Latency_ms\ntrue,7\n").unwrap();
        assert_eq!(swapped.latencies_ms, vec![7.0]);
        let json =
            parse_samples("{\"latency_ms\": 12.5, \"ok\": true}\n{\"ok\": false}\n").unwrap();
        assert_eq!((json.ok, json.errors, json.latencies_ms.len()), (1, 1, 1));
        assert_eq!(parse_samples("").unwrap(), Samples::default());
    }

    #[test]
    fn a_bad_sample_line_is_named() {
        let e = parse_samples("latency_ms,ok\n1,true\n2,yes\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("true or false"), "{e}");
        let e = parse_samples("latency_ms,ok\n-4,true\n").unwrap_err();
        assert_eq!(e.line, 2);
        let e = parse_samples("when,ok\n").unwrap_err();
        assert_eq!((e.line, e.message.contains("latency_ms,ok")), (1, true));
        let e = parse_samples("{\"ok\": true}\n{\"ok\": true, \"extra\": 1}\n").unwrap_err();
        assert_eq!(e.line, 2);
        let many = format!("latency_ms,ok\n{}", "1,true\n".repeat(MAX_SAMPLES + 1));
        let e = parse_samples(&many).unwrap_err();
        assert_eq!(e.line, MAX_SAMPLES + 2);
    }

    #[test]
    fn latencies_alone_leave_the_error_rate_without_data() {
        let b = Samples::latency_only((0..40).map(|i| 100.0 + (i % 7) as f64).collect());
        let c = Samples::latency_only((0..40).map(|i| 100.0 + (i % 5) as f64).collect());
        let j = judge(&b, &c, &Settings::default());
        let e = j.metrics.iter().find(|m| m.metric == "error_rate").unwrap();
        assert_eq!(e.class, Class::NoData);
        assert!(e.why.contains("latencies only"), "{}", e.why);
        assert_ne!(j.verdict, Verdict::Fail);
    }

    /// R's `?wilcox.test` two-sample example (Hollander & Wolfe, permeability constants):
    /// W = 35, and the exact one-sided p-value for x greater than y is 0.1272.
    #[test]
    fn matches_r_wilcox_test_exact() {
        let x = [0.80, 0.83, 1.89, 1.04, 1.45, 1.38, 1.91, 1.64, 0.73, 1.46];
        let y = [1.15, 0.88, 0.90, 0.74, 1.21];
        let r = mann_whitney(&x, &y).unwrap();
        assert!(r.exact);
        assert_eq!(r.w, 35.0);
        // "x greater" is "y smaller".
        assert!((r.p_less - 0.1272).abs() < 5e-4, "{r:?}");
    }

    /// With ties, the normal approximation with R's tie and continuity corrections: for
    /// c(1,2,2,3,4,5) against c(2,3,3,4,6,7,8), W = 10.5 and the two-sided p-value 0.1480
    /// (worked by hand from `wilcox.test`'s formula).
    #[test]
    fn matches_r_with_ties() {
        let x = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0];
        let y = [2.0, 3.0, 3.0, 4.0, 6.0, 7.0, 8.0];
        let r = mann_whitney(&x, &y).unwrap();
        assert!(!r.exact);
        assert_eq!(r.w, 10.5);
        let two_sided = 2.0 * r.p_greater.min(r.p_less);
        assert!((two_sided - 0.1480).abs() < 5e-4, "{r:?} {two_sided}");
    }

    #[test]
    fn the_normal_functions_are_right() {
        assert!((normal_cdf(1.959_963_985) - 0.975).abs() < 1e-7);
        assert!((normal_quantile(0.99) - 2.326_347_874).abs() < 1e-7);
        assert!((normal_quantile(0.01) + 2.326_347_874).abs() < 1e-7);
    }

    /// Fisher's exact test, one-sided: 0 of 100 against 5 of 100 gives 0.02969 (the
    /// hypergeometric tail, C(5,5)·C(195,95)/C(200,100)).
    #[test]
    fn fisher_matches_r() {
        let p = fisher_greater(0, 100, 5, 100);
        assert!((p - 0.029_69).abs() < 1e-5, "{p}");
        assert_eq!(fisher_greater(0, 100, 0, 100), 1.0);
    }

    /// A fixed-seed stream of numbers (xorshift), for the simulations.
    struct Rng(u64);
    impl Rng {
        fn uniform(&mut self) -> f64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }
        /// Log-normal latencies around `median` ms.
        fn latency(&mut self, median: f64) -> f64 {
            let z = normal_quantile(self.uniform().clamp(1e-9, 1.0 - 1e-9));
            median * (0.3 * z).exp()
        }
    }

    fn sample(rng: &mut Rng, n: usize, median: f64, error_rate: f64) -> Samples {
        let mut s = Samples::default();
        for _ in 0..n {
            let ok = rng.uniform() >= error_rate;
            s.push(Some(rng.latency(median)), ok);
        }
        s
    }

    /// Identical distributions pass nearly always (at about the confidence level); a 20%
    /// regression with enough samples fails; too few samples is inconclusive.
    #[test]
    fn by_simulation() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let s = Settings::default();
        let mut passed = 0;
        for _ in 0..100 {
            let b = sample(&mut rng, 300, 100.0, 0.01);
            let c = sample(&mut rng, 300, 100.0, 0.01);
            if judge(&b, &c, &s).verdict == Verdict::Pass {
                passed += 1;
            }
        }
        // Three tests at 98% each: about 94% of identical pairs pass.
        assert!(passed >= 88, "{passed} of 100 identical pairs passed");
        let mut failed = 0;
        for _ in 0..30 {
            let b = sample(&mut rng, 300, 100.0, 0.01);
            let c = sample(&mut rng, 300, 130.0, 0.01);
            if judge(&b, &c, &s).verdict == Verdict::Fail {
                failed += 1;
            }
        }
        assert!(
            failed >= 29,
            "{failed} of 30 regressions (30% slower) failed"
        );
        // Errors: 1% against 6%, critical.
        let b = sample(&mut rng, 500, 100.0, 0.01);
        let c = sample(&mut rng, 500, 100.0, 0.06);
        let j = judge(&b, &c, &s);
        assert_eq!(j.verdict, Verdict::Fail, "{j:#?}");
        assert_eq!(j.decided_by, Some("error_rate"));
        // Too few samples.
        let b = sample(&mut rng, 8, 100.0, 0.0);
        let c = sample(&mut rng, 8, 100.0, 0.0);
        assert_eq!(judge(&b, &c, &s).verdict, Verdict::Inconclusive);
        // Enough to count, too few to see a 20% slowdown in noisy data.
        let mut noisy = |n: usize| {
            let mut s = Samples::default();
            for _ in 0..n {
                s.push(Some(rng.latency(100.0) * (1.0 + 3.0 * rng.uniform())), true);
            }
            s
        };
        let (b, c) = (noisy(25), noisy(25));
        let j = judge(&b, &c, &s);
        let lat = j.metrics.iter().find(|m| m.metric == "latency").unwrap();
        assert_eq!(lat.class, Class::Underpowered, "{lat:#?}");
        assert_eq!(j.verdict, Verdict::Inconclusive, "{j:#?}");
    }
}
