//! The RSS and Atom formats: Azure's status feed, AWS's per-service-and-region feeds, and
//! any other RSS 2.0/Atom feed as a fallback. feed-rs reads the XML (it resolves only the
//! predefined entities, so an entity bomb stays text); dates go through our own lenient
//! reader ([`text::rss_date`]) because providers write `Z`, `PST` and `PDT`.

use super::names::{aws_service_name, is_region};
use super::text::{dated_updates, html_to_text, prose_window, rss_date};
use super::{FeedError, Impact, ProviderIncident, ProviderUpdate, err, looks_like_html};
use regex::Regex;
use std::sync::LazyLock;

fn read(format: &'static str, bytes: &[u8]) -> Result<feed_rs::model::Feed, FeedError> {
    if looks_like_html(bytes) {
        return Err(err(
            format,
            "this is an HTML page, not the feed: is the URL right, or did a proxy answer?",
        ));
    }
    let parser = feed_rs::parser::Builder::new()
        .timestamp_parser(|s| {
            rss_date(s).and_then(chrono::DateTime::<chrono::Utc>::from_timestamp_millis)
        })
        .build();
    parser
        .parse(bytes)
        .map_err(|e| err(format, format!("not a readable RSS or Atom document: {e}")))
}

fn ms(t: Option<chrono::DateTime<chrono::Utc>>) -> Option<i64> {
    t.map(|t| t.timestamp_millis())
}

fn text_of(e: &feed_rs::model::Entry) -> String {
    let html = e
        .summary
        .as_ref()
        .map(|s| s.content.as_str())
        .or_else(|| e.content.as_ref().and_then(|c| c.body.as_deref()))
        .unwrap_or("");
    html_to_text(html)
}

fn title_of(e: &feed_rs::model::Entry) -> String {
    e.title
        .as_ref()
        .map(|t| html_to_text(&t.content))
        .unwrap_or_default()
        .trim()
        .to_string()
}

static RESOLVED_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:has|have|had) been (?:fully )?(?:mitigated|resolved)\b|\b(?:is|are|was|were) (?:now )?(?:fully )?(?:mitigated|resolved)\b|\boperating normally\b")
        .expect("valid regex")
});

/// The status a provider's words imply, for feeds that state none.
fn status_from_words(text: &str) -> &'static str {
    let lower = text.to_ascii_lowercase();
    if RESOLVED_WORDS.is_match(text) {
        "resolved"
    } else if lower.contains("monitoring") {
        "monitoring"
    } else if lower.contains("identified") {
        "identified"
    } else {
        "investigating"
    }
}

fn strip_resolved(title: &str) -> (String, bool) {
    let t = title.trim();
    match t
        .strip_prefix("[RESOLVED]")
        .or_else(|| t.strip_prefix("[Resolved]"))
    {
        Some(rest) => (rest.trim().to_string(), true),
        None => (t.to_string(), false),
    }
}

/// Azure's status RSS: one item per active incident, overwritten in place (its `pubDate`
/// is the latest edit) and removed when resolved; `category` mixes services and regions;
/// the description is escaped HTML that states the impact start only in prose; no
/// severity. Items are taken as `major` (the public page carries only broad incidents) or
/// `maintenance` where they say so. `published_at` stays empty: the feed does not say
/// when an item first appeared, which is why probity records `first_seen_at`.
pub(super) fn azure(bytes: &[u8], source: &str) -> Result<Vec<ProviderIncident>, FeedError> {
    let feed = read("azure-rss", bytes)?;
    let channel = feed
        .title
        .as_ref()
        .map(|t| t.content.trim().to_string())
        .unwrap_or_default();
    if channel != "Azure Status" {
        return Err(err(
            "azure-rss",
            format!(
                "this is not Azure's status feed: its channel title is {channel:?}, not \"Azure Status\" (an empty channel is only trusted from the real feed)"
            ),
        ));
    }
    let channel_link = feed.links.first().map(|l| l.href.clone());
    Ok(feed
        .entries
        .iter()
        .map(|e| {
            let (title, resolved_title) = strip_resolved(&title_of(e));
            let text = text_of(e);
            let edited = ms(e.published.or(e.updated));
            let reference = edited.unwrap_or(0);
            let (mut services, mut regions) = (Vec::new(), Vec::new());
            for c in &e.categories {
                let term = c.term.trim().to_string();
                if term.is_empty() {
                    continue;
                }
                if is_region("azure", &term) {
                    regions.push(term);
                } else {
                    services.push(term);
                }
            }
            let (start, end) = prose_window(&text, reference);
            let status = if resolved_title {
                "resolved"
            } else {
                status_from_words(&text)
            };
            let resolved = status == "resolved";
            let dated = dated_updates(&text, reference);
            let updates = if dated.is_empty() {
                edited
                    .map(|at| ProviderUpdate {
                        at_ms: at,
                        status: status.into(),
                        text: text.clone(),
                    })
                    .into_iter()
                    .collect()
            } else {
                dated
                    .into_iter()
                    .map(|u| ProviderUpdate {
                        at_ms: u.at_ms,
                        status: u.status.unwrap_or_else(|| status.into()),
                        text: u.text,
                    })
                    .collect()
            };
            let maintenance = title.to_ascii_lowercase().contains("maintenance");
            let status = if maintenance && !resolved {
                "scheduled"
            } else {
                status
            };
            ProviderIncident {
                provider: "azure".into(),
                source: source.to_string(),
                external_id: e.id.clone(),
                title,
                services,
                regions,
                impact: if maintenance {
                    Impact::Maintenance
                } else {
                    Impact::Major
                },
                status: status.into(),
                started_at_ms: start,
                published_at_ms: None,
                updated_at_ms: edited,
                resolved_at_ms: if resolved { end.or(edited) } else { None },
                updates,
                url: e
                    .links
                    .first()
                    .map(|l| l.href.clone())
                    .or(channel_link.clone()),
            }
        })
        .collect())
}

/// An AWS RSS item's title prefix: what the dashboard said of the service at that moment.
fn aws_prefix(title: &str) -> (&'static str, Impact, &str) {
    const PREFIXES: &[(&str, &str, Impact)] = &[
        ("Service is operating normally:", "resolved", Impact::None),
        ("Informational message:", "informational", Impact::Minor),
        ("Performance issues:", "degraded", Impact::Minor),
        ("Performance issue:", "degraded", Impact::Minor),
        ("Service disruption:", "disruption", Impact::Major),
    ];
    for (p, status, impact) in PREFIXES {
        if let Some(rest) = title.strip_prefix(p) {
            return (status, *impact, rest.trim());
        }
    }
    ("informational", Impact::Minor, title.trim())
}

/// `http://status.aws.amazon.com/#s3-eu-west-1_1782316260` → (`s3-eu-west-1`, 1782316260).
fn aws_guid(guid: &str) -> Option<(String, Option<i64>)> {
    let frag = guid.rsplit_once('#').map_or(guid, |(_, f)| f);
    match frag.rsplit_once('_') {
        Some((key, epoch)) if !key.is_empty() => Some((key.to_string(), epoch.parse().ok())),
        _ if !frag.is_empty() => Some((frag.to_string(), None)),
        _ => None,
    }
}

struct AwsItem {
    key: String,
    epoch: Option<i64>,
    at: i64,
    status: &'static str,
    impact: Impact,
    title: String,
    text: String,
}

/// How far apart two posts on one service-region key may be and still be one incident.
const AWS_GROUP_GAP_MS: i64 = 12 * 3_600_000;

/// AWS's per-service-and-region RSS (and `all.rss`): every update is a new item with a
/// new guid, `<key>_<epoch>`. Items are grouped into incidents by key: a post starts a new
/// incident after the previous one said "Service is operating normally" or after 12 quiet
/// hours. The incident's id is the key and the first post's epoch, which does not change
/// as updates arrive.
pub(super) fn aws(bytes: &[u8], source: &str) -> Result<Vec<ProviderIncident>, FeedError> {
    let feed = read("aws-rss", bytes)?;
    // "Amazon Simple Storage Service (Ireland) Service Status" names the service.
    let channel_service = feed.title.as_ref().and_then(|t| {
        let t = t.content.trim();
        let t = t.strip_suffix("Service Status")?.trim();
        let t = t.split_once(" (").map_or(t, |(name, _)| name).trim();
        (!t.is_empty() && !t.starts_with("Amazon Web Services")).then(|| t.to_string())
    });
    let mut items: Vec<AwsItem> = Vec::new();
    for e in &feed.entries {
        let Some((key, epoch)) = aws_guid(&e.id) else {
            continue;
        };
        let Some(at) = ms(e.published.or(e.updated)).or(epoch.map(|s| s * 1000)) else {
            continue;
        };
        let full = title_of(e);
        let (status, impact, rest) = aws_prefix(&full);
        let (title, _) = strip_resolved(rest);
        items.push(AwsItem {
            key,
            epoch,
            at,
            status,
            impact,
            title,
            text: text_of(e),
        });
    }
    items.sort_by(|a, b| a.key.cmp(&b.key).then(a.at.cmp(&b.at)));
    let mut groups: Vec<Vec<AwsItem>> = Vec::new();
    for item in items {
        let join = groups.last().and_then(|g| g.last()).is_some_and(|last| {
            last.key == item.key
                && last.status != "resolved"
                && item.at - last.at <= AWS_GROUP_GAP_MS
        });
        if join {
            groups.last_mut().expect("checked").push(item);
        } else {
            groups.push(vec![item]);
        }
    }
    let single_key = {
        let mut keys: Vec<&str> = groups.iter().map(|g| g[0].key.as_str()).collect();
        keys.dedup();
        keys.len() == 1
    };
    Ok(groups
        .into_iter()
        .map(|g| {
            let first = &g[0];
            let last = g.last().expect("groups are never empty");
            let region = super::aws_json::region_of(&first.key);
            let service_key = match &region {
                Some(r) => first
                    .key
                    .strip_suffix(r.as_str())
                    .map_or(first.key.as_str(), |s| s.trim_end_matches('-')),
                None => first.key.as_str(),
            };
            let mut service = aws_service_name(service_key);
            if service == service_key
                && single_key
                && let Some(c) = &channel_service
            {
                service = c.clone();
            }
            let resolved = last.status == "resolved";
            // The window in prose, newest post first: the resolving post usually states it.
            let window = g
                .iter()
                .rev()
                .map(|i| prose_window(&i.text, i.at))
                .find(|w| w.0.is_some())
                .unwrap_or((None, None));
            let impact = g
                .iter()
                .map(|i| i.impact)
                .filter(|i| *i != Impact::None)
                .max()
                .unwrap_or(Impact::Minor);
            ProviderIncident {
                provider: "aws".into(),
                source: source.to_string(),
                external_id: format!("{}_{}", first.key, first.epoch.unwrap_or(first.at / 1000)),
                title: last.title.clone(),
                services: vec![service],
                regions: region.into_iter().collect(),
                impact,
                status: if resolved {
                    "resolved".into()
                } else {
                    status_from_words(&last.text).into()
                },
                started_at_ms: window.0,
                published_at_ms: Some(first.at),
                updated_at_ms: Some(last.at),
                resolved_at_ms: if resolved {
                    window.1.or(Some(last.at))
                } else {
                    None
                },
                updates: g
                    .iter()
                    .map(|i| ProviderUpdate {
                        at_ms: i.at,
                        status: i.status.into(),
                        text: i.text.clone(),
                    })
                    .collect(),
                url: Some("https://health.aws.amazon.com/health/status".into()),
            }
        })
        .collect())
}

/// Any other RSS 2.0, RSS 1.0 or Atom feed, with fewer fields: each item is an incident;
/// a description written as a dated list (as Statuspage's history feeds are) becomes its
/// updates; the status is the last update's or what the words say; the impact is `none`
/// (`maintenance` where the title says so) because such feeds state none.
pub(super) fn generic(bytes: &[u8], source: &str) -> Result<Vec<ProviderIncident>, FeedError> {
    let feed = read("rss", bytes)?;
    let provider = feed
        .title
        .as_ref()
        .map(|t| {
            let t = t.content.trim();
            let t = t.strip_suffix("Incident History").unwrap_or(t);
            let t = t.trim().trim_end_matches(['-', '|', ':']).trim();
            super::text::slug(t.strip_suffix("Status").unwrap_or(t))
        })
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "rss".into());
    Ok(feed
        .entries
        .iter()
        .map(|e| {
            let (title, resolved_title) = strip_resolved(&title_of(e));
            let text = text_of(e);
            let at = ms(e.published.or(e.updated));
            let edited = ms(e.updated.or(e.published));
            let reference = edited.unwrap_or(0);
            let dated = dated_updates(&text, reference);
            let mut updates: Vec<ProviderUpdate> = dated
                .iter()
                .map(|u| ProviderUpdate {
                    at_ms: u.at_ms,
                    status: u
                        .status
                        .clone()
                        .unwrap_or_else(|| status_from_words(&u.text).into()),
                    text: u.text.clone(),
                })
                .collect();
            if updates.is_empty()
                && let Some(at) = at
            {
                updates.push(ProviderUpdate {
                    at_ms: at,
                    status: status_from_words(&text).into(),
                    text: text.clone(),
                });
            }
            let status = if resolved_title {
                "resolved".to_string()
            } else {
                match updates.last() {
                    Some(u) if !dated.is_empty() => u.status.clone(),
                    _ => status_from_words(&text).into(),
                }
            };
            let resolved = matches!(status.as_str(), "resolved" | "completed" | "postmortem");
            let (start, end) = prose_window(&text, reference);
            let lower = title.to_ascii_lowercase();
            ProviderIncident {
                provider: provider.clone(),
                source: source.to_string(),
                external_id: e.id.clone(),
                title,
                services: e.categories.iter().map(|c| c.term.clone()).collect(),
                regions: Vec::new(),
                impact: if lower.contains("maintenance") || status == "scheduled" {
                    Impact::Maintenance
                } else {
                    Impact::None
                },
                started_at_ms: start.or(updates.first().map(|u| u.at_ms)),
                published_at_ms: updates.first().map(|u| u.at_ms).or(at),
                updated_at_ms: edited.or(updates.last().map(|u| u.at_ms)),
                resolved_at_ms: if resolved {
                    end.or(updates.last().map(|u| u.at_ms))
                } else {
                    None
                },
                status,
                updates,
                url: e.links.first().map(|l| l.href.clone()),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_guids() {
        assert_eq!(
            aws_guid("http://status.aws.amazon.com/#rds-us-east-1_1676072880"),
            Some(("rds-us-east-1".into(), Some(1_676_072_880)))
        );
        assert_eq!(
            aws_guid("http://status.aws.amazon.com/#billingconsole_1675376364"),
            Some(("billingconsole".into(), Some(1_675_376_364)))
        );
        assert_eq!(aws_guid("#"), None);
    }

    #[test]
    fn words_imply_a_status() {
        assert_eq!(
            status_from_words("The issue has been resolved and the service is operating normally."),
            "resolved"
        );
        assert_eq!(
            status_from_words("This issue was mitigated at 15:42 UTC."),
            "resolved"
        );
        assert_eq!(
            status_from_words("We have identified the likely cause."),
            "identified"
        );
        assert_eq!(
            status_from_words("We are looking into it."),
            "investigating"
        );
        assert_eq!(
            status_from_words("We expect the issue to be resolved soon."),
            "investigating"
        );
    }
}
