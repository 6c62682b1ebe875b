//! Provider status feeds: parsers that turn each official format into
//! [`ProviderIncident`]s. Parsers take bytes and return values or a [`FeedError`] that says
//! what is wrong; they never panic and refuse oversized documents.
//!
//! Formats: Atlassian Statuspage API v2, Google Cloud `incidents.json`, AWS's public JSON
//! and per-service RSS, Azure's status RSS, and any other RSS/Atom feed as a fallback.

mod aws_json;
pub mod edits;
mod gcp;
pub use probity_core::names;
pub use probity_ground::config::feed_format::Format;
use probity_ground::time::Stamp;
pub mod poll;
mod rss;
mod statuspage;
pub mod text;

pub use probity_core::provider::{Impact, ProviderIncident, ProviderUpdate};

/// The largest document a parser accepts.
pub const MAX_DOCUMENT: usize = 32 << 20;

/// Why a document could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{format}: {message}")]
pub struct FeedError {
    pub format: &'static str,
    pub message: String,
}

pub(crate) fn err(format: &'static str, message: impl Into<String>) -> FeedError {
    FeedError {
        format,
        message: message.into(),
    }
}

/// Reads a JSON document, with errors that say where and a word about what came instead.
pub(crate) fn json<T: serde::de::DeserializeOwned>(
    format: &'static str,
    bytes: &[u8],
) -> Result<T, FeedError> {
    serde_json::from_slice(bytes).map_err(|e| {
        let what = if looks_like_html(bytes) {
            " (this is an HTML page, not the feed: is the URL right, or did a proxy answer?)"
                .to_string()
        } else {
            String::new()
        };
        err(
            format,
            format!("line {}, column {}: {e}{what}", e.line(), e.column()),
        )
    })
}

pub(crate) fn looks_like_html(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(512)]).to_ascii_lowercase();
    let t = head.trim_start();
    t.starts_with("<!doctype html") || t.starts_with("<html") || t.contains("<body")
}

/// Milliseconds from an RFC 3339 time (any offset).
pub(crate) fn ms(s: &str) -> Option<i64> {
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// Guesses the format of a document.
pub fn sniff(bytes: &[u8]) -> Option<Format> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Some(Format::AwsJson); // only AWS serves a feed in UTF-16
    }
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]);
    let t = text.trim_start_matches('\u{feff}').trim_start();
    if t.starts_with('[') {
        if t.contains("\"arn\"") && t.contains("\"event_log\"") {
            return Some(Format::AwsJson);
        }
        return t
            .contains("\"external_desc\"")
            .then_some(Format::GcpJson)
            .or(t.contains("\"begin\"").then_some(Format::GcpJson));
    }
    if t.starts_with('{') {
        if t.contains("\"incidents\"")
            || t.contains("\"scheduled_maintenances\"")
            || t.contains("\"page\"")
        {
            return Some(Format::Statuspage);
        }
        return None;
    }
    if t.starts_with('<') && !looks_like_html(bytes) {
        if t.contains("azure.status") || t.contains("Azure Status") {
            return Some(Format::AzureRss);
        }
        if t.contains("status.aws.amazon.com") || t.contains("health.aws.amazon.com") {
            return Some(Format::AwsRss);
        }
        return Some(Format::Rss);
    }
    None
}

/// Parses `bytes` as `format`. `source` names the feed in the results.
pub fn parse(
    format: Format,
    bytes: &[u8],
    source: &str,
) -> Result<Vec<ProviderIncident>, FeedError> {
    if bytes.len() > MAX_DOCUMENT {
        return Err(err(
            format.name(),
            format!(
                "the document is {} bytes; the limit is {MAX_DOCUMENT}",
                bytes.len()
            ),
        ));
    }
    let format = match format {
        Format::Auto => sniff(bytes).ok_or_else(|| {
            let why = if looks_like_html(bytes) {
                "it is an HTML page, not a feed"
            } else {
                "it is none of the known shapes"
            };
            err(
                "auto",
                format!("cannot tell the format: {why}; name it with --format"),
            )
        })?,
        f => f,
    };
    match format {
        Format::Statuspage => statuspage::parse(bytes, source),
        Format::GcpJson => gcp::parse(bytes, source),
        Format::AwsJson => aws_json::parse(bytes, source),
        Format::AzureRss => rss::azure(bytes, source),
        Format::AwsRss => rss::aws(bytes, source),
        Format::Rss => rss::generic(bytes, source),
        Format::Auto => Err(err("auto", "cannot tell the format; name it with --format")),
    }
}

/// A provider incident as probity shows it (times RFC 3339 UTC): the API, the CLI's
/// `--json`, the evidence bundle's readers.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct DeclaredIncident {
    pub provider: String,
    pub source: String,
    pub external_id: String,
    pub title: String,
    pub services: Vec<String>,
    pub regions: Vec<String>,
    pub impact: Impact,
    pub status: String,
    pub started_at: Option<Stamp>,
    pub published_at: Option<Stamp>,
    pub updated_at: Option<Stamp>,
    pub resolved_at: Option<Stamp>,
    pub updates: Vec<DeclaredUpdate>,
    pub url: Option<String>,
}

/// One update the provider posted.
#[derive(Clone, Debug, serde::Serialize, schemars::JsonSchema)]
pub struct DeclaredUpdate {
    pub at: Stamp,
    pub status: String,
    pub text: String,
    /// When probity first saw this update (only where the store knows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen_at: Option<Option<Stamp>>,
}

/// The shape of a provider incident probity shows.
pub fn incident_json(i: &ProviderIncident) -> DeclaredIncident {
    DeclaredIncident {
        provider: i.provider.clone(),
        source: i.source.clone(),
        external_id: i.external_id.clone(),
        title: i.title.clone(),
        services: i.services.clone(),
        regions: i.regions.clone(),
        impact: i.impact,
        status: i.status.clone(),
        started_at: Stamp::opt(i.started_at_ms),
        published_at: Stamp::opt(i.published_at_ms),
        updated_at: Stamp::opt(i.updated_at_ms),
        resolved_at: Stamp::opt(i.resolved_at_ms),
        updates: i
            .updates
            .iter()
            .map(|u| DeclaredUpdate {
                at: Stamp::ms(u.at_ms),
                status: u.status.clone(),
                text: u.text.clone(),
                first_seen_at: None,
            })
            .collect(),
        url: i.url.clone(),
    }
}

/// Every component a feed document lists, for formats that list them (Statuspage's
/// `summary.json` and `components.json`); `None` for formats that name components only in
/// incidents, and for a document that lists none.
pub fn listed_components(format: Format, bytes: &[u8]) -> Option<Vec<String>> {
    let format = match format {
        Format::Auto => sniff(bytes)?,
        f => f,
    };
    match format {
        Format::Statuspage => statuspage::components(bytes).ok().filter(|c| !c.is_empty()),
        _ => None,
    }
}

/// `incident` as matching sees it: through the component map of the feed it came from.
pub fn mapped(
    maps: &probity_core::provider::ComponentMaps,
    incident: &ProviderIncident,
) -> ProviderIncident {
    let mut i = incident.clone();
    if let Some(map) = maps.get(&i.source) {
        i.map_components(map);
    }
    i
}

/// Applies each feed's `[feed.components]` to the incidents it declared (by the feed
/// each came from), so that matching sees the services and regions the map names.
pub fn map_components(
    maps: &probity_core::provider::ComponentMaps,
    rows: &mut [crate::store::StoredProviderIncident],
) {
    for r in rows {
        if let Some(map) = maps.get(&r.incident.source) {
            r.incident.map_components(map);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(
            sniff(br#"{"page":{"id":"x"},"incidents":[]}"#),
            Some(Format::Statuspage)
        );
        assert_eq!(
            sniff(br#"[{"id":"a","begin":"2026-01-01T00:00:00Z","external_desc":"x"}]"#),
            Some(Format::GcpJson)
        );
        assert_eq!(sniff(b"<!DOCTYPE html><html><body>502</body></html>"), None);
        assert_eq!(
            sniff(
                b"<?xml version=\"1.0\"?><rss><channel><title>Azure Status</title></channel></rss>"
            ),
            Some(Format::AzureRss)
        );
        assert_eq!(sniff(b"   "), None);
        assert_eq!(sniff(b"\xFF\xFE[\x00]\x00"), Some(Format::AwsJson));
        assert_eq!(
            sniff(br#"[{"arn":"a","event_log":[]}]"#),
            Some(Format::AwsJson)
        );
    }

    #[test]
    fn format_names_round_trip() {
        for n in Format::NAMES {
            assert_eq!(Format::parse(n).unwrap().name(), *n);
        }
    }

    #[test]
    fn hostile_documents_get_clear_errors() {
        let e = parse(
            Format::Statuspage,
            b"<html><body>Bad gateway</body></html>",
            "t",
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with("statuspage: line 1, column 1: "),
            "{e}"
        );
        assert!(e.message.contains("HTML page"), "{e}");
        let e = parse(Format::GcpJson, br#"[{"id": "x", "begin": "2026-"#, "t").unwrap_err();
        assert!(e.message.starts_with("line 1, column 28: EOF"), "{e}");
        let e = parse(Format::Auto, b"<html><body>oops</body></html>", "t").unwrap_err();
        assert_eq!(
            e.to_string(),
            "auto: cannot tell the format: it is an HTML page, not a feed; name it with --format"
        );
        let big = vec![b' '; MAX_DOCUMENT + 1];
        assert!(
            parse(Format::Statuspage, &big, "t")
                .unwrap_err()
                .message
                .contains("the limit is")
        );
        let e = parse(
            Format::AzureRss,
            b"<rss version=\"2.0\"><channel><title>Other</title></channel></rss>",
            "t",
        )
        .unwrap_err();
        assert!(
            e.to_string().starts_with(
                "azure-rss: this is not Azure's status feed: its channel title is \"Other\""
            ),
            "{e}"
        );
        let e = parse(
            Format::Rss,
            b"<rss version=\"2.0\"><channel><item><title>x",
            "t",
        )
        .unwrap_err();
        assert!(
            e.message.starts_with("not a readable RSS or Atom document"),
            "{e}"
        );
    }
}
