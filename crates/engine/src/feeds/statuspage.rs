//! Atlassian Statuspage API v2: `incidents.json`, `incidents/unresolved.json`,
//! `summary.json` and `scheduled-maintenances.json`.

use super::{FeedError, Impact, ProviderIncident, ProviderUpdate, json, ms};
use serde::Deserialize;

#[derive(Deserialize)]
struct Document {
    page: Option<Page>,
    #[serde(default)]
    incidents: Vec<Incident>,
    #[serde(default)]
    scheduled_maintenances: Vec<Incident>,
}

/// `summary.json` and `components.json`: every component the page has.
#[derive(Deserialize)]
struct ComponentList {
    #[serde(default)]
    components: Vec<Component>,
}

#[derive(Deserialize)]
struct Component {
    name: String,
    /// A group (its members carry `group_id`): a heading, not a component.
    #[serde(default)]
    group: bool,
}

/// The components a Statuspage document lists (`summary.json`, `components.json`), groups
/// left out; empty when it lists none (`incidents.json`).
pub(super) fn components(bytes: &[u8]) -> Result<Vec<String>, FeedError> {
    let doc: ComponentList = json("statuspage", bytes)?;
    Ok(doc
        .components
        .into_iter()
        .filter(|c| !c.group)
        .map(|c| c.name)
        .collect())
}

#[derive(Deserialize)]
struct Page {
    name: Option<String>,
    url: Option<String>,
}

#[derive(Deserialize)]
struct Incident {
    id: String,
    name: String,
    status: String,
    impact: Option<String>,
    created_at: Option<String>,
    updated_at: Option<String>,
    started_at: Option<String>,
    resolved_at: Option<String>,
    scheduled_for: Option<String>,
    scheduled_until: Option<String>,
    shortlink: Option<String>,
    #[serde(default)]
    incident_updates: Vec<Update>,
    #[serde(default)]
    components: Vec<Named>,
}

#[derive(Deserialize)]
struct Update {
    status: String,
    body: Option<String>,
    display_at: Option<String>,
    created_at: Option<String>,
    #[serde(default)]
    affected_components: Option<Vec<Named>>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

fn impact(s: Option<&str>) -> Impact {
    match s {
        Some("minor") => Impact::Minor,
        Some("major") => Impact::Major,
        Some("critical") => Impact::Critical,
        Some("maintenance") => Impact::Maintenance,
        _ => Impact::None,
    }
}

pub(super) fn parse(bytes: &[u8], source: &str) -> Result<Vec<ProviderIncident>, FeedError> {
    let doc: Document = json("statuspage", bytes)?;
    let provider = doc
        .page
        .as_ref()
        .and_then(|p| p.name.clone())
        .unwrap_or_else(|| "statuspage".into());
    let base = doc.page.as_ref().and_then(|p| p.url.clone());
    let maintenance_ids: Vec<String> = doc
        .scheduled_maintenances
        .iter()
        .map(|m| m.id.clone())
        .collect();
    let mut out = Vec::new();
    for (i, maintenance) in doc
        .incidents
        .into_iter()
        .map(|i| (i, false))
        .chain(doc.scheduled_maintenances.into_iter().map(|m| (m, true)))
    {
        // summary.json may list a maintenance among incidents too; keep it once.
        if !maintenance && maintenance_ids.contains(&i.id) {
            continue;
        }
        let mut updates: Vec<ProviderUpdate> = i
            .incident_updates
            .iter()
            .filter_map(|u| {
                Some(ProviderUpdate {
                    at_ms: ms(u.display_at.as_deref().or(u.created_at.as_deref())?)?,
                    status: u.status.clone(),
                    text: u.body.clone().unwrap_or_default(),
                })
            })
            .collect();
        updates.sort_by_key(|u| u.at_ms);
        let mut services: Vec<String> = i.components.iter().map(|c| c.name.clone()).collect();
        for u in &i.incident_updates {
            services.extend(
                u.affected_components
                    .iter()
                    .flatten()
                    .map(|c| c.name.clone()),
            );
        }
        services.sort();
        services.dedup();
        let impact = if maintenance {
            Impact::Maintenance
        } else {
            impact(i.impact.as_deref())
        };
        let started = if maintenance {
            i.scheduled_for.as_deref()
        } else {
            i.started_at.as_deref().or(i.created_at.as_deref())
        };
        let resolved = i
            .resolved_at
            .as_deref()
            .or(if maintenance && i.status == "completed" {
                i.scheduled_until.as_deref()
            } else {
                None
            });
        out.push(ProviderIncident {
            provider: provider.clone(),
            source: source.to_string(),
            url: i.shortlink.clone().or_else(|| {
                base.as_ref()
                    .map(|b| format!("{}/incidents/{}", b.trim_end_matches('/'), i.id))
            }),
            external_id: i.id,
            title: i.name,
            services,
            regions: Vec::new(),
            impact,
            status: i.status,
            started_at_ms: started.and_then(ms),
            published_at_ms: i.created_at.as_deref().and_then(ms),
            updated_at_ms: i.updated_at.as_deref().and_then(ms),
            resolved_at_ms: resolved.and_then(ms),
            updates,
        });
    }
    Ok(out)
}
