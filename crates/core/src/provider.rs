//! What a provider declares: incidents from official status feeds, normalized to one shape
//! whatever the format (Statuspage, Google Cloud, Azure, AWS, RSS). Times are Unix
//! milliseconds; a time the provider does not state is `None`, never guessed.

use serde::{Deserialize, Serialize};

/// The provider's own judgement of an incident's impact, on Statuspage's scale.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Impact {
    None,
    Minor,
    Major,
    Critical,
    Maintenance,
}

impl Impact {
    pub fn as_str(self) -> &'static str {
        match self {
            Impact::None => "none",
            Impact::Minor => "minor",
            Impact::Major => "major",
            Impact::Critical => "critical",
            Impact::Maintenance => "maintenance",
        }
    }
}

/// One update the provider posted on an incident.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderUpdate {
    pub at_ms: i64,
    pub status: String,
    pub text: String,
}

/// One incident as a provider declared it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProviderIncident {
    pub provider: String,
    /// Which feed it came from.
    pub source: String,
    /// The provider's own id for it.
    pub external_id: String,
    pub title: String,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    pub impact: Impact,
    /// `investigating`, `identified`, `monitoring`, `resolved`, `postmortem`, `scheduled`,
    /// `in_progress`, `verifying`, `completed`.
    pub status: String,
    /// When the provider says impact began.
    pub started_at_ms: Option<i64>,
    /// When the provider first published it.
    pub published_at_ms: Option<i64>,
    pub updated_at_ms: Option<i64>,
    pub resolved_at_ms: Option<i64>,
    /// Oldest first.
    pub updates: Vec<ProviderUpdate>,
    pub url: Option<String>,
}

impl Impact {
    pub fn parse(s: &str) -> Option<Impact> {
        Some(match s {
            "none" => Impact::None,
            "minor" => Impact::Minor,
            "major" => Impact::Major,
            "critical" => Impact::Critical,
            "maintenance" => Impact::Maintenance,
            _ => return None,
        })
    }
}

impl ProviderUpdate {
    /// What identifies an update across polls: when it was posted and with what status.
    /// Its text may be edited; that is an edit of this update, not a new one.
    pub fn key(&self) -> (i64, &str) {
        (self.at_ms, self.status.as_str())
    }
}

/// One field that differs between two sightings of an incident.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FieldChange {
    /// `title`, `impact`, `status`, `started_at`, `published_at`, `resolved_at`,
    /// `services`, `regions`, `url`, `updates_added`, `update_text`, `update_removed`.
    pub field: String,
    /// True when a value the provider had already published was altered or withdrawn;
    /// false for progress (a new update, a status moving on, a time stated for the first
    /// time, a service added).
    pub edit: bool,
}

/// How a later sighting of an incident differs from the one before: every field that
/// changed, each marked as progress or as an edit of what was already published.
///
/// `overwrites_in_place` is for formats that keep only the latest text (Azure's RSS): there
/// an earlier update vanishing is the format, not an edit, and is not reported.
pub fn compare(
    old: &ProviderIncident,
    new: &ProviderIncident,
    overwrites_in_place: bool,
) -> Vec<FieldChange> {
    let mut out = Vec::new();
    let mut push = |field: &str, edit: bool| {
        out.push(FieldChange {
            field: field.to_string(),
            edit,
        })
    };
    if old.title != new.title {
        push("title", true);
    }
    if old.impact != new.impact {
        push("impact", true);
    }
    if old.status != new.status {
        push("status", false);
    }
    let time = |a: Option<i64>, b: Option<i64>| -> Option<bool> {
        match (a, b) {
            (x, y) if x == y => None,
            (None, Some(_)) => Some(false),
            _ => Some(true),
        }
    };
    for (field, a, b) in [
        ("started_at", old.started_at_ms, new.started_at_ms),
        ("published_at", old.published_at_ms, new.published_at_ms),
        ("resolved_at", old.resolved_at_ms, new.resolved_at_ms),
    ] {
        if let Some(edit) = time(a, b) {
            push(field, edit);
        }
    }
    for (field, a, b) in [
        ("services", &old.services, &new.services),
        ("regions", &old.regions, &new.regions),
    ] {
        if a != b {
            push(field, a.iter().any(|x| !b.contains(x)));
        }
    }
    if old.url != new.url {
        push("url", false);
    }
    let old_updates: std::collections::HashMap<(i64, &str), &str> = old
        .updates
        .iter()
        .map(|u| (u.key(), u.text.as_str()))
        .collect();
    let new_keys: std::collections::HashSet<(i64, &str)> =
        new.updates.iter().map(|u| u.key()).collect();
    if new
        .updates
        .iter()
        .any(|u| !old_updates.contains_key(&u.key()))
    {
        push("updates_added", false);
    }
    if new
        .updates
        .iter()
        .any(|u| old_updates.get(&u.key()).is_some_and(|t| *t != u.text))
    {
        push("update_text", true);
    }
    if !overwrites_in_place && old_updates.keys().any(|k| !new_keys.contains(k)) {
        push("update_removed", true);
    }
    out
}

/// What a component a feed names stands for, as a `[feed.components]` entry states it:
/// a service, a region, or both (a component group that is a region maps to a region).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ComponentMapping {
    pub service: Option<String>,
    pub region: Option<String>,
}

/// Per feed name, its component map: component name as the feed writes it → mapping.
pub type ComponentMaps =
    std::collections::BTreeMap<String, std::collections::BTreeMap<String, ComponentMapping>>;

impl ProviderIncident {
    /// Puts the services and regions of `map` in place of the component names it lists
    /// (compared without case and surrounding space), in both lists: a mapped service
    /// replaces the name, a mapped region is added to the regions. Names not in the map
    /// stay as they are.
    pub fn map_components(&mut self, map: &std::collections::BTreeMap<String, ComponentMapping>) {
        if map.is_empty() {
            return;
        }
        let find = |name: &str| {
            map.iter()
                .find(|(k, _)| k.trim().eq_ignore_ascii_case(name.trim()))
                .map(|(_, m)| m)
        };
        let (mut services, mut regions) = (Vec::new(), Vec::new());
        let push = |list: &mut Vec<String>, v: &str| {
            if !list.iter().any(|x| x == v) {
                list.push(v.to_string());
            }
        };
        for (i, name) in std::mem::take(&mut self.services)
            .into_iter()
            .map(|s| (0, s))
            .chain(
                std::mem::take(&mut self.regions)
                    .into_iter()
                    .map(|r| (1, r)),
            )
        {
            match find(&name) {
                Some(m) => {
                    if let Some(s) = &m.service {
                        push(&mut services, s);
                    }
                    if let Some(r) = &m.region {
                        push(&mut regions, r);
                    }
                }
                None if i == 0 => push(&mut services, &name),
                None => push(&mut regions, &name),
            }
        }
        self.services = services;
        self.regions = regions;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident() -> ProviderIncident {
        ProviderIncident {
            provider: "p".into(),
            source: "f".into(),
            external_id: "x".into(),
            title: "Errors".into(),
            services: vec!["API".into()],
            regions: vec![],
            impact: Impact::Minor,
            status: "investigating".into(),
            started_at_ms: None,
            published_at_ms: Some(1_000),
            updated_at_ms: Some(1_000),
            resolved_at_ms: None,
            updates: vec![ProviderUpdate {
                at_ms: 1_000,
                status: "investigating".into(),
                text: "Looking".into(),
            }],
            url: None,
        }
    }

    fn fields(c: &[FieldChange]) -> Vec<(&str, bool)> {
        c.iter().map(|c| (c.field.as_str(), c.edit)).collect()
    }

    #[test]
    fn progress_is_not_an_edit() {
        let old = incident();
        let mut new = old.clone();
        new.status = "resolved".into();
        new.started_at_ms = Some(500);
        new.resolved_at_ms = Some(3_000);
        new.updated_at_ms = Some(3_000);
        new.services.push("Console".into());
        new.updates.push(ProviderUpdate {
            at_ms: 3_000,
            status: "resolved".into(),
            text: "Fixed".into(),
        });
        assert_eq!(
            fields(&compare(&old, &new, false)),
            [
                ("status", false),
                ("started_at", false),
                ("resolved_at", false),
                ("services", false),
                ("updates_added", false)
            ]
        );
        assert!(compare(&old, &old, false).is_empty());
    }

    #[test]
    fn rewriting_what_was_published_is_an_edit() {
        let mut old = incident();
        old.started_at_ms = Some(900);
        let mut new = old.clone();
        new.started_at_ms = Some(950);
        new.impact = Impact::None;
        new.services.clear();
        new.updates[0].text = "Nothing to see".into();
        assert_eq!(
            fields(&compare(&old, &new, false)),
            [
                ("impact", true),
                ("started_at", true),
                ("services", true),
                ("update_text", true)
            ]
        );
        // An update withdrawn: an edit, unless the format overwrites in place.
        let mut gone = old.clone();
        gone.updates[0].at_ms = 2_000;
        assert_eq!(
            fields(&compare(&old, &gone, false)),
            [("updates_added", false), ("update_removed", true)]
        );
        assert_eq!(
            fields(&compare(&old, &gone, true)),
            [("updates_added", false)]
        );
    }

    #[test]
    fn a_component_map_puts_services_and_regions_in_place_of_names() {
        let mut i = ProviderIncident {
            provider: "acme".into(),
            source: "acme-status".into(),
            external_id: "1".into(),
            title: "t".into(),
            services: vec!["Blob Storage EU".into(), "Compute".into(), "Europe".into()],
            regions: vec!["EU West".into()],
            impact: Impact::Major,
            status: "investigating".into(),
            started_at_ms: None,
            published_at_ms: None,
            updated_at_ms: None,
            resolved_at_ms: None,
            updates: vec![],
            url: None,
        };
        let map = std::collections::BTreeMap::from([
            (
                "blob storage eu ".to_string(),
                ComponentMapping {
                    service: Some("storage".into()),
                    region: Some("westeurope".into()),
                },
            ),
            (
                "Europe".to_string(),
                ComponentMapping {
                    service: None,
                    region: Some("eu".into()),
                },
            ),
            (
                "EU West".to_string(),
                ComponentMapping {
                    service: None,
                    region: Some("westeurope".into()),
                },
            ),
        ]);
        i.map_components(&map);
        assert_eq!(i.services, ["storage", "Compute"]);
        assert_eq!(i.regions, ["westeurope", "eu"]);
        // An empty map changes nothing.
        let before = i.clone();
        i.map_components(&Default::default());
        assert_eq!(i, before);
    }
}
