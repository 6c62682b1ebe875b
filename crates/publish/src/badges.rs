//! SVG badges for READMEs and wikis: a component's (or, when allowed, a target's) state and
//! uptime, in the flat two-part style people know from shields.io.
//!
//! `/badge/{name}/status.svg` and `/badge/{name}/uptime.svg?window=30d`. `name` is a
//! status-page component first; a target only when `[status] target_badges = true`,
//! since the badges are public and a target's name and state may not be.

use crate::state::{ApiError, AppState, blocking};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use probity_core::duration::HumanDuration;
use probity_ground::html::escape;
use serde::Deserialize;

const GREEN: &str = "#3fa535";
const LIGHT_GREEN: &str = "#97ca00";
const YELLOW: &str = "#dfb317";
const ORANGE: &str = "#fe7d37";
const RED: &str = "#e05d44";
const GREY: &str = "#9f9f9f";
const BLUE: &str = "#007ec6";

/// The width of `text` in Verdana 11px, approximately (shields.io measures with the font's
/// own widths; these classes are within a pixel or two for names and figures).
fn text_width(text: &str) -> f64 {
    text.chars()
        .map(|c| match c {
            'i' | 'j' | 'l' | '!' | '|' | '.' | ',' | ':' | ';' | '\'' => 3.2,
            'f' | 't' | 'r' | 'I' | ' ' | '(' | ')' | '[' | ']' | '-' => 4.6,
            'm' | 'w' | 'M' | 'W' => 10.0,
            '%' => 11.0,
            c if c.is_ascii_uppercase() => 7.6,
            c if c.is_ascii_digit() => 7.0,
            c if c.is_ascii() => 6.4,
            _ => 8.0,
        })
        .sum()
}

/// A flat badge: `label` on grey, `message` on `color`, with a title for screen readers.
pub fn svg(label: &str, message: &str, color: &str) -> String {
    let lw = (text_width(label) + 10.0).round();
    let mw = (text_width(message) + 10.0).round();
    let w = lw + mw;
    let (label, message) = (escape(label), escape(message));
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="20" role="img" aria-label="{label}: {message}"><title>{label}: {message}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="{w}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{mw}" height="20" fill="{color}"/><rect width="{w}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="15" fill="#010101" fill-opacity=".3">{label}</text><text x="{lx}" y="14">{label}</text><text x="{mx}" y="15" fill="#010101" fill-opacity=".3">{message}</text><text x="{mx}" y="14">{message}</text></g></svg>"##,
        lx = lw / 2.0,
        mx = lw + mw / 2.0,
    )
}

/// The message and colour for a state word.
pub fn status_badge(state: &str) -> (&'static str, &'static str) {
    match state {
        "up" | "operational" => ("up", GREEN),
        "degraded" | "degraded_performance" => ("degraded", ORANGE),
        "failing" => ("failing", ORANGE),
        "partial_outage" => ("partial outage", ORANGE),
        "down" | "major_outage" => ("down", RED),
        "under_maintenance" => ("maintenance", BLUE),
        _ => ("unknown", GREY),
    }
}

/// The message and colour for an uptime (a fraction), or none measured.
pub fn uptime_badge(uptime: Option<f64>) -> (String, &'static str) {
    match uptime {
        None => ("no data".into(), GREY),
        Some(u) => {
            let pct = u * 100.0;
            // Never round up to 100%: a single failure must show.
            let text = if u < 1.0 {
                let t = (pct * 100.0).floor() / 100.0;
                format!("{t:.2}%")
            } else {
                "100%".into()
            };
            let color = if pct >= 99.9 {
                GREEN
            } else if pct >= 99.0 {
                LIGHT_GREEN
            } else if pct >= 95.0 {
                YELLOW
            } else {
                RED
            };
            (text, color)
        }
    }
}

fn respond(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=60"),
        ],
        body,
    )
        .into_response()
}

/// What a badge name stands for: a component's targets, or one target.
enum Subject {
    Component(probity_ground::config::Component),
    Target(String),
}

fn subject(s: &AppState, name: &str) -> Result<Subject, ApiError> {
    if let Some(c) = s.config.status.components.iter().find(|c| c.name == name) {
        return Ok(Subject::Component(c.clone()));
    }
    if s.config.status.target_badges && s.targets.iter().any(|t| t.name == name) {
        return Ok(Subject::Target(name.to_string()));
    }
    // The same answer whether or not a private target has this name.
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        format!("no badge named {name:?}"),
    ))
}

/// `GET /badge/{name}/status.svg`.
pub async fn status(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let state = match subject(&s, &name)? {
        Subject::Component(c) => {
            let store = s.store.clone();
            let incidents = blocking(move || store.status_incidents())
                .await?
                .map_err(ApiError::internal)?;
            let now = jiff::Timestamp::now().as_millisecond();
            crate::status_page::component_status(&s.config, &s.shared, &incidents, &c, now)
        }
        Subject::Target(t) => s
            .shared
            .targets
            .read()
            .expect("live lock")
            .get(&t)
            .map_or("unknown", |l| l.status.as_str())
            .to_string(),
    };
    let (message, color) = status_badge(&state);
    Ok(respond(svg(&name, message, color)))
}

#[derive(Deserialize)]
pub struct UptimeQuery {
    window: Option<String>,
}

/// `GET /badge/{name}/uptime.svg?window=30d` (1 hour to 400 days; default 30 days).
pub async fn uptime(
    State(s): State<AppState>,
    Path(name): Path<String>,
    q: Result<Query<UptimeQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(q) = q.map_err(|e| ApiError::bad_request(e.body_text()))?;
    let window = match q.window.as_deref() {
        None => HumanDuration::from_secs(30 * 86_400),
        Some(w) => w
            .parse::<HumanDuration>()
            .ok()
            .filter(|d| (3_600_000..=400 * 86_400_000).contains(&d.as_millis()))
            .ok_or_else(|| {
                ApiError::bad_request(format!(
                    "`window` is a duration from 1h to 400d, such as 30d, not {w:?}"
                ))
            })?,
    };
    let targets = match subject(&s, &name)? {
        Subject::Component(c) => c.targets,
        Subject::Target(t) => vec![t],
    };
    let now = jiff::Timestamp::now().as_millisecond();
    let since = now - window.as_millis() as i64;
    let store = s.store.clone();
    let totals = blocking(move || -> Result<_, probity_engine::store::StoreError> {
        let mut all = probity_engine::store::Availability::default();
        for t in &targets {
            let a = store.availability(t, since, now + 1)?;
            all.count += a.count;
            all.failures += a.failures;
            all.degraded += a.degraded;
        }
        Ok(all)
    })
    .await?
    .map_err(ApiError::internal)?;
    let (message, color) = uptime_badge(totals.uptime());
    Ok(respond(svg(&format!("uptime {window}"), &message, color)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_never_rounds_a_failure_away_and_colours_by_band() {
        assert_eq!(uptime_badge(Some(0.99999)), ("99.99%".into(), GREEN));
        assert_eq!(uptime_badge(Some(1.0)), ("100%".into(), GREEN));
        assert_eq!(uptime_badge(Some(0.995)), ("99.50%".into(), LIGHT_GREEN));
        assert_eq!(uptime_badge(Some(0.96)), ("96.00%".into(), YELLOW));
        assert_eq!(uptime_badge(Some(0.5)), ("50.00%".into(), RED));
        assert_eq!(uptime_badge(None), ("no data".into(), GREY));
    }

    #[test]
    fn names_are_escaped_and_widths_grow_with_text() {
        let b = svg("a<b&\"c\"", "up", GREEN);
        assert!(b.contains("a&lt;b&amp;&quot;c&quot;: up"));
        assert!(!b.contains("a<b"));
        let w = |s: &str| {
            s.split("width=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        };
        assert!(w(&svg("Storage", "up", GREEN)) < w(&svg("Storage and more", "up", GREEN)));
        assert_eq!(status_badge("major_outage"), ("down", RED));
        assert_eq!(status_badge("under_maintenance"), ("maintenance", BLUE));
        assert_eq!(status_badge("whatever"), ("unknown", GREY));
    }
}
