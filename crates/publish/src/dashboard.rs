//! The operators' dashboard: server-rendered pages behind a token (the configured
//! `api_token` or one made by `probity token create`), kept in an HttpOnly cookie after a
//! sign-in form. No script: charts are SVG made here.
//!
//! - `/dashboard`: every target grouped by provider, service and region, its state, its
//!   last latency and a 90-day uptime bar;
//! - `/dashboard/targets/{name}`: latency per hour over a day (p50, p95, p99 from the
//!   rollups' sketches), recent results, incidents;
//! - `/dashboard/incidents/{id}`: a timeline of what probity observed with the providers'
//!   declarations laid over it, so the disclosure gap shows at a glance.

use crate::state::AppState;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use probity_core::observe::Status;
use probity_core::sketch::Sketch;
use probity_ground::html::escape;
use probity_ground::time::rfc3339;
use std::collections::BTreeMap;

const COOKIE: &str = "probity_session";

fn cookie_session(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Whether the request is signed in (a live session whose token is still valid) or
/// carries a valid bearer token.
fn signed_in(s: &AppState, headers: &HeaderMap) -> bool {
    let now = jiff::Timestamp::now().as_millisecond();
    if let Some(id) = cookie_session(headers)
        && let Some(hash) = s.sessions.token_of(&id, now)
        && crate::state::token_hash_valid(s, &hash)
    {
        return true;
    }
    crate::state::authorize_token(s, headers)
}

/// Reads from the store off the async threads. A store that cannot answer is logged and
/// shown as such (503), never drawn as a page without data.
async fn read<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    what: &'static str,
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, Response> {
    let failed = |e: String| {
        tracing::error!(error = %e, page = what, "the dashboard could not read the store");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            page(
                "Unavailable",
                "<h1>The store could not answer</h1><p>Nothing is shown rather than a page without the data. See the server log; reload to try again.</p>",
            ),
        )
            .into_response()
    };
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(e) => Err(failed(e.to_string())),
    }
}

fn to_login() -> Response {
    (
        StatusCode::SEE_OTHER,
        [(header::LOCATION, "/dashboard/login")],
    )
        .into_response()
}

/// The navigation bar every dashboard page carries.
const NAV: &str = "<nav><a href=\"/dashboard\">probity</a> <a href=\"/dashboard/scorecard\">scorecard</a> <a href=\"/dashboard/sla\">SLA</a> <a href=\"/status\">status page</a> <a href=\"/api/openapi.json\">API</a> <a href=\"/metrics\">metrics</a></nav>";
/// Its style, for pages that bring their own.
const NAV_CSS: &str = "nav{background:#1f2937;padding:.5rem 1rem;margin-bottom:1rem}nav a{color:#fff;font-weight:600;text-decoration:none;margin-right:1rem;font-family:system-ui,sans-serif}";

fn page(title: &str, body: &str) -> Response {
    let now = probity_ground::time::rfc3339(jiff::Timestamp::now().as_millisecond());
    Html(format!(
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8><meta name=viewport content=\"width=device-width, initial-scale=1\"><title>{} · probity</title><style>{CSS}</style></head><body>{NAV}<main data-live>{body}<p class=updated>Updated <time datetime=\"{now}\">{shown}</time>; this page updates itself.</p></main><script src=\"/assets/live.js\" defer></script></body></html>\n",
        escape(title),
        shown = now.get(11..19).unwrap_or_default(),
    ))
    .into_response()
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1a1a1a}.updated{color:#555;font-size:.85rem}tr.group h2{margin:1rem 0 .2rem;font-size:1.05rem}.collecting{color:#555}nav{background:#1f2937;padding:.5rem 1rem}nav a{color:#fff;font-weight:600;text-decoration:none;margin-right:1rem}main{max-width:72rem;margin:0 auto;padding:1rem}table{border-collapse:collapse;width:100%}td,th{padding:.3rem .4rem;border-bottom:1px solid #e5e5e5;text-align:left;vertical-align:middle}th{font-size:.85rem;color:#555}.up{color:#1e7b34}.degraded{color:#9a6700}.down{color:#b3261e}.unknown{color:#555}.bars{display:flex;gap:1px;min-width:12rem}.bar{flex:1;height:1.2rem;border-radius:1px}.bar.good{background:#1e7b34}.bar.fair{background:#d29c00}.bar.poor{background:#b3261e}.bar.none{background:#ccc}h2{margin-top:1.5rem;font-size:1.1rem}svg text{font-size:11px;fill:#333}.legend span{margin-right:1rem}form{max-width:24rem}input{width:100%;padding:.4rem;margin:.3rem 0}button{padding:.4rem 1rem}a{color:#0b57d0}@media(max-width:40rem){.hide-narrow,table.targets td:nth-child(3),table.targets th:nth-child(3){display:none}}";

pub async fn login_form() -> Response {
    page(
        "Sign in",
        "<h1>Sign in</h1><form method=post action=\"/dashboard/login\"><label for=token>API token</label><input id=token name=token type=password autocomplete=off required><button type=submit>Sign in</button></form><p>Make a token with <code>probity token create</code>.</p>",
    )
}

/// `application/x-www-form-urlencoded` value of `key` (tokens are plain ASCII).
fn form_value(body: &[u8], key: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == key).then(|| {
            let v = v.replace('+', " ");
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%'
                    && i + 2 < b.len()
                    && let Ok(x) =
                        u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or(""), 16)
                {
                    out.push(x);
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            String::from_utf8_lossy(&out).into_owned()
        })
    })
}

pub async fn login(
    State(s): State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let token = form_value(&body, "token").unwrap_or_default();
    let mut h = HeaderMap::new();
    if let Ok(v) = format!("Bearer {token}").parse() {
        h.insert(header::AUTHORIZATION, v);
    }
    if token.is_empty() || !crate::state::authorize_token(&s, &h) {
        let mut r = page(
            "Sign in",
            "<h1>Sign in</h1><p class=down role=alert>That token is not valid.</p><form method=post action=\"/dashboard/login\"><label for=token>API token</label><input id=token name=token type=password autocomplete=off required><button type=submit>Sign in</button></form>",
        );
        *r.status_mut() = StatusCode::UNAUTHORIZED;
        return r;
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let Some(session) = s
        .sessions
        .start(probity_ground::auth::hash_token(&token), now)
    else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            page(
                "Unavailable",
                "<h1>No randomness for a session; try again</h1>",
            ),
        )
            .into_response();
    };
    // `Secure` when the request came over TLS (directly, or as a proxy in front says).
    let secure = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, "/dashboard".to_string()),
            (
                header::SET_COOKIE,
                format!(
                    "{COOKIE}={session}; HttpOnly; SameSite=Strict; Path=/dashboard; Max-Age={}{}",
                    crate::state::Sessions::LIFETIME_MS / 1000,
                    if secure { "; Secure" } else { "" }
                ),
            ),
        ],
    )
        .into_response()
}

fn status_word(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Up => ("up", "up"),
        Status::Degraded => ("degraded", "degraded"),
        Status::Down => ("down", "down"),
        Status::Unknown => ("unknown", "no result yet"),
        Status::Failing => ("failing", "failing (below the threshold)"),
    }
}

/// A 90-day bar: a cell a day, except that runs of good days and of days without data are
/// drawn as one wide cell (`data-days` says how many), which keeps an overview of a
/// thousand targets small. Every other day keeps its own cell and figure.
fn bars(days: &[(i64, Option<f64>)]) -> String {
    let class_of = |u: Option<f64>| match u {
        None => "none",
        Some(u) if u >= 0.999 => "good",
        Some(u) if u >= 0.99 => "fair",
        Some(_) => "poor",
    };
    // The column header names what the bars are, once, instead of on every row.
    let mut out = String::from("<div class=bars>");
    let mut i = 0;
    while i < days.len() {
        let class = class_of(days[i].1);
        let mut j = i + 1;
        if matches!(class, "good" | "none") {
            while j < days.len() && class_of(days[j].1) == class {
                j += 1;
            }
        }
        let first = &rfc3339(days[i].0)[..10];
        let last = &rfc3339(days[j - 1].0)[..10];
        let label = match (class, j - i) {
            ("none", 1) => format!("{first}: no data"),
            ("none", _) => format!("{first}–{last}: no data"),
            ("good", 1) => format!("{first}: {:.3}%", days[i].1.unwrap_or(1.0) * 100.0),
            ("good", _) => format!("{first}–{last}: ≥99.9% each day"),
            _ => format!("{first}: {:.3}%", days[i].1.unwrap_or(0.0) * 100.0),
        };
        out.push_str(&format!(
            "<span class=\"bar {class}\" data-days={n} style=\"flex:{n}\" title=\"{label}\"></span>",
            n = j - i
        ));
        i = j;
    }
    out.push_str("</div>");
    out
}

pub async fn overview(State(s): State<AppState>, headers: HeaderMap) -> Response {
    if !signed_in(&s, &headers) {
        return to_login();
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let day = 86_400_000;
    let since = now.div_euclid(day) * day - 89 * day;
    let store = s.store.clone();
    let daily = match read("overview", move || store.daily_availability(since, None)).await {
        Ok(d) => d,
        Err(r) => return r,
    };
    let live = s.shared.targets.read().expect("live lock").clone();
    let mut groups: BTreeMap<
        (String, String, String),
        Vec<&std::sync::Arc<probity_ground::config::Target>>,
    > = BTreeMap::new();
    for t in s.targets.iter() {
        groups
            .entry((
                t.provider.clone().unwrap_or_else(|| "—".into()),
                t.service.clone().unwrap_or_else(|| "—".into()),
                t.region.clone().unwrap_or_else(|| "—".into()),
            ))
            .or_default()
            .push(t);
    }
    let mut body = format!(
        "<h1>Targets</h1><p>{} targets; bars are the last 90 days, one a day.</p>",
        s.targets.len()
    );
    // One table, so the columns line up across groups; each group is a heading row.
    body.push_str("<table class=targets><tr><th>target</th><th>state</th><th>latency</th><th id=uptime90>uptime, 90 days</th><th>incident</th></tr>");
    for ((p, sv, r), ts) in &groups {
        body.push_str(&format!(
            "<tr class=group><th colspan=5 scope=rowgroup><h2>{} · {} · {}</h2></th></tr>",
            escape(p),
            escape(sv),
            escape(r)
        ));
        for t in ts {
            let l = live.get(&t.name);
            let (class, word) = status_word(l.map_or(Status::Unknown, |l| l.status));
            let latency = l
                .and_then(|l| l.last.as_ref())
                .and_then(|r| r.phases.total_ms)
                .map_or("—".into(), latency_words);
            let days: Vec<(i64, Option<f64>)> = (0..90)
                .map(|k| {
                    let d = since + k * day;
                    (d, daily.get(&(t.name.clone(), d)).and_then(|a| a.uptime()))
                })
                .collect();
            let incident = l.and_then(|l| l.open_incident).map_or("—".into(), |id| {
                format!("<a href=\"/dashboard/incidents/{id}\">#{id}</a>")
            });
            body.push_str(&format!(
                "<tr class=target><td><a href=\"dashboard/targets/{}\">{}</a></td><td class=\"state {class}\">{word}</td><td>{latency}</td><td aria-describedby=uptime90>{}</td><td>{incident}</td></tr>",
                escape(&t.name),
                escape(&t.name),
                bars(&days)
            ));
        }
    }
    body.push_str("</table>");
    page("Targets", &body)
}

/// A latency as people read it: under 10 ms with a decimal (0.4 ms is not "0 ms").
fn latency_words(ms: f64) -> String {
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// An hour's start and its p50, p95 and p99 latency, if it had results.
type Hour = (i64, Option<(f64, f64, f64)>);

/// Latency per hour as three polylines (p50, p95, p99); until two hours have data, a line
/// saying the chart is being collected (a single point is no chart).
fn latency_chart(hours: &[Hour]) -> String {
    if hours.iter().filter(|(_, v)| v.is_some()).count() < 2 {
        return "<p class=collecting>Collecting: the chart draws each hour's latency once two hours have results.</p>".to_string();
    }
    let (w, h, pad) = (720.0, 220.0, 36.0);
    let max = hours
        .iter()
        .filter_map(|(_, v)| v.map(|v| v.2))
        .fold(1.0f64, f64::max);
    let x = |i: usize| pad + i as f64 * (w - 2.0 * pad) / (hours.len().max(2) - 1) as f64;
    let y = |v: f64| h - pad - v / max * (h - 2.0 * pad);
    let mut svg = format!(
        "<svg class=chart role=img aria-label=\"latency per hour\" viewBox=\"0 0 {w} {h}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\"><line x1={pad} y1={} x2={} y2={} stroke=\"#999\"/><text x=2 y={}>{max:.0} ms</text><text x=2 y={}>0</text>",
        h - pad,
        w - pad,
        h - pad,
        pad + 4.0,
        h - pad
    );
    for (k, (colour, dash, name)) in [
        ("#1e7b34", "", "p50"),
        ("#9a6700", "6 3", "p95"),
        ("#b3261e", "2 2", "p99"),
    ]
    .iter()
    .enumerate()
    {
        let pts: Vec<String> = hours
            .iter()
            .enumerate()
            .filter_map(|(i, (_, v))| {
                v.map(|v| {
                    let val = [v.0, v.1, v.2][k];
                    format!("{:.1},{:.1}", x(i), y(val))
                })
            })
            .collect();
        if !pts.is_empty() {
            svg.push_str(&format!(
                "<polyline class=\"series {name}\" fill=none stroke=\"{colour}\" stroke-width=2 stroke-dasharray=\"{dash}\" points=\"{}\"/>",
                pts.join(" ")
            ));
            for p in &pts {
                let (px, py) = p.split_once(',').unwrap_or(("0", "0"));
                svg.push_str(&format!(
                    "<circle class=point cx={px} cy={py} r=2 fill=\"{colour}\"/>"
                ));
            }
        }
    }
    svg.push_str("</svg><p class=legend><span style=\"color:#1e7b34\">━ p50</span><span style=\"color:#9a6700\">╌ p95</span><span style=\"color:#b3261e\">┈ p99</span> per hour, last 24 hours</p>");
    svg
}

pub async fn target(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Response {
    if !signed_in(&s, &headers) {
        return to_login();
    }
    let Some(t) = s.targets.iter().find(|t| t.name == name).cloned() else {
        return (
            StatusCode::NOT_FOUND,
            page("Not found", "<h1>No such target</h1>"),
        )
            .into_response();
    };
    let now = jiff::Timestamp::now().as_millisecond();
    let hour = 3_600_000;
    let start = now.div_euclid(hour) * hour - 23 * hour;
    let store = s.store.clone();
    let n = name.clone();
    let data = read(
        "target",
        move || -> Result<_, probity_engine::store::StoreError> {
            Ok((
                store.rollups(&n, start, now)?,
                store.results(&n, None, None, 20)?,
                store.incidents(probity_engine::store::IncidentFilter::All)?,
                store.results(&n, Some(start), Some(now), 100_000)?,
            ))
        },
    )
    .await;
    let (rollups, results, incidents, day_results) = match data {
        Ok(d) => d,
        Err(r) => return r,
    };
    let mut per_hour: Vec<(i64, Sketch)> =
        (0..24).map(|k| (start + k * hour, Sketch::new())).collect();
    for r in &rollups {
        let k = ((r.minute_ms - start) / hour) as usize;
        if let Some(slot) = per_hour.get_mut(k) {
            slot.1.merge(&r.sketch);
        }
    }
    let hours: Vec<Hour> = per_hour
        .iter()
        .map(|(h, sk)| {
            (
                *h,
                sk.quantile(0.5)
                    .zip(sk.quantile(0.95))
                    .zip(sk.quantile(0.99))
                    .map(|((a, b), c)| (a, b, c)),
            )
        })
        .collect();
    let live = s
        .shared
        .targets
        .read()
        .expect("live lock")
        .get(&name)
        .cloned();
    let (class, word) = status_word(live.as_ref().map_or(Status::Unknown, |l| l.status));
    let mut body = format!(
        "<h1>{}</h1><p>{} · <span class=\"{class}\">{word}</span> · every {}{}</p>",
        escape(&t.name),
        escape(&t.kind),
        t.interval,
        live.as_ref()
            .and_then(|l| l.cert_not_after_s)
            .map(|s| format!(" · certificate valid until {}", rfc3339(s * 1000)))
            .unwrap_or_default()
    );
    if let Some(l) = &live
        && !l.vantages.is_empty()
    {
        body.push_str(&vantage_table(l, &t.quorum.to_string()));
    }
    body.push_str("<h2>Latency</h2>");
    body.push_str(&latency_chart(&hours));
    body.push_str(&phase_table(&day_results));
    body.push_str("<h2>Recent results</h2><table><tr><th>at</th><th>vantage</th><th>status</th><th>total</th><th class=hide-narrow>dns / connect / tls / ttfb</th><th>error</th></tr>");
    let ms = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.1}"));
    for r in &results {
        body.push_str(&format!(
            "<tr class=result><td>{}</td><td>{}</td><td class={}>{}</td><td>{} ms</td><td class=hide-narrow>{} / {} / {} / {}</td><td>{}</td></tr>",
            rfc3339(r.at_ms),
            escape(&r.vantage),
            if r.unmeasured { "unknown" } else { r.health.as_str() },
            if r.unmeasured { "unmeasured" } else { r.health.as_str() },
            ms(r.phases.total_ms),
            ms(r.phases.dns_ms),
            ms(r.phases.connect_ms),
            ms(r.phases.tls_ms),
            ms(r.phases.ttfb_ms),
            r.cause.as_ref().map(|c| escape(&c.to_string())).unwrap_or_default()
        ));
    }
    body.push_str("</table><h2>Incidents</h2><ul>");
    for i in incidents.iter().filter(|i| i.target == name) {
        body.push_str(&format!(
            "<li><a href=\"/dashboard/incidents/{0}\">#{0}</a> {1} → {2}: {3}</li>",
            i.id,
            rfc3339(i.started_at_ms),
            i.resolved_at_ms.map_or("open".into(), rfc3339),
            escape(&i.cause.to_string())
        ));
    }
    body.push_str("</ul>");
    page(&t.name, &body)
}

/// Each vantage's view of a target, and the quorum rule.
fn vantage_table(l: &probity_engine::live::TargetLive, quorum: &str) -> String {
    let mut out = format!(
        "<h2>Vantages</h2><p>An incident opens when {quorum} vantage{} see{} it fail.{}</p><table class=vantages><tr><th>vantage</th><th>status</th><th>failing since</th><th>last result</th></tr>",
        if quorum == "1" { "" } else { "s" },
        if quorum == "1" { "s" } else { "" },
        if l.regional.is_empty() {
            String::new()
        } else {
            format!(
                " <strong>Regional degradation:</strong> failing from {} only.",
                escape(&l.regional.join(", "))
            )
        }
    );
    for v in &l.vantages {
        let class = match v.status {
            probity_core::quorum::VantageStatus::Up => "up",
            probity_core::quorum::VantageStatus::Down => "down",
            probity_core::quorum::VantageStatus::Degraded => "degraded",
            _ => "unknown",
        };
        out.push_str(&format!(
            "<tr class=vantage><td>{}</td><td class={class}>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&v.vantage),
            v.status.as_str(),
            v.failing_since_ms.map_or("—".into(), rfc3339),
            v.last_at_ms.map_or("—".into(), rfc3339),
        ));
    }
    out.push_str("</table>");
    out
}

pub async fn incident(
    State(s): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if !signed_in(&s, &headers) {
        return to_login();
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let (store, targets, cfg) = (s.store.clone(), s.targets.clone(), s.reconcile);
    let found = read(
        "incident",
        move || -> Result<_, probity_engine::store::StoreError> {
            let Some(inc) = store.incident(id)? else {
                return Ok(None);
            };
            let window = (
                inc.started_at_ms,
                // To now: what is known of it now, however late it came.
                now.max(inc.started_at_ms + 1),
            );
            let inputs = probity_engine::account::reconcile::gather(
                store.as_ref(),
                &targets,
                &cfg,
                window,
                now,
            )?;
            let r = inputs.reconcile();
            let seen = store.incident_vantages(id)?;
            Ok(Some((
                inc,
                probity_engine::account::reconcile::incident_json(&inputs, &r, id),
                seen,
            )))
        },
    )
    .await;
    let found = match found {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some((inc, rec, seen)) = found else {
        return (
            StatusCode::NOT_FOUND,
            page("Not found", "<h1>No such incident</h1>"),
        )
            .into_response();
    };
    let end = inc.resolved_at_ms.unwrap_or(now);
    let decls = &rec.declarations;
    let ms_of = |v: Option<&probity_ground::time::Stamp>| {
        v.and_then(|t| t.0.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_millisecond())
    };
    // The timeline spans the observed incident and every declaration's dates.
    let mut lo = inc.started_at_ms;
    let mut hi = end;
    for d in decls {
        for k in [
            d.started_at.as_ref(),
            Some(&d.first_disclosed_at),
            d.resolved_at.as_ref(),
        ] {
            if let Some(t) = ms_of(k) {
                lo = lo.min(t);
                hi = hi.max(t);
            }
        }
    }
    let span = (hi - lo).max(1) as f64;
    let (w, pad, row) = (720.0, 10.0, 34.0);
    let x = |t: i64| pad + (t - lo) as f64 / span * (w - 2.0 * pad);
    let h = row * (decls.len() as f64 + 1.0) + 30.0;
    let mut svg = format!(
        "<svg class=timeline role=img aria-label=\"timeline\" viewBox=\"0 0 {w} {h}\" width=\"100%\" xmlns=\"http://www.w3.org/2000/svg\"><rect class=\"observed {}\" x={:.1} y=8 width={:.1} height=18 fill=\"{}\"/><text x={:.1} y=40>observed by probity ({}): {} → {}</text>",
        inc.severity.as_str(),
        x(inc.started_at_ms),
        (x(end) - x(inc.started_at_ms)).max(2.0),
        // A degraded spell in the degraded colour, an outage in red.
        if inc.severity == probity_core::result::Health::Down {
            "#b3261e"
        } else {
            "#e37400"
        },
        pad,
        inc.severity.as_str(),
        rfc3339(inc.started_at_ms),
        inc.resolved_at_ms.map_or("open".into(), rfc3339)
    );
    for (k, d) in decls.iter().enumerate() {
        let y = row * (k as f64 + 1.0) + 18.0;
        let a = ms_of(d.started_at.as_ref()).unwrap_or(lo);
        let b = ms_of(d.resolved_at.as_ref()).unwrap_or(hi);
        svg.push_str(&format!(
            "<rect class=declared x={:.1} y={y:.1} width={:.1} height=12 fill=\"#0b57d0\" opacity=\"0.7\"/>",
            x(a),
            (x(b) - x(a)).max(2.0)
        ));
        for u in &d.updates {
            if let Some(t) = ms_of(Some(&u.at)) {
                svg.push_str(&format!(
                    "<circle class=update cx={:.1} cy={:.1} r=\"3\" fill=\"#fff\" stroke=\"#0b57d0\"><title>{}: {}</title></circle>",
                    x(t),
                    y + 6.0,
                    escape(&u.status),
                    escape(&u.text)
                ));
            }
        }
        // An edited start: the first published one drawn too, and said.
        if d.first_published_start != d.started_at
            && let Some(t) = ms_of(d.first_published_start.as_ref())
        {
            svg.push_str(&format!(
                "<line class=first-start x1={0:.1} x2={0:.1} y1={1:.1} y2={2:.1} stroke=\"#0b57d0\" stroke-width=\"2\" stroke-dasharray=\"3 2\"><title>start as first published: {3}</title></line>",
                x(t),
                y - 4.0,
                y + 16.0,
                rfc3339(t)
            ));
        }
        if let Some(t) = ms_of(Some(&d.first_disclosed_at)) {
            svg.push_str(&format!(
                "<line class=disclosed x1={0:.1} x2={0:.1} y1={1:.1} y2={2:.1} stroke=\"#111\" stroke-width=\"2\"/>",
                x(t),
                y - 4.0,
                y + 16.0
            ));
        }
        svg.push_str(&format!(
            "<text x={pad} y={:.1}>{}: \"{}\" — disclosed {:.0} s after the observed start{}</text>",
            y + 26.0,
            escape(&d.provider),
            escape(&d.title),
            d.disclosure_lag_s,
            if d.changed_after_publication {
                match (&d.first_published_start, &d.started_at) {
                    (Some(a), Some(b)) if a != b => format!(
                        " — edited after publication: start first {}, now {}",
                        a.0, b.0
                    ),
                    _ => " — edited after publication".to_string(),
                }
            } else {
                String::new()
            }
        ));
    }
    svg.push_str("</svg>");
    let body = format!(
        "<h1>Incident #{}</h1><p>{} · {} · {}</p><p>Acknowledgment by the provider: <strong>{}</strong></p><h2>Timeline</h2>{svg}<p class=legend><span style=\"color:#b3261e\">■ observed outage</span><span style=\"color:#e37400\">■ observed degradation</span><span style=\"color:#0b57d0\">■ declared</span><span>│ first disclosed</span><span style=\"color:#0b57d0\">┆ start as first published (when edited)</span></p>",
        inc.id,
        escape(&inc.target),
        inc.severity.as_str(),
        escape(&inc.cause.to_string()),
        escape(&rec.acknowledgment)
    );
    let mut body = body;
    if !rec.corroborated_by.is_empty() {
        body.push_str(&format!(
            "<p class=corroboration>Seen by <strong>{} organisations</strong>: this one, and by their signed statements {}</p>",
            rec.organisations,
            rec.corroborated_by
                .iter()
                .map(|o| format!("<code>{}</code>", escape(o)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let opened: Vec<&probity_core::quorum::Seen> = seen
        .iter()
        .filter(|(change, _)| change == "opened")
        .map(|(_, s)| s)
        .collect();
    if !opened.is_empty() {
        body.push_str("<h2>Seen from</h2><table class=vantages><tr><th>vantage</th><th>when it opened</th><th>failing since</th></tr>");
        for v in opened {
            body.push_str(&format!(
                "<tr class=vantage><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&v.vantage),
                v.status.as_str(),
                v.failing_since_ms.map_or("—".into(), rfc3339)
            ));
        }
        body.push_str("</table>");
    }
    page(&format!("Incident {}", inc.id), &body)
}

/// Each provider's scorecard over 30 days (`?window=` to change it), as a table.
pub async fn scorecard(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !signed_in(&s, &headers) {
        return to_login();
    }
    let window_name = q.get("window").cloned().unwrap_or_else(|| "30d".into());
    let Ok(window) = window_name.parse::<probity_core::duration::HumanDuration>() else {
        return (
            StatusCode::BAD_REQUEST,
            page(
                "Bad window",
                "<h1>`window` must be a duration such as 30d</h1>",
            ),
        )
            .into_response();
    };
    let (store, targets, cfg) = (s.store.clone(), s.targets.clone(), s.reconcile);
    let now = jiff::Timestamp::now().as_millisecond();
    let span = (now - window.as_millis() as i64, now);
    let cards = read(
        "scorecard",
        move || -> Result<_, probity_engine::store::StoreError> {
            let inputs = probity_engine::account::reconcile::gather(
                store.as_ref(),
                &targets,
                &cfg,
                span,
                now,
            )?;
            let r = inputs.reconcile();
            Ok(inputs.scorecards(&r, None))
        },
    )
    .await;
    let cards = match cards {
        Ok(c) => c,
        Err(r) => return r,
    };
    let pct = |v: Option<f64>| v.map_or("—".into(), |v| format!("{:.3}%", v * 100.0));
    let secs = |v: Option<f64>| v.map_or("—".into(), |v| format!("{v:.0} s"));
    let mut body = format!(
        "<h1>Providers' scorecard</h1><p>Over {}: what probity measured against what each provider declared (<a href=\"/api/v1/scorecard?window={}\">JSON</a>).</p><table><tr><th>provider / service</th><th>grade</th><th>measured</th><th>declared</th><th>unacknowledged</th><th>acknowledged</th><th class=hide-narrow>disclosure lag p50 / p90 / max</th><th class=hide-narrow>edited</th></tr>",
        escape(&window_name),
        escape(&window_name)
    );
    for (card, services) in &cards {
        for (c, indent) in std::iter::once((card, "")).chain(services.iter().map(|x| (x, "  · ")))
        {
            body.push_str(&format!(
                "<tr class=card><td>{indent}{}</td><td><strong>{}</strong> {}</td><td>{}</td><td>{}</td><td>{} ({})</td><td>{}</td><td class=hide-narrow>{} / {} / {}</td><td class=hide-narrow>{}</td></tr>",
                escape(c.service.as_deref().unwrap_or(&c.provider)),
                escape(&c.grade),
                c.score.map_or(String::new(), |s| format!("({s:.1})")),
                pct(c.measured_availability),
                pct(c.declared_availability),
                c.unacknowledged_incidents,
                secs(Some(c.unacknowledged_downtime_s)),
                c.acknowledgment_rate.map_or("—".into(), |r| format!("{:.0}%", r * 100.0)),
                secs(c.disclosure_lag_s.p50),
                secs(c.disclosure_lag_s.p90),
                secs(c.disclosure_lag_s.max),
                c.changed_after_publication,
            ));
        }
    }
    body.push_str("</table><p>grade = 0.5 acknowledgment + 0.2 timeliness + 0.2 accuracy + 0.1 integrity; see docs/reconciliation.md.</p>");
    // Each declaration nothing observed, and why.
    let unseen: Vec<&probity_core::scorecard::NotObserved> = cards
        .iter()
        .flat_map(|(c, _)| c.declared_not_observed.iter())
        .collect();
    if !unseen.is_empty() {
        body.push_str("<h2>Declared, not observed</h2><table class=declared-not-observed><tr><th>declaration</th><th>declared</th><th>services / regions</th><th>why</th></tr>");
        for n in unseen {
            let why = match n.why {
                probity_core::scorecard::Why::NotWatched => "no target watches it".to_string(),
                probity_core::scorecard::Why::Unmeasured => {
                    format!("{} not measured during it", n.targets.join(", "))
                }
                probity_core::scorecard::Why::FailingBelowThreshold => format!(
                    "{} failed during it, below the threshold (no incident)",
                    n.targets.join(", ")
                ),
                probity_core::scorecard::Why::UpThroughout => format!(
                    "{} measured for {:.0} min of it; nothing observed",
                    n.targets.join(", "),
                    n.measured_s / 60.0
                ),
            };
            body.push_str(&format!(
                "<tr><td>{} <small>{}</small></td><td>{} → {}</td><td>{} / {}</td><td class=why>{}</td></tr>",
                escape(&n.title),
                escape(&n.key),
                rfc3339(n.start_ms),
                n.end_ms.map_or("open".into(), rfc3339),
                escape(&n.services.join(", ")),
                escape(&n.regions.join(", ")),
                escape(&why)
            ));
        }
        body.push_str("</table>");
    }
    page("Scorecard", &body)
}

/// The month's SLA report (`?month=YYYY-MM`), as `probity sla report --format html` makes it.
pub async fn sla(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> Response {
    if !signed_in(&s, &headers) {
        return to_login();
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let month = match q.get("month") {
        None => probity_engine::account::sla::this_month(now),
        Some(m) => match probity_engine::account::sla::parse_month(m) {
            Some(m) => m,
            None => {
                return (
                    StatusCode::BAD_REQUEST,
                    page("Bad month", "<h1>`month` is YYYY-MM</h1>"),
                )
                    .into_response();
            }
        },
    };
    let (store, config) = (s.store.clone(), s.config.clone());
    let reports = match read("sla", move || {
        probity_engine::account::sla::reports(store.as_ref(), &config, month, None, now)
    })
    .await
    {
        Ok(r) => r,
        Err(r) => return r,
    };
    // The report's own page, with the dashboard's navigation on top.
    let html = probity_engine::account::sla::html(&reports).replacen(
        "<body>",
        &format!("<body><style>{NAV_CSS}</style>{NAV}"),
        1,
    );
    Html(html).into_response()
}

/// The median of each phase per hour over the day, from the raw results (kept 30 days).
fn phase_table(results: &[probity_engine::store::ResultRecord]) -> String {
    let hour = 3_600_000;
    let mut by_hour: BTreeMap<i64, [Vec<f64>; 4]> = BTreeMap::new();
    for r in results {
        let slot = by_hour.entry(r.at_ms.div_euclid(hour) * hour).or_default();
        for (k, v) in [
            r.phases.dns_ms,
            r.phases.connect_ms,
            r.phases.tls_ms,
            r.phases.ttfb_ms,
        ]
        .into_iter()
        .enumerate()
        {
            if let Some(v) = v {
                slot[k].push(v);
            }
        }
    }
    let median = |v: &mut Vec<f64>| -> String {
        if v.is_empty() {
            return "—".into();
        }
        v.sort_by(|a, b| a.total_cmp(b));
        format!("{:.1}", v[v.len() / 2])
    };
    let mut out = String::from(
        "<h2>Phases</h2><table class=phases><tr><th>hour (UTC)</th><th>dns</th><th>connect</th><th>tls</th><th>ttfb</th></tr>",
    );
    for (h, mut phases) in by_hour.into_iter().rev() {
        out.push_str(&format!(
            "<tr class=phase><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            &rfc3339(h)[11..16],
            median(&mut phases[0]),
            median(&mut phases[1]),
            median(&mut phases[2]),
            median(&mut phases[3]),
        ));
    }
    out.push_str("</table><p class=legend>median milliseconds per phase, per hour</p>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latency_chart_draws_only_with_two_hours_of_data() {
        let one: Vec<Hour> = vec![(0, Some((1.0, 2.0, 3.0))), (3_600_000, None)];
        assert!(latency_chart(&one).starts_with("<p class=collecting>Collecting"));
        let two: Vec<Hour> = vec![
            (0, Some((1.0, 2.0, 3.0))),
            (3_600_000, Some((2.0, 3.0, 4.0))),
        ];
        let svg = latency_chart(&two);
        assert_eq!(svg.matches("<circle class=point").count(), 6, "{svg}");
        assert_eq!(svg.matches("<polyline").count(), 3, "{svg}");
    }

    #[test]
    fn latency_under_a_millisecond_is_not_zero() {
        assert_eq!(latency_words(0.4), "0.4 ms");
        assert_eq!(latency_words(9.96), "10.0 ms");
        assert_eq!(latency_words(41.2), "41 ms");
    }
}
