//! The organisation's own public status page: components (whose state comes from their
//! targets, the incidents posted on the page, and maintenance windows), incidents posted
//! through the API or the CLI, 90-day uptime bars, an Atom feed, and JSON in the shape of
//! the Atlassian Statuspage API v2 so existing consumers read it like any Statuspage site.
//! Only what is public is shown: component names and states, posted incidents and their
//! updates; never targets' addresses, errors or probity's internal incidents.

use crate::state::{Uptime, UptimeCache};
use probity_core::observe::Status;
use probity_engine::live::Shared;
use probity_engine::store::{Availability, StatusIncident, Store, StoreResult};
use probity_ground::config::Config;
use probity_ground::html::escape;
use probity_ground::time::{Stamp, rfc3339};
use schemars::JsonSchema;
use serde::Serialize;
use std::collections::HashMap;

pub const STATUSES: &[&str] = &["investigating", "identified", "monitoring", "resolved"];
pub const IMPACTS: &[&str] = &["none", "minor", "major", "critical"];

/// A new id in Statuspage's style: 12 lowercase letters and digits.
pub fn new_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = [0u8; 12];
    getrandom::fill(&mut b).expect("the system's random source");
    b.iter()
        .map(|x| ALPHABET[*x as usize % ALPHABET.len()] as char)
        .collect()
}

fn component_id(name: &str) -> String {
    probity_core::names::slug(name)
}

/// Component states, worst last.
const ORDER: &[&str] = &[
    "operational",
    "under_maintenance",
    "degraded_performance",
    "partial_outage",
    "major_outage",
];

fn worse<'a>(a: &'a str, b: &'a str) -> &'a str {
    let rank = |s: &str| ORDER.iter().position(|x| *x == s).unwrap_or(0);
    if rank(b) > rank(a) { b } else { a }
}

/// A component's state now: from its targets (all down: major outage; some down: partial;
/// any degraded: degraded), raised by open incidents posted on it, and under maintenance
/// while a window is on and nothing is worse. `unknown` while none of its targets has a
/// result: a status page does not claim health it has not measured.
pub fn component_status(
    config: &Config,
    shared: &Shared,
    incidents: &[StatusIncident],
    component: &probity_ground::config::Component,
    now_ms: i64,
) -> String {
    let live = shared.targets.read().expect("live lock");
    let states: Vec<Status> = component
        .targets
        .iter()
        .filter_map(|t| live.get(t).map(|l| l.status))
        .filter(|s| *s != Status::Unknown)
        .collect();
    drop(live);
    let mut state = if states.is_empty() {
        "unknown"
    } else if states.iter().all(|s| *s == Status::Down) {
        "major_outage"
    } else if states.contains(&Status::Down) {
        "partial_outage"
    } else if states.contains(&Status::Degraded) {
        "degraded_performance"
    } else {
        "operational"
    };
    for i in incidents
        .iter()
        .filter(|i| i.resolved_at_ms.is_none() && i.components.contains(&component.name))
    {
        let s = match i.impact.as_str() {
            "critical" => "major_outage",
            "major" => "partial_outage",
            "minor" => "degraded_performance",
            _ => "operational",
        };
        state = if state == "unknown" {
            s
        } else {
            worse(state, s)
        };
    }
    let maintenance = component
        .targets
        .iter()
        .any(|t| !config.maintenance_at(t, now_ms).is_empty());
    if maintenance && matches!(state, "operational" | "unknown") {
        state = "under_maintenance";
    }
    state.to_string()
}

/// Every component with its state now.
pub fn component_states(
    config: &Config,
    shared: &Shared,
    incidents: &[StatusIncident],
    now_ms: i64,
) -> Vec<(probity_ground::config::Component, String)> {
    config
        .status
        .components
        .iter()
        .map(|c| {
            (
                c.clone(),
                component_status(config, shared, incidents, c, now_ms),
            )
        })
        .collect()
}

/// The page a Statuspage document belongs to.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SpPage {
    pub id: &'static str,
    pub name: String,
    pub url: String,
    pub time_zone: &'static str,
    pub updated_at: Stamp,
}

/// A component in Statuspage's shape.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SpComponent {
    pub id: String,
    pub name: String,
    /// `operational`, `degraded_performance`, `partial_outage`, `major_outage` or
    /// `under_maintenance`.
    pub status: String,
    pub created_at: Stamp,
    pub updated_at: Stamp,
    pub position: usize,
    pub description: Option<String>,
    pub showcase: bool,
    pub group_id: Option<String>,
    pub page_id: &'static str,
    pub group: bool,
    pub only_show_if_degraded: bool,
}

/// An incident in Statuspage's shape.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SpIncident {
    pub id: String,
    pub name: String,
    pub status: String,
    pub impact: String,
    pub created_at: Stamp,
    pub updated_at: Stamp,
    pub started_at: Stamp,
    pub monitoring_at: Option<Stamp>,
    pub resolved_at: Option<Stamp>,
    pub shortlink: String,
    pub page_id: &'static str,
    /// Newest first.
    pub incident_updates: Vec<SpUpdate>,
    pub components: Vec<SpIncidentComponent>,
}

/// An update of an incident, in Statuspage's shape.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SpUpdate {
    pub id: String,
    pub status: String,
    pub body: String,
    pub incident_id: String,
    pub created_at: Stamp,
    pub updated_at: Stamp,
    pub display_at: Stamp,
    pub affected_components: Vec<SpAffected>,
}

/// A component an update names.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SpAffected {
    pub code: String,
    pub name: String,
}

/// A component of an incident, with its state now.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SpIncidentComponent {
    pub id: String,
    pub name: String,
    pub status: String,
}

/// Scheduled maintenance in Statuspage's shape.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SpMaintenance {
    pub id: String,
    pub name: String,
    /// `scheduled` or `in_progress`.
    pub status: &'static str,
    pub impact: &'static str,
    pub created_at: Stamp,
    pub updated_at: Stamp,
    pub scheduled_for: Stamp,
    pub scheduled_until: Stamp,
    pub incident_updates: Vec<SpUpdate>,
    pub components: Vec<SpComponentRef>,
}

/// A component named by id and name.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SpComponentRef {
    pub id: String,
    pub name: String,
}

/// The overall indicator.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SpStatus {
    /// `none`, `minor`, `major` or `critical`.
    pub indicator: &'static str,
    pub description: &'static str,
}

/// A Statuspage API v2 document: the page, and what the path asks for.
#[derive(Clone, Debug, Serialize, JsonSchema)]
pub struct SpDocument {
    pub page: SpPage,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub components: Option<Vec<SpComponent>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incidents: Option<Vec<SpIncident>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_maintenances: Option<Vec<SpMaintenance>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<SpStatus>,
}

/// An incident in Statuspage's shape, its components with their states.
pub fn incident_json(
    components: &[(probity_ground::config::Component, String)],
    i: &StatusIncident,
    public_url: &str,
) -> SpIncident {
    let comps = components
        .iter()
        .filter(|(c, _)| i.components.contains(&c.name))
        .map(|(c, s)| SpIncidentComponent {
            id: component_id(&c.name),
            name: c.name.clone(),
            status: s.clone(),
        })
        .collect();
    SpIncident {
        id: i.id.clone(),
        name: i.name.clone(),
        status: i.status.clone(),
        impact: i.impact.clone(),
        created_at: Stamp::ms(i.created_at_ms),
        updated_at: Stamp::ms(i.updated_at_ms),
        started_at: Stamp::ms(i.created_at_ms),
        monitoring_at: None,
        resolved_at: Stamp::opt(i.resolved_at_ms),
        shortlink: format!("{}/status#{}", public_url.trim_end_matches('/'), i.id),
        page_id: "probity",
        incident_updates: i
            .updates
            .iter()
            .rev()
            .map(|u| SpUpdate {
                id: u.id.clone(),
                status: u.status.clone(),
                body: u.message.clone(),
                incident_id: i.id.clone(),
                created_at: Stamp::ms(u.at_ms),
                updated_at: Stamp::ms(u.at_ms),
                display_at: Stamp::ms(u.at_ms),
                affected_components: i
                    .components
                    .iter()
                    .map(|c| SpAffected {
                        code: component_id(c),
                        name: c.clone(),
                    })
                    .collect(),
            })
            .collect(),
        components: comps,
    }
}

/// Everything the page shows, gathered once.
pub struct Page {
    pub title: String,
    pub components: Vec<(probity_ground::config::Component, String)>,
    pub incidents: Vec<StatusIncident>,
    /// Per component, 90 days oldest first: (day start, uptime share or `None`).
    pub uptime: std::sync::Arc<Uptime>,
    /// Maintenance windows on components' targets within the next 7 days:
    /// (name, start, end, components).
    pub maintenance: Vec<(String, i64, i64, Vec<String>)>,
    pub now_ms: i64,
}

/// The 90-day uptime bars of every component, read from the daily totals of the targets the
/// page shows.
fn uptime(store: &dyn Store, config: &Config, now_ms: i64) -> StoreResult<Uptime> {
    let day = 86_400_000;
    let today = now_ms.div_euclid(day) * day;
    let since = today - 89 * day;
    // Only the targets the page shows.
    let mut shown: Vec<String> = config
        .status
        .components
        .iter()
        .flat_map(|c| c.targets.iter().cloned())
        .collect();
    shown.sort();
    shown.dedup();
    let daily = store.daily_availability(since, Some(&shown))?;
    let mut uptime = HashMap::new();
    for c in &config.status.components {
        let days = (0..90)
            .map(|k| {
                let d = since + k * day;
                let total = c.targets.iter().fold(
                    Availability {
                        count: 0,
                        failures: 0,
                        degraded: 0,
                    },
                    |mut acc, t| {
                        if let Some(a) = daily.get(&(t.clone(), d)) {
                            acc.count += a.count;
                            acc.failures += a.failures;
                        }
                        acc
                    },
                );
                (d, total.uptime())
            })
            .collect();
        uptime.insert(c.name.clone(), days);
    }
    Ok(uptime)
}

pub fn page(
    store: &dyn Store,
    config: &Config,
    shared: &Shared,
    now_ms: i64,
    bars: &UptimeCache,
) -> StoreResult<Page> {
    let incidents = store.status_incidents()?;
    let uptime = bars.get(now_ms, || uptime(store, config, now_ms))?;
    let day = 86_400_000;
    let mut maintenance = Vec::new();
    for m in &config.maintenance {
        let comps: Vec<String> = config
            .status
            .components
            .iter()
            .filter(|c| c.targets.iter().any(|t| m.targets.contains(t)))
            .map(|c| c.name.clone())
            .collect();
        if comps.is_empty() {
            continue;
        }
        for (a, b) in m.window.spans_within(now_ms - 86_400_000, now_ms + 7 * day) {
            if b > now_ms {
                maintenance.push((m.name.clone(), a, b, comps.clone()));
            }
        }
    }
    maintenance.sort_by_key(|m| m.1);
    let components = component_states(config, shared, &incidents, now_ms);
    Ok(Page {
        title: config.status.title.clone(),
        components,
        incidents,
        uptime,
        maintenance,
        now_ms,
    })
}

impl Page {
    fn page_json(&self, public_url: &str) -> SpPage {
        SpPage {
            id: "probity",
            name: self.title.clone(),
            url: public_url.to_string(),
            time_zone: "Etc/UTC",
            updated_at: Stamp::ms(self.now_ms),
        }
    }

    pub fn components_json(&self) -> Vec<SpComponent> {
        self.components
            .iter()
            .enumerate()
            .map(|(i, (c, s))| SpComponent {
                id: component_id(&c.name),
                name: c.name.clone(),
                status: s.clone(),
                created_at: Stamp::ms(self.now_ms),
                updated_at: Stamp::ms(self.now_ms),
                position: i + 1,
                description: (!c.description.is_empty()).then(|| c.description.clone()),
                showcase: true,
                group_id: None,
                page_id: "probity",
                group: false,
                only_show_if_degraded: false,
            })
            .collect()
    }

    pub fn incident_json(&self, i: &StatusIncident, public_url: &str) -> SpIncident {
        incident_json(&self.components, i, public_url)
    }

    fn maintenance_json(&self) -> Vec<SpMaintenance> {
        self.maintenance
            .iter()
            .map(|(name, a, b, comps)| SpMaintenance {
                id: format!("{}-{}", component_id(name), a / 1000),
                name: name.clone(),
                status: if *a <= self.now_ms {
                    "in_progress"
                } else {
                    "scheduled"
                },
                impact: "maintenance",
                created_at: Stamp::ms(*a),
                updated_at: Stamp::ms(*a),
                scheduled_for: Stamp::ms(*a),
                scheduled_until: Stamp::ms(*b),
                incident_updates: Vec::new(),
                components: comps
                    .iter()
                    .map(|c| SpComponentRef {
                        id: component_id(c),
                        name: c.clone(),
                    })
                    .collect(),
            })
            .collect()
    }

    /// The overall indicator: the worst component or open incident.
    pub fn status_json(&self) -> SpStatus {
        let worst = self
            .components
            .iter()
            .map(|(_, s)| s.as_str())
            .fold("operational", worse);
        let open_impact = self
            .incidents
            .iter()
            .filter(|i| i.resolved_at_ms.is_none())
            .map(|i| IMPACTS.iter().position(|x| *x == i.impact).unwrap_or(0))
            .max()
            .unwrap_or(0);
        // One component down among several is a partial outage; a major one is when every
        // component is down.
        let all_down =
            !self.components.is_empty() && self.components.iter().all(|(_, s)| s == "major_outage");
        let from_components = match worst {
            "major_outage" if all_down => 3,
            "major_outage" | "partial_outage" => 2,
            "degraded_performance" => 1,
            _ => 0,
        };
        let level = open_impact.max(from_components);
        let (indicator, description) = match level {
            3 => ("critical", "Major System Outage"),
            2 => ("major", "Partial System Outage"),
            1 => ("minor", "Minor Service Outage"),
            // Nothing configured is nothing measured: never "operational".
            _ if self.components.is_empty() => ("none", "No components configured"),
            _ => ("none", "All Systems Operational"),
        };
        SpStatus {
            indicator,
            description,
        }
    }

    /// The Statuspage v2 documents, by path.
    pub fn v2(&self, path: &str, public_url: &str) -> Option<SpDocument> {
        let incidents = |open_only: bool| -> Vec<SpIncident> {
            self.incidents
                .iter()
                .filter(|i| !open_only || i.resolved_at_ms.is_none())
                .map(|i| self.incident_json(i, public_url))
                .collect()
        };
        let mut doc = SpDocument {
            page: self.page_json(public_url),
            components: None,
            incidents: None,
            scheduled_maintenances: None,
            status: None,
        };
        match path {
            "summary.json" => {
                doc.components = Some(self.components_json());
                doc.incidents = Some(incidents(true));
                doc.scheduled_maintenances = Some(self.maintenance_json());
                doc.status = Some(self.status_json());
            }
            "status.json" => doc.status = Some(self.status_json()),
            "components.json" => doc.components = Some(self.components_json()),
            "incidents.json" => doc.incidents = Some(incidents(false)),
            "incidents/unresolved.json" => doc.incidents = Some(incidents(true)),
            "scheduled-maintenances.json" => {
                doc.scheduled_maintenances = Some(self.maintenance_json())
            }
            _ => return None,
        }
        Some(doc)
    }

    /// The page as an Atom feed: one entry per incident, its updates as the content.
    pub fn atom(&self, public_url: &str) -> String {
        let base = public_url.trim_end_matches('/');
        let updated = self
            .incidents
            .iter()
            .map(|i| i.updated_at_ms)
            .max()
            .unwrap_or(self.now_ms);
        let mut out = format!(
            "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n  <id>{base}/status</id>\n  <title>{} — incident history</title>\n  <link rel=\"alternate\" type=\"text/html\" href=\"{base}/status\"/>\n  <link rel=\"self\" type=\"application/atom+xml\" href=\"{base}/status/feed.atom\"/>\n  <updated>{}</updated>\n  <author><name>{}</name></author>\n",
            escape(&self.title),
            rfc3339(updated),
            escape(&self.title),
        );
        for i in &self.incidents {
            let mut content = String::new();
            for u in i.updates.iter().rev() {
                // Statuspage's own layout, which feed readers (and probity) know.
                let stamp = jiff::Timestamp::from_millisecond(u.at_ms)
                    .map(|t| t.strftime("%b %-d, %H:%M UTC").to_string())
                    .unwrap_or_default();
                content.push_str(&format!(
                    "<p><small>{stamp}</small><br><strong>{}</strong> - {}</p>",
                    escape(&capitalize(&u.status)),
                    escape(&u.message)
                ));
            }
            out.push_str(&format!(
                "  <entry>\n    <id>{base}/status#{id}</id>\n    <title>{}</title>\n    <link rel=\"alternate\" type=\"text/html\" href=\"{base}/status#{id}\"/>\n    <published>{}</published>\n    <updated>{}</updated>\n    <content type=\"html\">{}</content>\n  </entry>\n",
                escape(&i.name),
                rfc3339(i.created_at_ms),
                rfc3339(i.updated_at_ms),
                escape(&content),
                id = i.id,
            ));
        }
        out.push_str("</feed>\n");
        out
    }

    /// The HTML page: no script, colours with words beside them, readable on a phone. A
    /// template that escapes every value it is given (askama).
    pub fn html(&self) -> String {
        use askama::Template;
        let status = self.status_json();
        let incident = |i: &StatusIncident| IncidentView {
            id: i.id.clone(),
            name: i.name.clone(),
            impact: i.impact.clone(),
            affects: if i.components.is_empty() {
                "no listed component".to_string()
            } else {
                i.components.join(", ")
            },
            updates: i
                .updates
                .iter()
                .rev()
                .map(|u| UpdateView {
                    status: u.status.clone(),
                    message: u.message.clone(),
                    at: rfc3339(u.at_ms),
                })
                .collect(),
        };
        let updated = rfc3339(self.now_ms);
        let page = StatusTemplate {
            updated_shown: updated.get(11..19).unwrap_or_default().to_string(),
            updated,
            title: &self.title,
            css: CSS,
            indicator: status.indicator,
            description: status.description,
            open: self
                .incidents
                .iter()
                .filter(|i| i.resolved_at_ms.is_none())
                .map(incident)
                .collect(),
            past: self
                .incidents
                .iter()
                .filter(|i| i.resolved_at_ms.is_some())
                .map(incident)
                .collect(),
            maintenance: self
                .maintenance
                .iter()
                .map(|(name, a, b, comps)| MaintenanceView {
                    name: name.clone(),
                    from: rfc3339(*a),
                    to: rfc3339(*b),
                    components: comps.join(", "),
                })
                .collect(),
            components: self
                .components
                .iter()
                .map(|(c, s)| {
                    let days = self.uptime.get(&c.name).cloned().unwrap_or_default();
                    let measured: Vec<f64> = days.iter().filter_map(|d| d.1).collect();
                    let avg = (!measured.is_empty())
                        .then(|| measured.iter().sum::<f64>() / measured.len() as f64);
                    ComponentView {
                        name: c.name.clone(),
                        state: s.clone(),
                        state_words: s.replace('_', " "),
                        description: c.description.clone(),
                        bars: days
                            .iter()
                            .map(|(d, u)| {
                                let (class, label) = match u {
                                    None => ("none", "no data".to_string()),
                                    Some(u) if *u >= 0.999 => {
                                        ("good", format!("{:.3}%", u * 100.0))
                                    }
                                    Some(u) if *u >= 0.99 => ("fair", format!("{:.3}%", u * 100.0)),
                                    Some(u) => ("poor", format!("{:.3}%", u * 100.0)),
                                };
                                BarView {
                                    class,
                                    title: format!("{}: {label}", &rfc3339(*d)[..10]),
                                }
                            })
                            .collect(),
                        uptime: avg.map_or("no data yet".into(), |a| {
                            format!("{:.3}% uptime", a * 100.0)
                        }),
                    }
                })
                .collect(),
        };
        // Rendering plain values into a fixed template cannot fail; should it, the page
        // says so rather than showing half a page.
        page.render().unwrap_or_else(|e| {
            tracing::error!(error = %e, "status page template failed");
            "<!DOCTYPE html>\n<p>The status page could not be drawn.</p>\n".to_string()
        }) + "\n"
    }
}

/// The public page, drawn by `templates/status.html`.
#[derive(askama::Template)]
#[template(path = "status.html")]
struct StatusTemplate<'a> {
    title: &'a str,
    css: &'a str,
    indicator: &'a str,
    description: &'a str,
    open: Vec<IncidentView>,
    past: Vec<IncidentView>,
    maintenance: Vec<MaintenanceView>,
    components: Vec<ComponentView>,
    /// When the data was read (RFC 3339) and the same as HH:MM:SS.
    updated: String,
    updated_shown: String,
}

struct IncidentView {
    id: String,
    name: String,
    impact: String,
    affects: String,
    updates: Vec<UpdateView>,
}

struct UpdateView {
    status: String,
    message: String,
    at: String,
}

struct MaintenanceView {
    name: String,
    from: String,
    to: String,
    components: String,
}

struct ComponentView {
    name: String,
    state: String,
    state_words: String,
    description: String,
    bars: Vec<BarView>,
    uptime: String,
}

struct BarView {
    class: &'static str,
    title: String,
}

const CSS: &str = ".updated{color:#555;font-size:.85rem}body{font-family:system-ui,sans-serif;max-width:50rem;margin:0 auto;padding:1rem;color:#1a1a1a;background:#fff}h1{margin:.2rem 0}.overall{padding:.6rem 1rem;border-radius:.3rem;font-weight:600;border-left:.5rem solid}.overall.none{background:#e6f4ea;border-color:#1e7b34}.overall.minor{background:#fff4d6;border-color:#9a6700}.overall.major,.overall.critical{background:#fde7e7;border-color:#b3261e}ul.components{list-style:none;padding:0}ul.components li{border:1px solid #ddd;border-radius:.3rem;padding:.6rem;margin:.5rem 0}.row{display:flex;justify-content:space-between;gap:1rem;flex-wrap:wrap}.name{font-weight:600}.state{font-weight:600}.state.operational{color:#1e7b34}.state.degraded_performance,.state.partial_outage{color:#9a6700}.state.major_outage{color:#b3261e}.state.unknown,.state.under_maintenance{color:#555}.bars{display:flex;gap:1px;margin-top:.4rem}.bar{flex:1;height:2rem;min-width:2px;border-radius:1px}.bar.good{background:#1e7b34}.bar.fair{background:#d29c00}.bar.poor{background:#b3261e}.bar.none{background:#ccc}.uptime,.desc{color:#555;font-size:.85rem;margin:.2rem 0}article{border-top:1px solid #eee;padding:.5rem 0}article h3{margin:.3rem 0}.update{margin:.3rem 0}.update b{text-transform:capitalize}footer{margin-top:2rem;color:#555}a{color:#0b57d0}";

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(states: &[&str]) -> Page {
        Page {
            title: "t".into(),
            components: states
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    (
                        probity_ground::config::Component {
                            name: format!("c{i}"),
                            description: String::new(),
                            targets: vec![],
                        },
                        s.to_string(),
                    )
                })
                .collect(),
            incidents: vec![],
            uptime: Default::default(),
            maintenance: vec![],
            now_ms: 0,
        }
    }

    /// One component down among several is a partial outage; all down is a major one;
    /// no components is never "operational", and the page says how to add them.
    #[test]
    fn the_overall_state_reads_as_people_expect() {
        let words = |p: &Page| p.status_json().description;
        assert_eq!(
            words(&page(&["major_outage", "operational", "operational"])),
            "Partial System Outage"
        );
        assert_eq!(
            words(&page(&["major_outage", "major_outage"])),
            "Major System Outage"
        );
        assert_eq!(
            words(&page(&["degraded_performance", "operational"])),
            "Minor Service Outage"
        );
        assert_eq!(words(&page(&["operational"])), "All Systems Operational");
        let empty = page(&[]);
        assert_eq!(words(&empty), "No components configured");
        let html = empty.html();
        assert!(html.contains("This page shows no components yet"), "{html}");
        assert!(!html.contains("Operational"), "{html}");
    }
}
