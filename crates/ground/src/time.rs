//! Instants as text: RFC 3339 in UTC with milliseconds, the one format probity writes.

/// `ms` since the Unix epoch as RFC 3339 (`2026-11-23T10:00:00.000Z`); a value outside
/// the representable range is written as the plain number rather than lost.
pub fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |t| format!("{t:.3}"))
}

/// Reads an RFC 3339 time (or Unix milliseconds) into milliseconds since the epoch.
pub fn parse_instant(s: &str) -> Option<i64> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    s.parse::<i64>().ok()
}

/// An instant as probity writes it in its answers: RFC 3339, UTC, milliseconds (see
/// [`rfc3339`]). Typed so that every answer's schema says `date-time`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(transparent)]
pub struct Stamp(pub String);

impl Stamp {
    pub fn ms(ms: i64) -> Self {
        Stamp(rfc3339(ms))
    }

    /// `None` stays `None`.
    pub fn opt(ms: Option<i64>) -> Option<Self> {
        ms.map(Self::ms)
    }
}

impl schemars::JsonSchema for Stamp {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Time".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "format": "date-time"})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_reads_back() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_795_000_000_123), "2026-11-18T11:06:40.123Z");
        assert_eq!(
            parse_instant("2026-11-18T11:06:40.123Z"),
            Some(1_795_000_000_123)
        );
        assert_eq!(parse_instant("1795000000123"), Some(1_795_000_000_123));
        assert_eq!(parse_instant("yesterday"), None);
        assert_eq!(rfc3339(i64::MAX), i64::MAX.to_string());
    }
}
