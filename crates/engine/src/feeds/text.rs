//! What the RSS formats need beyond XML: dates in the forms providers really write, HTML
//! turned into readable text, impact windows stated only in prose, and updates written as
//! a dated list inside one description. All pure functions of their inputs.

use regex::Regex;
use std::sync::LazyLock;

/// The zone abbreviations providers write, as offsets in minutes. RFC 822 names the US
/// ones; `Z` is what Azure writes; `UTC` is common though not RFC 822.
fn zone_offset(name: &str) -> Option<i32> {
    Some(match name.to_ascii_uppercase().as_str() {
        "Z" | "UT" | "UTC" | "GMT" => 0,
        "EST" => -5 * 60,
        "EDT" => -4 * 60,
        "CST" => -6 * 60,
        "CDT" => -5 * 60,
        "MST" => -7 * 60,
        "MDT" => -6 * 60,
        "PST" => -8 * 60,
        "PDT" => -7 * 60,
        _ => return None,
    })
}

fn month(name: &str) -> Option<i8> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = name.to_ascii_lowercase();
    if lower.len() < 3 {
        return None;
    }
    MONTHS
        .iter()
        .position(|m| lower.starts_with(m))
        .map(|i| i as i8 + 1)
}

/// Unix milliseconds of a civil time at a fixed offset, or `None` if it is no real time.
fn civil_ms(y: i16, mo: i8, d: i8, h: i8, mi: i8, s: i8, offset_min: i32) -> Option<i64> {
    let dt = jiff::civil::DateTime::new(y, mo, d, h, mi, s, 0).ok()?;
    let offset = jiff::tz::Offset::from_seconds(offset_min * 60).ok()?;
    Some(offset.to_timestamp(dt).ok()?.as_millisecond())
}

/// A date as RSS writes it, leniently: RFC 822/1123 with a numeric zone or a name (`GMT`,
/// `PST`, `PDT`, a bare `Z`), an optional weekday, two-digit years, no seconds; and, as a
/// fallback, RFC 3339 (Atom). `None` when it is none of these.
pub fn rss_date(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Some(ms) = super::ms(s) {
        return Some(ms);
    }
    let s = s.split_once(',').map_or(s, |(_, rest)| rest).trim();
    let mut it = s.split_whitespace();
    let day: i8 = it.next()?.parse().ok()?;
    let mo = month(it.next()?)?;
    let year: i32 = it.next()?.parse().ok()?;
    let year = match year {
        0..=49 => 2000 + year,
        50..=99 => 1900 + year,
        y => y,
    };
    let time = it.next()?;
    let mut hms = time.split(':');
    let h: i8 = hms.next()?.parse().ok()?;
    let mi: i8 = hms.next()?.parse().ok()?;
    let sec: i8 = match hms.next() {
        Some(x) => x.parse().ok()?,
        None => 0,
    };
    let zone = it.next().unwrap_or("Z");
    if it.next().is_some() {
        return None;
    }
    let offset = match zone_offset(zone) {
        Some(o) => o,
        None => {
            let (sign, digits) = match zone.as_bytes().first()? {
                b'+' => (1, &zone[1..]),
                b'-' => (-1, &zone[1..]),
                _ => return None,
            };
            let digits = digits.replace(':', "");
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let v: i32 = digits.parse().ok()?;
            sign * ((v / 100) * 60 + v % 100)
        }
    };
    civil_ms(i16::try_from(year).ok()?, mo, day, h, mi, sec, offset)
}

/// HTML (as providers put it in descriptions) to readable text: block elements become line
/// breaks, entities are decoded, scripts and styles dropped, runs of blanks collapsed.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skip_until: Option<&'static str> = None;
    while let Some(lt) = rest.find('<') {
        if skip_until.is_none() {
            out.push_str(&decode_entities(&rest[..lt]));
        }
        let after = &rest[lt + 1..];
        let Some(gt) = after.find('>') else {
            if skip_until.is_none() {
                out.push_str(&decode_entities(&rest[lt..]));
            }
            rest = "";
            break;
        };
        let tag = after[..gt].trim();
        rest = &after[gt + 1..];
        let closing = tag.starts_with('/');
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
            .to_ascii_lowercase();
        if let Some(end) = skip_until {
            if closing && name == end {
                skip_until = None;
            }
            continue;
        }
        match name.as_str() {
            "script" if !closing => skip_until = Some("script"),
            "style" if !closing => skip_until = Some("style"),
            "p" | "div" | "br" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" | "ul"
            | "ol" | "table" => out.push('\n'),
            _ => {}
        }
        if name == "li" && !closing {
            out.push_str("- ");
        }
    }
    if skip_until.is_none() {
        out.push_str(&decode_entities(rest));
    }
    let mut lines: Vec<String> = Vec::new();
    for line in out.lines() {
        let line = line.split_whitespace().collect::<Vec<_>>().join(" ");
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines.join("\n")
}

/// Decodes the HTML entities providers use: the XML five, `&nbsp;` and numeric ones.
/// An unknown entity is left as written.
pub fn decode_entities(s: &str) -> String {
    if !s.contains('&') {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after
            .char_indices()
            .take(12)
            .find(|&(_, c)| c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|end| {
            let name = &after[..end];
            let c = match name {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                "nbsp" => ' ',
                "ndash" => '–',
                "mdash" => '—',
                "rsquo" | "lsquo" => '\'',
                "rdquo" | "ldquo" => '"',
                _ => {
                    let n = name.strip_prefix('#')?;
                    let v = match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => n.parse().ok()?,
                    };
                    char::from_u32(v).unwrap_or('\u{FFFD}')
                }
            };
            Some((c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

const TIME: &str = r"(\d{1,2})(?::(\d{2}))(?::\d{2})?\s*([AaPp]\.?[Mm]\.?)?(?:\s*\(?(UTC|GMT|PST|PDT|EST|EDT|CST|CDT|MST|MDT)\)?)?";
const DATE: &str = r"(?:(\d{1,2})(?:st|nd|rd|th)?\s+([A-Za-z]{3,9})|([A-Za-z]{3,9})\s+(\d{1,2})(?:st|nd|rd|th)?)(?:,?\s+(\d{4}))?";

/// A time of day as written in prose, with what the sentence says of its zone and date.
#[derive(Clone, Copy, Debug)]
struct ProseTime {
    hour: i8,
    minute: i8,
    zone: Option<i32>,
    date: Option<(Option<i16>, i8, i8)>,
}

fn prose_time(c: &regex::Captures<'_>, at: usize) -> Option<ProseTime> {
    let mut hour: i8 = c.get(at)?.as_str().parse().ok()?;
    let minute: i8 = c.get(at + 1)?.as_str().parse().ok()?;
    if let Some(ampm) = c.get(at + 2) {
        let pm = ampm.as_str().to_ascii_lowercase().starts_with('p');
        if !(1..=12).contains(&hour) {
            return None;
        }
        hour = match (hour, pm) {
            (12, false) => 0,
            (12, true) => 12,
            (h, true) => h + 12,
            (h, false) => h,
        };
    }
    let zone = c.get(at + 3).and_then(|z| zone_offset(z.as_str()));
    Some(ProseTime {
        hour,
        minute,
        zone,
        date: prose_date(c, at + 4),
    })
}

fn prose_date(c: &regex::Captures<'_>, at: usize) -> Option<(Option<i16>, i8, i8)> {
    let (day, mon) = if let (Some(d), Some(m)) = (c.get(at), c.get(at + 1)) {
        (d.as_str(), m.as_str())
    } else {
        (c.get(at + 3)?.as_str(), c.get(at + 2)?.as_str())
    };
    let year = c.get(at + 4).and_then(|y| y.as_str().parse().ok());
    Some((year, month(mon)?, day.parse().ok()?))
}

/// Resolves a prose time to Unix ms. What the sentence leaves out comes from `reference`
/// (the publication time): the year, or the whole date, taken in the stated zone.
fn resolve(t: ProseTime, zone: i32, reference_ms: i64) -> Option<i64> {
    let offset = jiff::tz::Offset::from_seconds(zone * 60).ok()?;
    let reference = offset.to_datetime(jiff::Timestamp::from_millisecond(reference_ms).ok()?);
    let (y, mo, d) = match t.date {
        Some((Some(y), mo, d)) => (y, mo, d),
        Some((None, mo, d)) => (reference.year(), mo, d),
        None => (reference.year(), reference.month(), reference.day()),
    };
    civil_ms(y, mo, d, t.hour, t.minute, 0, zone)
}

static BETWEEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b(?:between|from)\s+(?:approximately\s+|about\s+)?{TIME}(?:,?\s+on\s+{DATE})?,?\s+(?:and|to|until)\s+(?:approximately\s+|about\s+)?{TIME}(?:,?\s+on\s+{DATE})?"
    ))
    .expect("valid regex")
});

static STARTING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b(?:starting|beginning|began|since)\s+(?:at\s+|on\s+)?(?:approximately\s+|about\s+|around\s+)?{TIME}(?:,?\s+on\s+{DATE})?"
    ))
    .expect("valid regex")
});

/// The impact window a provider states in prose: "Between 13:05 UTC and 15:42 UTC on 09
/// November 2026", "Between 1:52 AM and 3:31 AM PST", "Starting at approximately 14:44
/// UTC on 23 July 2026". Returns `(start, end)`; what the sentence leaves out (the date,
/// the year) is filled in from `reference_ms`, the publication time, in the stated zone,
/// and a start that would fall after the publication is taken as the day before. A time
/// with no zone at all is read as UTC. An end before the start is dropped.
pub fn prose_window(text: &str, reference_ms: i64) -> (Option<i64>, Option<i64>) {
    // Width of one time group (hour, minute, ampm, zone) plus a date (five groups).
    const T: usize = 4;
    const D: usize = 5;
    if let Some(c) = BETWEEN.captures(text)
        && let (Some(mut a), Some(mut b)) = (prose_time(&c, 1), prose_time(&c, 1 + T + D))
    {
        // "Between 1:52 AM and 3:31 AM PST": the zone and date written once serve both.
        let zone = b.zone.or(a.zone).unwrap_or(0);
        a.zone = Some(a.zone.unwrap_or(zone));
        b.zone = Some(zone);
        if a.date.is_none() {
            a.date = b.date;
        }
        let explicit_date = a.date.is_some();
        if let Some(mut start) = resolve(a, a.zone.unwrap_or(0), reference_ms) {
            if !explicit_date && start > reference_ms {
                start -= 86_400_000;
            }
            let end = if b.date.is_some() {
                resolve(b, zone, reference_ms)
            } else {
                // Same day as the start, or the next if it would come before it.
                let day = jiff::Timestamp::from_millisecond(start)
                    .ok()
                    .map(|t| jiff::tz::Offset::from_seconds(zone * 60).map(|o| o.to_datetime(t)));
                match day {
                    Some(Ok(d)) => {
                        let b = ProseTime {
                            date: Some((Some(d.year()), d.month(), d.day())),
                            ..b
                        };
                        resolve(b, zone, reference_ms)
                            .map(|e| if e < start { e + 86_400_000 } else { e })
                    }
                    _ => None,
                }
            };
            // A stated end before the stated start is no window end at all.
            return (Some(start), end.filter(|e| *e >= start));
        }
    }
    if let Some(c) = STARTING.captures(text)
        && let Some(a) = prose_time(&c, 1)
    {
        let explicit_date = a.date.is_some();
        if let Some(mut start) = resolve(a, a.zone.unwrap_or(0), reference_ms) {
            if !explicit_date && start > reference_ms {
                start -= 86_400_000;
            }
            return (Some(start), None);
        }
    }
    (None, None)
}

static STAMP: LazyLock<Regex> = LazyLock::new(|| {
    // A line that opens with a date and time: "Nov 23, 10:01 UTC", "23 November 2026
    // 10:01 UTC -", "Update (10:01 UTC, 23 Nov 2026):".
    Regex::new(&format!(
        r"(?i)^(?:update\s*)?[\[(]?\s*(?:{DATE}[,\s]+)?{TIME}(?:,?\s+(?:on\s+)?{DATE})?\s*[\])]?\s*(?:[-:–—]\s*|$)"
    ))
    .expect("valid regex")
});

/// An update written inside a description's dated list.
#[derive(Clone, Debug, PartialEq)]
pub struct DatedUpdate {
    pub at_ms: i64,
    pub status: Option<String>,
    pub text: String,
}

/// Splits text where the provider writes its updates as a dated list ("Nov 23, 10:01 UTC"
/// then "Resolved - This incident has been resolved."), newest or oldest first; returns
/// them oldest first. An entry's leading "Word - " is its status. Empty when the text has
/// no such list.
pub fn dated_updates(text: &str, reference_ms: i64) -> Vec<DatedUpdate> {
    const T: usize = 4;
    const D: usize = 5;
    let mut out: Vec<DatedUpdate> = Vec::new();
    let mut current: Option<(i64, String)> = None;
    let flush = |cur: Option<(i64, String)>, out: &mut Vec<DatedUpdate>| {
        if let Some((at, body)) = cur {
            let body = body.trim().to_string();
            let (status, text) = match body.split_once(" - ") {
                Some((s, rest))
                    if !s.is_empty()
                        && s.len() <= 20
                        && s.chars().all(|c| c.is_alphabetic() || c == ' ') =>
                {
                    (Some(s.trim().to_ascii_lowercase()), rest.trim().to_string())
                }
                _ => (None, body),
            };
            out.push(DatedUpdate {
                at_ms: at,
                status,
                text,
            });
        }
    };
    for line in text.lines() {
        let stamp = STAMP.captures(line).and_then(|c| {
            let mut t = prose_time(&c, 1 + D)?;
            if t.date.is_none() {
                t.date = prose_date(&c, 1);
            }
            let _ = T;
            let zone = t.zone.unwrap_or(0);
            let mut at = resolve(t, zone, reference_ms)?;
            if t.date.is_some_and(|(y, _, _)| y.is_none()) && at > reference_ms + 86_400_000 {
                // "Dec 31" read in a January publication is last year's.
                let back = ProseTime {
                    date: t.date.map(|(_, m, d)| {
                        (
                            Some(
                                jiff::Timestamp::from_millisecond(reference_ms)
                                    .map(|r| r.to_zoned(jiff::tz::TimeZone::UTC).year() - 1)
                                    .unwrap_or(1970),
                            ),
                            m,
                            d,
                        )
                    }),
                    ..t
                };
                at = resolve(back, zone, reference_ms)?;
            }
            Some((at, c.get(0)?.end()))
        });
        match stamp {
            Some((at, end)) => {
                flush(current.take(), &mut out);
                current = Some((at, line[end..].to_string()));
            }
            None => {
                if let Some((_, body)) = current.as_mut() {
                    if !body.is_empty() {
                        body.push(' ');
                    }
                    body.push_str(line);
                }
            }
        }
    }
    flush(current, &mut out);
    out.sort_by_key(|u| u.at_ms);
    out
}

pub use probity_core::names::slug;

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        super::super::ms(s).unwrap()
    }

    #[test]
    fn rss_dates_in_the_forms_providers_write() {
        assert_eq!(
            rss_date("Thu, 23 Jul 2026 16:29:09 Z"),
            Some(t("2026-07-23T16:29:09Z"))
        );
        assert_eq!(
            rss_date("Wed, 24 Jun 2026 08:51:00 PDT"),
            Some(t("2026-06-24T15:51:00Z"))
        );
        assert_eq!(
            rss_date("Fri, 10 Feb 2023 15:48:00 PST"),
            Some(1_676_072_880_000)
        );
        assert_eq!(
            rss_date("Mon, 13 Feb 2023 00:05:51 +0100"),
            Some(t("2023-02-12T23:05:51Z"))
        );
        assert_eq!(
            rss_date("13 Feb 23 00:05 GMT"),
            Some(t("2023-02-13T00:05:00Z"))
        );
        assert_eq!(
            rss_date("2026-11-09T13:05:00+01:00"),
            Some(t("2026-11-09T12:05:00Z"))
        );
        assert_eq!(rss_date("Thu, 31 Feb 2026 10:00:00 Z"), None);
        assert_eq!(rss_date("Thu, 23 Jul 2026 16:29:09 XYZ"), None);
        assert_eq!(rss_date("yesterday"), None);
        assert_eq!(rss_date(""), None);
    }

    #[test]
    fn html_becomes_readable_text() {
        let html = "<p>Starting at 14:44 UTC, customers &amp; partners (&lt;a&gt;) saw errors.</p><p>Current Status:</p><p>Mitigating.&nbsp;</p><script>x()</script><ul><li>One</li><li>Two &#8212; &#x41;</li></ul>";
        assert_eq!(
            html_to_text(html),
            "Starting at 14:44 UTC, customers & partners (<a>) saw errors.\nCurrent Status:\nMitigating.\n- One\n- Two — A"
        );
        assert_eq!(html_to_text("a &bogus; b & c"), "a &bogus; b & c");
        assert_eq!(html_to_text("unclosed <b"), "unclosed <b");
    }

    #[test]
    fn prose_windows() {
        // Everything stated.
        let (s, e) = prose_window(
            "Between 13:05 UTC and 15:42 UTC on 09 November 2026, a subset of customers…",
            t("2026-11-10T02:00:00Z"),
        );
        assert_eq!(s, Some(t("2026-11-09T13:05:00Z")));
        assert_eq!(e, Some(t("2026-11-09T15:42:00Z")));
        // Zone written once, date from the publication, in the stated zone.
        let (s, e) = prose_window(
            "Between 1:52 AM and 3:31 AM PST we experienced increased error rates.",
            t("2026-01-15T12:00:00Z"),
        );
        assert_eq!(s, Some(t("2026-01-15T09:52:00Z")));
        assert_eq!(e, Some(t("2026-01-15T11:31:00Z")));
        // The AWS sample: publication 08:51 PDT.
        let (s, e) = prose_window(
            "Between 7:14 AM and 8:37 AM PDT we experienced elevated error rates",
            t("2026-06-24T15:51:00Z"),
        );
        assert_eq!(s, Some(t("2026-06-24T14:14:00Z")));
        assert_eq!(e, Some(t("2026-06-24T15:37:00Z")));
        // Across midnight, published the next morning: the start is the day before.
        let (s, e) = prose_window(
            "Between 11:50 PM and 12:40 AM PST, some requests failed.",
            t("2026-01-16T09:00:00Z"), // 01:00 PST on the 16th
        );
        assert_eq!(s, Some(t("2026-01-16T07:50:00Z")));
        assert_eq!(e, Some(t("2026-01-16T08:40:00Z")));
        // A start only.
        let (s, e) = prose_window(
            "Starting at approximately 14:44 UTC on 23 July 2026, customers may have experienced",
            t("2026-07-23T16:29:09Z"),
        );
        assert_eq!(s, Some(t("2026-07-23T14:44:00Z")));
        assert_eq!(e, None);
        // Nothing to read.
        assert_eq!(
            prose_window("We are investigating.", t("2026-07-23T16:29:09Z")),
            (None, None)
        );
        assert_eq!(
            prose_window("Between 25:99 UTC and 3:00 UTC", t("2026-07-23T16:29:09Z")),
            (None, None)
        );
    }

    #[test]
    fn dated_lists_split_into_updates() {
        // The layout of a Statuspage history feed description, after html_to_text.
        let text = "Nov 23, 10:41 UTC\nResolved - This incident has been resolved.\nNov 23, 10:01 UTC\nInvestigating - We are investigating elevated errors\non the API.";
        let u = dated_updates(text, t("2026-11-23T10:45:00Z"));
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].at_ms, t("2026-11-23T10:01:00Z"));
        assert_eq!(u[0].status.as_deref(), Some("investigating"));
        assert_eq!(
            u[0].text,
            "We are investigating elevated errors on the API."
        );
        assert_eq!(u[1].status.as_deref(), Some("resolved"));
        // A December stamp in a January publication is last year's.
        let u = dated_updates(
            "Dec 31, 23:10 UTC\nMonitoring - ok",
            t("2027-01-01T01:00:00Z"),
        );
        assert_eq!(u[0].at_ms, t("2026-12-31T23:10:00Z"));
        assert!(dated_updates("No list here.\nJust text.", 0).is_empty());
    }
}
