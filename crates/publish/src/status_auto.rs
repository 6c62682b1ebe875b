//! Automatic status-page incidents (`[status] auto_incidents`): what observed incidents
//! imply for the public page (`auto_incidents`, pure), and the loop that posts it.

use probity_engine::store::{StatusIncident, Store, StoreResult};
use probity_ground::config::Config;
use std::collections::HashMap;

/// The status-page incidents that observed incidents imply when `[status] auto_incidents`
/// is on: one per observed incident on a component's target (id `auto` and the incident's
/// number, so writing it again changes nothing), resolved when the observed one resolves.
/// Only what is public goes out: the components and a plain sentence, never the cause.
pub fn auto_incidents(
    config: &Config,
    observed: &[probity_engine::store::IncidentRecord],
    existing: &[StatusIncident],
    since_ms: i64,
) -> (
    Vec<StatusIncident>,
    Vec<(String, probity_engine::store::StatusUpdate)>,
) {
    let (mut create, mut resolve) = (Vec::new(), Vec::new());
    let existing: HashMap<&str, &StatusIncident> =
        existing.iter().map(|e| (e.id.as_str(), e)).collect();
    // Each target's components, in the page's order.
    let mut on_target: HashMap<&str, Vec<String>> = HashMap::new();
    for c in &config.status.components {
        for t in &c.targets {
            let names = on_target.entry(t.as_str()).or_default();
            if !names.contains(&c.name) {
                names.push(c.name.clone());
            }
        }
    }
    for o in observed.iter().filter(|o| o.started_at_ms >= since_ms) {
        let Some(components) = on_target.get(o.target.as_str()) else {
            continue;
        };
        let id = format!("auto{:08}", o.id);
        let list = components.join(", ");
        let resolution = |end: i64| probity_engine::store::StatusUpdate {
            id: format!("{id}-resolved"),
            at_ms: end,
            status: "resolved".into(),
            message: format!("{list} recovered; this incident is resolved."),
        };
        match existing.get(id.as_str()) {
            None => {
                let mut updates = vec![probity_engine::store::StatusUpdate {
                    id: format!("{id}-open"),
                    at_ms: o.started_at_ms,
                    status: "investigating".into(),
                    message: format!(
                        "We are seeing problems with {list} and are looking into them."
                    ),
                }];
                // One that is over already (seen first after a restart, or when
                // `auto_incidents` is turned on over a history) is posted resolved, never
                // shown as open in between.
                updates.extend(o.resolved_at_ms.map(resolution));
                create.push(StatusIncident {
                    id: id.clone(),
                    name: format!("Problems with {list}"),
                    status: updates.last().map(|u| u.status.clone()).unwrap_or_default(),
                    impact: if o.severity == probity_core::result::Health::Down {
                        "major".into()
                    } else {
                        "minor".into()
                    },
                    components: components.clone(),
                    created_at_ms: o.started_at_ms,
                    updated_at_ms: updates.last().map_or(o.started_at_ms, |u| u.at_ms),
                    resolved_at_ms: o.resolved_at_ms,
                    updates,
                })
            }
            Some(e) if e.resolved_at_ms.is_none() => {
                if let Some(end) = o.resolved_at_ms {
                    resolve.push((id.clone(), resolution(end)));
                }
            }
            Some(_) => {}
        }
    }
    (create, resolve)
}

/// Keeps the automatic status-page incidents in step with observed ones, every 2 seconds,
/// until `shutdown`. A pass reads every incident of both kinds, so it runs only when the
/// store's `status_marks` moved since the last pass that went through: between changes a
/// pass is one small query.
pub async fn run_auto(
    store: std::sync::Arc<dyn Store>,
    config: std::sync::Arc<Config>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut done: Option<probity_engine::store::StatusMarks> = None;
    loop {
        let (s, c) = (store.clone(), config.clone());
        let res = tokio::task::spawn_blocking(move || -> StoreResult<_> {
            // Read before the pass: whatever changes during it moves them again.
            let marks = s.status_marks()?;
            if done == Some(marks) {
                return Ok(marks);
            }
            let now = jiff::Timestamp::now().as_millisecond();
            let observed = s.incidents(probity_engine::store::IncidentFilter::All)?;
            let existing = s.status_incidents()?;
            let (create, resolve) = auto_incidents(&c, &observed, &existing, now - 90 * 86_400_000);
            for i in &create {
                s.create_status_incident(i)?;
            }
            for (id, u) in &resolve {
                s.add_status_update(id, u)?;
            }
            Ok(marks)
        })
        .await;
        match res {
            Ok(Ok(marks)) => done = Some(marks),
            Ok(Err(e)) => {
                done = None;
                tracing::warn!(error = %e, "updating the status page failed; retrying")
            }
            Err(_) => done = None,
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
            _ = shutdown.wait_for(|s| *s) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Automatic incidents: one per observed incident on a component's target, posted
    /// resolved when it is over already (never shown open in between), resolved later when
    /// it ends after; nothing for a target on no component or before the window.
    #[test]
    fn observed_incidents_post_once_and_resolve() {
        let dir = std::path::Path::new(".");
        let config = probity_ground::config::parse(
            "probity.toml",
            "[status]\nauto_incidents = true\n\n[[target]]\nname = \"web\"\nkind = \"tcp\"\naddress = \"127.0.0.1:9\"\n\n[[target]]\nname = \"db\"\nkind = \"tcp\"\naddress = \"127.0.0.1:9\"\n\n[[component]]\nname = \"Website\"\ntargets = [\"web\"]\n\n[[component]]\nname = \"Everything\"\ntargets = [\"web\", \"web\"]\n",
            dir,
        )
        .unwrap();
        let observed = |id: i64, target: &str, start: i64, end: Option<i64>| {
            probity_engine::store::IncidentRecord {
                id,
                target: target.into(),
                started_at_ms: start,
                resolved_at_ms: end,
                severity: probity_core::result::Health::Down,
                cause: probity_core::result::Cause {
                    class: probity_core::result::ErrorClass::Connect,
                    detail: "refused".into(),
                },
                evidence: vec![],
            }
        };
        let mut seen = vec![
            observed(1, "web", 1_000, Some(2_000)),
            observed(2, "web", 3_000, None),
            observed(3, "db", 3_000, None),
            observed(4, "web", 10, Some(20)),
        ];
        let (create, resolve) = auto_incidents(&config, &seen, &[], 500);
        assert!(resolve.is_empty());
        let got: Vec<_> = create
            .iter()
            .map(|i| {
                (
                    i.id.as_str(),
                    i.status.as_str(),
                    i.resolved_at_ms,
                    i.updated_at_ms,
                    i.updates.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (
                    "auto00000001",
                    "resolved",
                    Some(2_000),
                    2_000,
                    vec!["auto00000001-open", "auto00000001-resolved"]
                ),
                (
                    "auto00000002",
                    "investigating",
                    None,
                    3_000,
                    vec!["auto00000002-open"]
                ),
            ]
        );
        assert_eq!(create[0].components, vec!["Website", "Everything"]);
        assert_eq!(create[0].name, "Problems with Website, Everything");
        assert_eq!(create[0].impact, "major");
        // Posted: nothing new until the open one ends, then its resolution only.
        assert_eq!(
            auto_incidents(&config, &seen, &create, 500),
            (vec![], vec![])
        );
        seen[1].resolved_at_ms = Some(4_000);
        let (again, resolve) = auto_incidents(&config, &seen, &create, 500);
        assert!(again.is_empty());
        assert_eq!(resolve.len(), 1);
        assert_eq!(resolve[0].0, "auto00000002");
        assert_eq!(
            (
                resolve[0].1.id.as_str(),
                resolve[0].1.at_ms,
                resolve[0].1.status.as_str()
            ),
            ("auto00000002-resolved", 4_000, "resolved")
        );
    }
}
