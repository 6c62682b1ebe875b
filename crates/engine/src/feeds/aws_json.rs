//! AWS Health Dashboard's public JSON (`health.aws.amazon.com/public/currentevents`, and the
//! per-service arrays of `historyevents.json`): served as UTF-16 with a byte-order mark,
//! times as epoch-second strings at the event level and numbers in `event_log`, status
//! codes `0` resolved, `1` informational, `2` degraded, `3` disruption (AWS publishes no
//! enumeration; this is how independent parsers read them).
//!
//! The impact's start is stated only in prose ("Starting at 2:12 PM PDT"); it is read from
//! there, and stays empty rather than guessed when no post states it.

use super::{FeedError, Impact, ProviderIncident, ProviderUpdate, err, json};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize)]
struct Event {
    date: Option<Epoch>,
    arn: String,
    status: Option<Epoch>,
    service: Option<String>,
    service_name: Option<String>,
    summary: Option<String>,
    #[serde(default)]
    event_log: Vec<LogEntry>,
    #[serde(default)]
    impacted_services: BTreeMap<String, Impacted>,
    end_time: Option<Epoch>,
}

#[derive(Deserialize)]
struct LogEntry {
    message: Option<String>,
    status: Option<Epoch>,
    timestamp: Option<Epoch>,
}

#[derive(Deserialize)]
struct Impacted {
    service_name: Option<String>,
    max: Option<Epoch>,
}

/// A number AWS writes either as a JSON number or as a string of digits.
#[derive(Deserialize)]
#[serde(untagged)]
enum Epoch {
    Number(i64),
    Text(String),
}

impl Epoch {
    fn get(&self) -> Option<i64> {
        match self {
            Epoch::Number(n) => Some(*n),
            Epoch::Text(s) => s.trim().parse().ok(),
        }
    }
}

/// UTF-16 (with a byte-order mark) or UTF-8 (with or without one) to UTF-8.
fn decode(bytes: &[u8]) -> Result<String, FeedError> {
    let units = |be: bool| -> Vec<u16> {
        bytes[2..]
            .chunks(2)
            .map(|c| {
                if c.len() == 2 {
                    if be {
                        u16::from_be_bytes([c[0], c[1]])
                    } else {
                        u16::from_le_bytes([c[0], c[1]])
                    }
                } else {
                    0xFFFD
                }
            })
            .collect()
    };
    let text = match bytes {
        [0xFF, 0xFE, ..] => String::from_utf16(&units(false)),
        [0xFE, 0xFF, ..] => String::from_utf16(&units(true)),
        _ => {
            let b = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
            return String::from_utf8(b.to_vec()).map_err(|e| {
                err(
                    "aws-json",
                    format!(
                        "not UTF-8 or UTF-16 text (byte {})",
                        e.utf8_error().valid_up_to()
                    ),
                )
            });
        }
    };
    text.map_err(|_| err("aws-json", "broken UTF-16 (an unpaired surrogate)"))
}

/// The region at the end of a service key such as `ec2-us-east-1` or `sts-us-gov-west-1`.
pub(super) fn region_of(key: &str) -> Option<String> {
    let parts: Vec<&str> = key.split('-').collect();
    for take in [4, 3] {
        if parts.len() > take {
            let tail = &parts[parts.len() - take..];
            let is_region = tail
                .last()
                .is_some_and(|d| d.chars().all(|c| c.is_ascii_digit()))
                && tail[0].len() == 2
                && tail[0].chars().all(|c| c.is_ascii_lowercase());
            if is_region && (take == 3 || tail[1] == "gov" || tail[1] == "iso" || tail[1] == "isob")
            {
                return Some(tail.join("-"));
            }
        }
    }
    None
}

fn impact(code: i64) -> Impact {
    match code {
        3 => Impact::Major,
        // An informational post on an event still acknowledges something: the RSS feeds'
        // "Informational message" reads the same way.
        1 | 2 => Impact::Minor,
        _ => Impact::None,
    }
}

fn status_name(code: Option<i64>) -> &'static str {
    match code {
        Some(0) => "resolved",
        Some(1) => "informational",
        Some(2) => "degraded",
        Some(3) => "disruption",
        _ => "unknown",
    }
}

pub(super) fn parse(bytes: &[u8], source: &str) -> Result<Vec<ProviderIncident>, FeedError> {
    let text = decode(bytes)?;
    let events: Vec<Event> = json("aws-json", text.as_bytes())?;
    Ok(events
        .into_iter()
        .map(|e| {
            let mut updates: Vec<ProviderUpdate> = e
                .event_log
                .iter()
                .filter_map(|l| {
                    Some(ProviderUpdate {
                        at_ms: l.timestamp.as_ref()?.get()?.checked_mul(1000)?,
                        status: status_name(l.status.as_ref().and_then(Epoch::get)).into(),
                        text: l.message.clone().unwrap_or_default(),
                    })
                })
                .collect();
            updates.sort_by_key(|u| u.at_ms);
            let mut services: Vec<String> = e
                .impacted_services
                .values()
                .filter_map(|s| s.service_name.clone())
                .collect();
            if services.is_empty() {
                services.extend(e.service_name.clone());
            }
            services.sort();
            services.dedup();
            let mut regions: Vec<String> = e
                .impacted_services
                .keys()
                .chain(e.service.iter())
                .filter_map(|k| region_of(k))
                .collect();
            regions.sort();
            regions.dedup();
            let worst = e
                .impacted_services
                .values()
                .filter_map(|s| s.max.as_ref()?.get())
                .max();
            let status_code = e.status.as_ref().and_then(Epoch::get);
            let end = e
                .end_time
                .as_ref()
                .and_then(Epoch::get)
                .and_then(|s| s.checked_mul(1000));
            let title = e.summary.clone().unwrap_or_default();
            let title = title
                .strip_prefix("[RESOLVED] ")
                .unwrap_or(&title)
                .to_string();
            ProviderIncident {
                provider: "aws".into(),
                source: source.to_string(),
                url: Some(format!(
                    "https://health.aws.amazon.com/health/status?eventID={}",
                    e.arn
                )),
                external_id: e.arn,
                title,
                services,
                regions,
                impact: impact(worst.or(status_code).unwrap_or(0)),
                status: if end.is_some() || status_code == Some(0) {
                    "resolved"
                } else {
                    "investigating"
                }
                .into(),
                // Stated only in prose ("Starting at 2:12 PM PDT", "Between 1:52 AM and
                // 3:31 AM PST"): the newest post that states it, read against its own time.
                started_at_ms: updates
                    .iter()
                    .rev()
                    .find_map(|u| super::text::prose_window(&u.text, u.at_ms).0),
                published_at_ms: e
                    .date
                    .as_ref()
                    .and_then(Epoch::get)
                    .and_then(|s| s.checked_mul(1000)),
                updated_at_ms: updates.last().map(|u| u.at_ms),
                resolved_at_ms: end,
                updates,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_come_from_service_keys() {
        assert_eq!(region_of("ec2-us-east-1").as_deref(), Some("us-east-1"));
        assert_eq!(
            region_of("sts-us-gov-west-1").as_deref(),
            Some("us-gov-west-1")
        );
        assert_eq!(
            region_of("multipleservices-me-central-1").as_deref(),
            Some("me-central-1")
        );
        assert_eq!(region_of("cloudfront"), None);
        assert_eq!(region_of("a-b-c"), None);
    }

    #[test]
    fn encodings() {
        let utf16le: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("[]".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(decode(&utf16le).unwrap(), "[]");
        let utf16be: Vec<u8> = [0xFE, 0xFF]
            .into_iter()
            .chain("[1]".encode_utf16().flat_map(u16::to_be_bytes))
            .collect();
        assert_eq!(decode(&utf16be).unwrap(), "[1]");
        assert_eq!(decode(b"\xEF\xBB\xBF[]").unwrap(), "[]");
        assert!(
            decode(b"\xFF\xFE\x00\xD8")
                .unwrap_err()
                .message
                .contains("surrogate")
        );
        assert!(decode(b"[\xC3]").unwrap_err().message.contains("not UTF-8"));
    }
}
