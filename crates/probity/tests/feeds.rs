//! Feed parsers on documents in the providers' published shapes, and `probity feeds parse`.

mod common;

use probity::feeds::{self, Format, Impact};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/feeds")
            .join(name),
    )
    .unwrap()
}

fn t(s: &str) -> Option<i64> {
    Some(s.parse::<jiff::Timestamp>().unwrap().as_millisecond())
}

#[test]
fn statuspage_incidents_json() {
    let v = feeds::parse(
        Format::Statuspage,
        &fixture("statuspage-incidents.json"),
        "example",
    )
    .unwrap();
    assert_eq!(v.len(), 1);
    let i = &v[0];
    assert_eq!(
        (
            i.provider.as_str(),
            i.external_id.as_str(),
            i.title.as_str()
        ),
        (
            "Example Cloud",
            "p31zjtct2jer",
            "Increased latency on Object Storage"
        )
    );
    assert_eq!((i.impact, i.status.as_str()), (Impact::Minor, "resolved"));
    // started_at is the stated start; created_at is publication.
    assert_eq!(i.started_at_ms, t("2026-09-14T08:30:00Z"));
    assert_eq!(i.published_at_ms, t("2026-09-14T08:47:11.100Z"));
    assert_eq!(i.resolved_at_ms, t("2026-09-14T10:02:40.790Z"));
    assert_eq!(i.services, vec!["Object Storage".to_string()]);
    let statuses: Vec<&str> = i.updates.iter().map(|u| u.status.as_str()).collect();
    assert_eq!(
        statuses,
        ["investigating", "monitoring", "resolved"],
        "oldest first"
    );
    assert_eq!(i.url.as_deref(), Some("https://stspg.io/p31zj"));
}

#[test]
fn statuspage_summary_with_maintenance() {
    let doc = br#"{
      "page": {"id": "p", "name": "Example", "url": "https://status.example.com", "time_zone": "Etc/UTC", "updated_at": "2026-10-01T00:00:00Z"},
      "status": {"indicator": "maintenance", "description": "Under maintenance"},
      "components": [],
      "incidents": [],
      "scheduled_maintenances": [{
        "id": "m1", "name": "Database upgrade", "status": "scheduled", "impact": "maintenance",
        "created_at": "2026-09-30T10:00:00Z", "updated_at": "2026-09-30T10:00:00Z",
        "scheduled_for": "2026-10-02T01:00:00Z", "scheduled_until": "2026-10-02T03:00:00Z",
        "incident_updates": [{"status": "scheduled", "body": "Planned.", "created_at": "2026-09-30T10:00:00Z", "display_at": "2026-09-30T10:00:00Z"}],
        "components": [{"name": "API"}]
      }]
    }"#;
    let v = feeds::parse(Format::Auto, doc, "summary").unwrap();
    assert_eq!(v.len(), 1);
    let m = &v[0];
    assert_eq!(
        (m.impact, m.status.as_str()),
        (Impact::Maintenance, "scheduled")
    );
    assert_eq!(m.started_at_ms, t("2026-10-02T01:00:00Z"));
    assert_eq!(m.resolved_at_ms, None, "not completed yet");
    assert_eq!(
        m.url.as_deref(),
        Some("https://status.example.com/incidents/m1")
    );
    assert_eq!(m.services, vec!["API".to_string()]);
}

#[test]
fn gcp_incidents_json() {
    let v = feeds::parse(Format::GcpJson, &fixture("gcp-incidents.json"), "gcp").unwrap();
    assert_eq!(v.len(), 1);
    let i = &v[0];
    assert_eq!(
        (i.provider.as_str(), i.external_id.as_str()),
        ("gcp", "a8Rt2WqZ5nKx0LpVb3Hc")
    );
    assert_eq!(i.title, "Cloud SQL: connectivity issues in asia-northeast1");
    assert_eq!((i.impact, i.status.as_str()), (Impact::Minor, "resolved"));
    assert_eq!(i.started_at_ms, t("2026-08-03T21:40:00Z"));
    assert_eq!(i.published_at_ms, t("2026-08-03T22:02:18Z"));
    assert_eq!(i.updated_at_ms, t("2026-08-03T23:20:05Z"));
    assert_eq!(i.resolved_at_ms, t("2026-08-03T23:11:00Z"));
    assert_eq!(i.services, vec!["Google Cloud SQL".to_string()]);
    assert_eq!(i.regions, vec!["asia-northeast1".to_string()]);
    let statuses: Vec<&str> = i.updates.iter().map(|u| u.status.as_str()).collect();
    assert_eq!(statuses, ["service_disruption", "available"]);
    assert_eq!(
        i.url.as_deref(),
        Some("https://status.cloud.google.com/incidents/a8Rt2WqZ5nKx0LpVb3Hc")
    );
}

#[test]
fn aws_public_json_in_utf16() {
    let v = feeds::parse(Format::Auto, &fixture("aws-currentevents.json"), "aws").unwrap();
    assert_eq!(v.len(), 2);
    let s3 = &v[0];
    assert!(
        s3.external_id
            .ends_with("AWS_S3_OPERATIONAL_ISSUE_A1B2C_0123456789A")
    );
    assert_eq!(
        (s3.provider.as_str(), s3.title.as_str()),
        ("aws", "Increased Error Rates")
    );
    assert_eq!((s3.impact, s3.status.as_str()), (Impact::Minor, "resolved"));
    assert_eq!(s3.published_at_ms, Some(1_795_000_000_000));
    assert_eq!(s3.resolved_at_ms, Some(1_795_007_460_000));
    assert_eq!(s3.started_at_ms, None, "stated only in prose, not read yet");
    assert_eq!(s3.regions, vec!["eu-west-1".to_string()]);
    assert_eq!(
        s3.services,
        vec!["Amazon Simple Storage Service".to_string()]
    );
    let statuses: Vec<&str> = s3.updates.iter().map(|u| u.status.as_str()).collect();
    assert_eq!(statuses, ["degraded", "resolved"], "oldest first");
    let multi = &v[1];
    assert_eq!(
        (multi.impact, multi.status.as_str(), multi.resolved_at_ms),
        (Impact::Major, "investigating", None)
    );
    assert_eq!(multi.regions, vec!["us-east-1".to_string()]);
    assert_eq!(
        multi.services,
        vec![
            "AWS Lambda".to_string(),
            "Amazon Elastic Compute Cloud".to_string()
        ]
    );
    assert!(multi.url.as_deref().unwrap().starts_with(
        "https://health.aws.amazon.com/health/status?eventID=arn:aws:health:us-east-1::"
    ));
}

#[test]
fn gcp_ongoing_outage_is_open_and_critical_when_severe() {
    let doc = br#"[{"id": "x1", "begin": "2026-11-20T10:00:00+01:00", "created": "2026-11-20T09:20:00Z",
      "modified": "2026-11-20T09:30:00Z", "external_desc": "Compute Engine outage",
      "updates": [{"when": "2026-11-20T09:20:00Z", "status": "SERVICE_OUTAGE", "text": "Investigating.",
                   "affected_locations": [{"title": "Belgium (europe-west1)", "id": "europe-west1"}]}],
      "most_recent_update": {"when": "2026-11-20T09:20:00Z", "status": "SERVICE_OUTAGE", "text": "Investigating."},
      "status_impact": "SERVICE_OUTAGE", "severity": "high",
      "affected_products": [{"title": "Google Compute Engine", "id": "c"}],
      "currently_affected_locations": [{"title": "Iowa (us-central1)", "id": "us-central1"}],
      "previously_affected_locations": []}]"#;
    let i = &feeds::parse(Format::Auto, doc, "gcp").unwrap()[0];
    assert_eq!(
        (i.impact, i.status.as_str(), i.resolved_at_ms),
        (Impact::Critical, "investigating", None)
    );
    // The zone offset is honoured: 10:00+01:00 is 09:00Z.
    assert_eq!(i.started_at_ms, t("2026-11-20T09:00:00Z"));
    assert_eq!(
        i.regions,
        vec!["europe-west1".to_string(), "us-central1".to_string()]
    );
}

#[test]
fn feeds_parse_command() {
    let (code, out, err) = common::run(
        &[
            "feeds",
            "parse",
            "--format",
            "gcp-json",
            "tests/fixtures/feeds/gcp-incidents.json",
            "--json",
        ],
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["started_at"], "2026-08-03T21:40:00.000Z");
    assert_eq!(v[0]["resolved_at"], "2026-08-03T23:11:00.000Z");
    assert_eq!(v[0]["regions"][0], "asia-northeast1");
    for key in [
        "provider",
        "source",
        "external_id",
        "title",
        "services",
        "regions",
        "impact",
        "status",
        "started_at",
        "published_at",
        "updated_at",
        "resolved_at",
        "updates",
        "url",
    ] {
        assert!(v[0].get(key).is_some(), "missing {key}");
    }
    let (code, out, _) = common::run(
        &[
            "feeds",
            "parse",
            "tests/fixtures/feeds/statuspage-incidents.json",
        ],
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .nth(1)
            .unwrap()
            .starts_with("Example Clou p31zjtct2jer"),
        "{out}"
    );
    assert!(out.ends_with("1 incident\n"), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("page.json");
    std::fs::write(
        &html,
        "<!DOCTYPE html><html><body>503 Service Unavailable</body></html>",
    )
    .unwrap();
    let (code, _, err) = common::run(
        &[
            "feeds",
            "parse",
            "--format",
            "statuspage",
            html.to_str().unwrap(),
        ],
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("statuspage: line 1, column 1:") && err.contains("this is an HTML page"),
        "{err}"
    );
    let (code, _, err) = common::run(
        &[
            "feeds",
            "parse",
            "--format",
            "aws-rss",
            html.to_str().unwrap(),
        ],
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    assert_eq!(code, 1);
    assert!(
        err.ends_with(
            "aws-rss: this format is not built yet (Statuspage, Google Cloud and AWS JSON are)\n"
        ),
        "{err}"
    );
    let (code, _, err) = common::run(
        &["feeds", "parse", "--format", "nope", "x"],
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    assert_eq!(code, 2, "{err}");
}
