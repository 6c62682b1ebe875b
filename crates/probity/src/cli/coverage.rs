//! `probity check`'s warnings about what feeds and targets fail to cover each other: with
//! the feed documents stored by earlier polls, a target that matches none of the components
//! its provider's status page lists (its declarations would never be matched to it), and
//! components no target watches.

use probity_core::names::{affects, slug};
use probity_core::provider::{Impact, ProviderIncident};
use probity_engine::store::traits::*;
use probity_ground::config::Config;

/// Whether `target` would be matched by a declaration naming only `component` of `feed`.
fn watches(
    config: &Config,
    feed: &probity_ground::config::Feed,
    component: &str,
    target: &probity_ground::config::Target,
) -> bool {
    let i = ProviderIncident {
        provider: feed.provider.clone(),
        source: feed.name.clone(),
        external_id: String::new(),
        title: String::new(),
        services: vec![component.to_string()],
        regions: vec![],
        impact: Impact::Major,
        status: String::new(),
        started_at_ms: None,
        published_at_ms: None,
        updated_at_ms: None,
        resolved_at_ms: None,
        updates: vec![],
        url: None,
    };
    affects(
        &probity_engine::feeds::mapped(&config.reconcile.components, &i),
        target.names(),
    )
}

/// The warnings, each one line. Empty when no store exists yet or no stored feed document
/// lists its components (only Statuspage's `summary.json` and `components.json` do). A
/// PostgreSQL store is not asked: `probity check` does not connect to a database.
pub fn warnings(config: &Config) -> Vec<String> {
    let sqlite = matches!(config.store, probity_ground::config::StoreConfig::Sqlite);
    if !sqlite || !config.server.data_dir.join("probity.db").exists() || config.feeds.is_empty() {
        return Vec::new();
    }
    let Ok(store) = probity_engine::store::SqliteStore::open(&config.server.data_dir) else {
        return Vec::new();
    };
    let states = store.feed_states().unwrap_or_default();
    let mut out = Vec::new();
    for feed in &config.feeds {
        let Some(state) = states.iter().find(|s| s.feed == feed.name) else {
            continue;
        };
        let Some(listed) = state
            .last_sha256
            .as_deref()
            .and_then(|sha| store.feed_document(sha).ok().flatten())
            .and_then(|doc| probity_engine::feeds::listed_components(feed.format, &doc))
        else {
            continue;
        };
        let when = state
            .last_ok_ms
            .map(probity_ground::time::rfc3339)
            .unwrap_or_default();
        let targets: Vec<_> = config
            .targets
            .iter()
            .filter(|t| {
                t.provider
                    .as_deref()
                    .is_some_and(|p| slug(p) == slug(&feed.provider))
            })
            .collect();
        for t in &targets {
            if !listed.iter().any(|c| watches(config, feed, c, t)) {
                let n = t.names();
                out.push(format!(
                    "warning: target `{}` ({} / {} / {}) matches none of the {} components feed `{}` listed at its last stored poll ({when}): its declarations will never be matched to it; correct its `service` and `region`, or map the component in `[feed.components]`",
                    t.name,
                    feed.provider,
                    n.service.unwrap_or("any service"),
                    n.region.unwrap_or("any region"),
                    listed.len(),
                    feed.name,
                ));
            }
        }
        let unwatched: Vec<&String> = listed
            .iter()
            .filter(|c| !targets.iter().any(|t| watches(config, feed, c, t)))
            .collect();
        if !unwatched.is_empty() {
            out.push(format!(
                "note: feed `{}` lists {} no target watches: {}",
                feed.name,
                match unwatched.len() {
                    1 => "1 component".to_string(),
                    n => format!("{n} components"),
                },
                unwatched
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
    }
    out
}
