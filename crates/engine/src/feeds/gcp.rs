//! Google Cloud's `incidents.json` (also Google Workspace's): an array of incidents with
//! `begin`, `created`, `end`, `modified`, `updates[]` newest first, products and locations.

use super::{FeedError, Impact, ProviderIncident, ProviderUpdate, json, ms};
use serde::Deserialize;

#[derive(Deserialize)]
struct Incident {
    id: String,
    begin: Option<String>,
    created: Option<String>,
    end: Option<String>,
    modified: Option<String>,
    external_desc: Option<String>,
    #[serde(default)]
    updates: Vec<Update>,
    most_recent_update: Option<Update>,
    status_impact: Option<String>,
    severity: Option<String>,
    service_name: Option<String>,
    #[serde(default)]
    affected_products: Vec<Titled>,
    uri: Option<String>,
    #[serde(default)]
    currently_affected_locations: Vec<Location>,
    #[serde(default)]
    previously_affected_locations: Vec<Location>,
}

#[derive(Deserialize)]
struct Update {
    when: Option<String>,
    created: Option<String>,
    text: Option<String>,
    status: Option<String>,
    #[serde(default)]
    affected_locations: Vec<Location>,
}

#[derive(Deserialize)]
struct Titled {
    title: String,
}

#[derive(Deserialize)]
struct Location {
    id: String,
}

/// GCP states impact as a status; `severity: high` on an outage makes it critical.
fn impact(status_impact: Option<&str>, severity: Option<&str>) -> Impact {
    match (status_impact, severity) {
        (Some("SERVICE_OUTAGE"), Some("high")) => Impact::Critical,
        (Some("SERVICE_OUTAGE"), _) => Impact::Major,
        (Some("SERVICE_DISRUPTION"), _) => Impact::Minor,
        _ => Impact::None,
    }
}

pub(super) fn parse(bytes: &[u8], source: &str) -> Result<Vec<ProviderIncident>, FeedError> {
    let incidents: Vec<Incident> = json("gcp-json", bytes)?;
    Ok(incidents
        .into_iter()
        .map(|i| {
            let mut updates: Vec<ProviderUpdate> = i
                .updates
                .iter()
                .filter_map(|u| {
                    Some(ProviderUpdate {
                        at_ms: ms(u.when.as_deref().or(u.created.as_deref())?)?,
                        status: u.status.clone().unwrap_or_default().to_ascii_lowercase(),
                        text: u.text.clone().unwrap_or_default(),
                    })
                })
                .collect();
            updates.sort_by_key(|u| u.at_ms);
            let mut regions: Vec<String> = i
                .currently_affected_locations
                .iter()
                .chain(&i.previously_affected_locations)
                .chain(i.updates.iter().flat_map(|u| &u.affected_locations))
                .map(|l| l.id.clone())
                .collect();
            regions.sort();
            regions.dedup();
            let mut services: Vec<String> = i
                .affected_products
                .iter()
                .map(|p| p.title.clone())
                .collect();
            if services.is_empty() {
                services.extend(i.service_name.clone());
            }
            let latest = i
                .most_recent_update
                .as_ref()
                .and_then(|u| u.status.as_deref());
            let resolved = i.end.is_some() || latest == Some("AVAILABLE");
            ProviderIncident {
                provider: "gcp".into(),
                source: source.to_string(),
                url: i.uri.as_ref().map(|u| {
                    format!(
                        "https://status.cloud.google.com/{}",
                        u.trim_start_matches('/')
                    )
                }),
                title: i.external_desc.clone().unwrap_or_else(|| i.id.clone()),
                external_id: i.id,
                services,
                regions,
                impact: impact(i.status_impact.as_deref(), i.severity.as_deref()),
                status: if resolved {
                    "resolved"
                } else {
                    "investigating"
                }
                .into(),
                started_at_ms: i.begin.as_deref().and_then(ms),
                published_at_ms: i.created.as_deref().and_then(ms),
                updated_at_ms: i.modified.as_deref().and_then(ms),
                resolved_at_ms: i.end.as_deref().and_then(ms),
                updates,
            }
        })
        .collect())
}
