//! Where a deployment gate's samples come from: probity's own probes of a baseline and a
//! canary URL side by side, a Prometheus server's range query per side, results already
//! stored for two targets, or files. The judge itself is pure (`probity_core::judge`).

use crate::probe::{self, HttpSpec, IpVersion, ProbeContext, ProbeSpec, TlsOptions};
use crate::store::Store;
use probity_core::judge::Samples;
use probity_core::result::Health;
use std::time::Duration;

/// The largest file or Prometheus answer of samples read (64 MiB).
pub const MAX_SAMPLE_BYTES: u64 = 64 << 20;

/// The most stored results read for one side.
pub const MAX_STORED: usize = 200_000;

/// A URL as it may be shown and recorded: scheme, host, port and path, without
/// credentials, query or fragment (where tokens hide).
pub fn display_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_username("");
            let _ = u.set_password(None);
            u.set_query(None);
            u.set_fragment(None);
            u.to_string()
        }
        Err(_) => "(not a URL)".into(),
    }
}

/// Reads a file of samples (`probity_core::judge::parse_samples`), at most
/// [`MAX_SAMPLE_BYTES`]; errors name the file and line.
pub fn read_samples(path: &std::path::Path) -> Result<Samples, String> {
    use std::io::Read;
    let f =
        std::fs::File::open(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    let mut text = String::new();
    f.take(MAX_SAMPLE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
    if text.len() as u64 > MAX_SAMPLE_BYTES {
        return Err(format!(
            "{}: larger than {} MiB; a file of samples is smaller",
            path.display(),
            MAX_SAMPLE_BYTES >> 20
        ));
    }
    probity_core::judge::parse_samples(&text).map_err(|e| format!("{}:{e}", path.display()))
}

/// Probes the two URLs side by side (both at each tick, one GET each on a fresh
/// connection) until `duration` has passed; `tick` is told the seconds elapsed.
pub async fn probe_both(
    baseline: &str,
    canary: &str,
    duration: Duration,
    every: Duration,
    mut tick: impl FnMut(u64),
) -> (Samples, Samples) {
    let spec = |url: &str| {
        ProbeSpec::Http(HttpSpec {
            url: url.to_string(),
            method: "GET".into(),
            headers: Default::default(),
            body: None,
            follow_redirects: false,
            max_redirects: 10,
            ip_version: IpVersion::Any,
            tls: TlsOptions {
                ca_file: None,
                server_name: None,
            },
        })
    };
    let (sb, sc) = (spec(baseline), spec(canary));
    let conditions = probe::default_conditions(sb.kind());
    let ctx = ProbeContext::new();
    let started = tokio::time::Instant::now();
    let until = started + duration;
    let mut interval = tokio::time::interval(every.max(Duration::from_millis(10)));
    let (mut base, mut can) = (Samples::default(), Samples::default());
    while tokio::time::Instant::now() < until {
        interval.tick().await;
        let timeout = Duration::from_secs(10).min(every.max(Duration::from_secs(1)) * 4);
        let (ob, oc) = tokio::join!(
            probe::run(&ctx, &sb, &conditions, timeout),
            probe::run(&ctx, &sc, &conditions, timeout)
        );
        for (o, side) in [(ob, &mut base), (oc, &mut can)] {
            side.push(o.phases.total_ms, o.health == Health::Up);
        }
        tick(started.elapsed().as_secs());
    }
    (base, can)
}

/// The values of a PromQL `query` over `[from_ms, to_ms]` at `step`, every series pooled,
/// as latency samples (the query's unit is the sample's: write it in milliseconds).
pub async fn prometheus(
    client: &reqwest::Client,
    server: &str,
    query: &str,
    (from_ms, to_ms): (i64, i64),
    step: Duration,
) -> Result<Samples, String> {
    let mut url = reqwest::Url::parse(&format!(
        "{}/api/v1/query_range",
        server.trim_end_matches('/')
    ))
    .map_err(|e| format!("the Prometheus URL: {e}"))?;
    let secs = |ms: i64| format!("{:.3}", ms as f64 / 1000.0);
    url.query_pairs_mut()
        .append_pair("query", query)
        .append_pair("start", &secs(from_ms))
        .append_pair("end", &secs(to_ms))
        .append_pair("step", &format!("{:.3}", step.as_secs_f64().max(0.001)));
    let shown = display_url(server);
    let resp = client
        .get(url)
        .send()
        .await
        .map_err(|e| format!("{shown}: {}", probity_ground::http_client::describe(e)))?;
    let status = resp.status();
    let body = probity_ground::http_client::read_limited(resp, MAX_SAMPLE_BYTES as usize)
        .await
        .map_err(|e| match e {
            probity_ground::http_client::Unread::TooLarge(_) => {
                format!("{shown}: the answer is larger than 64 MiB")
            }
            probity_ground::http_client::Unread::Broke(e) => format!("{shown}: {e}"),
        })?;
    if !status.is_success() && status.as_u16() != 400 && status.as_u16() != 422 {
        return Err(format!("{shown} answered HTTP {status}"));
    }
    let series = crate::schedule::sources::parse_matrix(&body)
        .map_err(|e| format!("{shown}, query `{query}`: {e}"))?;
    let values: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .filter(|v| v.is_finite())
        .take(probity_core::judge::MAX_SAMPLES)
        .collect();
    Ok(Samples::latency_only(values))
}

/// The results stored for `target` in `[from_ms, to_ms)`, every vantage pooled; results
/// a vantage could not measure are left out.
pub fn stored(
    store: &dyn Store,
    target: &str,
    from_ms: i64,
    to_ms: i64,
) -> anyhow::Result<Samples> {
    let mut s = Samples::default();
    for r in store.results(target, Some(from_ms), Some(to_ms), MAX_STORED)? {
        if r.unmeasured {
            continue;
        }
        s.push(r.phases.total_ms, r.health == Health::Up);
    }
    Ok(s)
}

/// One judged comparison, for the HTML report.
pub struct Judged<'a> {
    pub title: String,
    pub baseline: &'a Samples,
    pub canary: &'a Samples,
    pub judgement: &'a probity_core::judge::Judgement,
}

/// A self-contained HTML page: per judgement, the verdict, the metrics table and the two
/// latency distributions plotted (empirical CDFs on one axis).
pub fn html_report(title: &str, judged: &[Judged<'_>]) -> String {
    use probity_ground::html::escape;
    let mut h = format!(
        "<!doctype html><html lang=en><meta charset=utf-8><title>{t}</title>\
         <style>body{{font:14px system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}}\
         table{{border-collapse:collapse}}td,th{{padding:.2rem .6rem;border-bottom:1px solid #ddd;text-align:right}}\
         td:first-child,th:first-child{{text-align:left}}.pass{{color:#176d2c}}.fail{{color:#b3261e}}.inconclusive{{color:#8a5a00}}</style>\
         <h1>{t}</h1>",
        t = escape(title)
    );
    for j in judged {
        let verdict = serde_json::to_value(j.judgement.verdict)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        h.push_str(&format!(
            "<section><h2>{}</h2><p class={verdict}><strong>{verdict}</strong>, score {}: {}</p>\
             <table><tr><th>metric<th>class<th>baseline<th>canary<th>n (baseline/canary)<th>p worse<th>why</tr>",
            escape(&j.title),
            j.judgement.score,
            escape(&j.judgement.summary)
        ));
        for m in &j.judgement.metrics {
            let f = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.3}"));
            let class = serde_json::to_value(m.class)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            h.push_str(&format!(
                "<tr><td>{}<td>{class}<td>{}<td>{}<td>{}/{}<td>{}<td style=text-align:left>{}</tr>",
                m.metric,
                f(m.baseline),
                f(m.canary),
                m.baseline_n,
                m.canary_n,
                m.p_worse.map_or("—".into(), |p| format!("{p:.2e}")),
                escape(&m.why)
            ));
        }
        h.push_str("</table>");
        h.push_str(&ecdf_plot(&j.baseline.latencies_ms, &j.canary.latencies_ms));
        h.push_str("</section>");
    }
    h.push_str("</html>\n");
    h
}

/// Both sides' latencies as empirical CDFs, on one fixed axis (0 to the larger 99th
/// percentile): where the canary's curve lies right of the baseline's, it is slower.
fn ecdf_plot(base: &[f64], canary: &[f64]) -> String {
    let (w, h, pad) = (640.0, 240.0, 40.0);
    let sorted = |v: &[f64]| {
        let mut s = v.to_vec();
        s.sort_by(f64::total_cmp);
        s
    };
    let (b, c) = (sorted(base), sorted(canary));
    if b.is_empty() && c.is_empty() {
        return "<p>No latencies to plot.</p>".into();
    }
    let p99 = |s: &[f64]| {
        s.get(((s.len() as f64 - 1.0) * 0.99) as usize)
            .copied()
            .unwrap_or(0.0)
    };
    let max = p99(&b).max(p99(&c)).max(1e-9) * 1.05;
    let x = |v: f64| pad + (v.min(max) / max) * (w - 2.0 * pad);
    let y = |q: f64| h - pad - q * (h - 2.0 * pad);
    let path = |s: &[f64]| {
        let n = s.len() as f64;
        let mut d = String::new();
        for (i, v) in s.iter().enumerate() {
            let q = (i + 1) as f64 / n;
            d.push_str(&format!(
                "{}{:.1},{:.1}",
                if i == 0 { "M" } else { " L" },
                x(*v),
                y(q)
            ));
        }
        d
    };
    format!(
        "<svg role=img aria-label=\"latency distributions\" width={w} height={h} viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title>Latency: share of requests at or under each time (baseline blue, canary orange)</title>\
         <line x1={pad} y1={y0} x2={x1} y2={y0} stroke=#888 /><line x1={pad} y1={y1} x2={pad} y2={y0} stroke=#888 />\
         <text x={pad} y={ty} font-size=11>0 ms</text><text x={x1} y={ty} font-size=11 text-anchor=end>{max:.1} ms</text>\
         <text x=4 y={y1} font-size=11>100%</text>\
         <path class=baseline d=\"{pb}\" fill=none stroke=#1f5fbf stroke-width=2 />\
         <path class=canary d=\"{pc}\" fill=none stroke=#e07b00 stroke-width=2 />\
         <text x={lx} y=14 font-size=12 fill=#1f5fbf>baseline ({nb})</text><text x={lx} y=30 font-size=12 fill=#e07b00>canary ({nc})</text></svg>",
        y0 = y(0.0),
        y1 = y(1.0),
        x1 = w - pad,
        ty = h - pad + 16.0,
        pb = path(&b),
        pc = path(&c),
        lx = w - 150.0,
        nb = b.len(),
        nc = c.len(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_shown_without_what_may_be_secret() {
        assert_eq!(
            display_url("https://user:pw@canary.example:8443/health?token=abc#x"),
            "https://canary.example:8443/health"
        );
        assert_eq!(display_url("not a url"), "(not a URL)");
    }
}
