//! Feed parsers on documents in the providers' published shapes, and `probity feeds parse`.

use crate::common;

use probity_engine::feeds::{self, Format, Impact};

use crate::common::feed_fixture as fixture;

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
    // Stated only in prose: "Between 1:52 AM and 3:31 AM PST", the date from the post.
    assert_eq!(s3.started_at_ms, t("2026-11-18T09:52:00Z"));
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
            .starts_with("Example Cloud p31zjtct2jer"),
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
            "aws-rss: this is an HTML page, not the feed: is the URL right, or did a proxy answer?\n"
        ),
        "{err}"
    );
    let (code, _, err) = common::run(
        &["feeds", "parse", "--format", "nope", "x"],
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")),
    );
    assert_eq!(code, 2, "{err}");
}

#[test]
fn azure_rss_active_incident() {
    let v = feeds::parse(Format::Auto, &fixture("azure-status.rss"), "azure").unwrap();
    assert_eq!(v.len(), 1);
    let i = &v[0];
    assert_eq!(i.provider, "azure");
    assert_eq!(
        i.external_id,
        "allocation-failures-for-virtual-machines-in-east-us-2"
    );
    assert_eq!(
        i.title, "Allocation failures for Virtual Machines in East US 2",
        "trailing space trimmed"
    );
    // Categories mix services and regions; the region table tells them apart.
    assert_eq!(
        i.services,
        ["Virtual Machines", "Virtual Machine Scale Sets"]
    );
    assert_eq!(i.regions, ["East US 2"]);
    // The start is stated only in prose; pubDate (bare Z) is the latest edit.
    assert_eq!(i.started_at_ms, t("2026-07-02T18:20:00Z"));
    assert_eq!(i.updated_at_ms, t("2026-07-02T22:30:47Z"));
    assert_eq!(i.published_at_ms, None, "the feed does not say");
    assert_eq!(
        (i.status.as_str(), i.resolved_at_ms),
        ("investigating", None)
    );
    // HTML became text, paragraphs as lines.
    assert_eq!(i.updates.len(), 1);
    assert!(
        i.updates[0].text.starts_with(
            "Starting at approximately 18:20 UTC on 02 July 2026, customers may receive"
        ),
        "{}",
        i.updates[0].text
    );
    assert!(i.updates[0].text.contains("\nCurrent Status:\n"));
    assert!(!i.updates[0].text.contains("<p>"));
}

#[test]
fn azure_rss_empty_and_edited_in_place() {
    assert!(
        feeds::parse(
            Format::AzureRss,
            &fixture("azure-status-empty.rss"),
            "azure"
        )
        .unwrap()
        .is_empty()
    );
    let v = feeds::parse(
        Format::AzureRss,
        &fixture("azure-status-mitigated.rss"),
        "azure",
    )
    .unwrap();
    assert_eq!(v.len(), 2);
    // The same guid, edited: the stated window moved earlier than first said (18:20).
    let i = &v[0];
    assert_eq!(
        i.external_id,
        "allocation-failures-for-virtual-machines-in-east-us-2"
    );
    assert_eq!(i.status, "resolved");
    assert_eq!(i.started_at_ms, t("2026-07-02T17:55:00Z"));
    assert_eq!(i.resolved_at_ms, t("2026-07-03T00:48:00Z"));
    assert!(
        i.services
            .contains(&"Azure Kubernetes Service (AKS)".to_string())
    );
    let m = &v[1];
    assert_eq!(
        (m.impact, m.status.as_str()),
        (Impact::Maintenance, "scheduled")
    );
    assert_eq!(m.regions, ["West Europe"]);
    assert_eq!(m.started_at_ms, t("2026-07-04T22:00:00Z"));
}

#[test]
fn aws_rss_items_grouped_into_incidents() {
    let v = feeds::parse(Format::Auto, &fixture("aws-s3-eu-west-1.rss"), "s3").unwrap();
    assert_eq!(v.len(), 1, "two posts, one incident");
    let i = &v[0];
    assert_eq!(
        i.external_id, "s3-eu-west-1_1782312540",
        "the first post's id"
    );
    assert_eq!(i.services, ["Amazon Simple Storage Service"]);
    assert_eq!(i.regions, ["eu-west-1"]);
    // PDT is UTC-7; the window comes from the resolving post's prose.
    assert_eq!(i.published_at_ms, t("2026-06-24T14:49:00Z"));
    assert_eq!(i.started_at_ms, t("2026-06-24T14:14:00Z"));
    assert_eq!(i.resolved_at_ms, t("2026-06-24T15:37:00Z"));
    assert_eq!(i.status, "resolved");
    let statuses: Vec<&str> = i.updates.iter().map(|u| u.status.as_str()).collect();
    assert_eq!(statuses, ["informational", "resolved"]);

    let v = feeds::parse(Format::AwsRss, &fixture("aws-all.rss"), "all").unwrap();
    let ids: Vec<&str> = v.iter().map(|i| i.external_id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "billingconsole_1793638800",
            "ec2-us-east-1_1793475060",
            "ec2-us-east-1_1794144660"
        ],
        "one key, two incidents: a resolved one and a new one a week later"
    );
    let billing = &v[0];
    assert!(billing.regions.is_empty(), "a global service has no region");
    assert_eq!(billing.services, ["AWS Billing Console"]);
    let old = &v[1];
    assert_eq!(old.started_at_ms, t("2026-10-31T18:50:00Z"));
    assert_eq!(old.resolved_at_ms, t("2026-10-31T20:40:00Z"));
    let open = &v[2];
    assert_eq!(
        (open.status.as_str(), open.impact, open.resolved_at_ms),
        ("identified", Impact::Major, None)
    );
    assert_eq!(open.updates.len(), 2);
    assert_eq!(open.services, ["Amazon Elastic Compute Cloud"]);
}

#[test]
fn generic_rss_and_atom() {
    let v = feeds::parse(Format::Auto, &fixture("statuspage-history.rss"), "hist").unwrap();
    assert_eq!(v.len(), 2);
    let i = &v[0];
    assert_eq!(i.provider, "example-cloud");
    // The dated list in the description became the updates, oldest first.
    let u: Vec<(&str, Option<i64>)> = i
        .updates
        .iter()
        .map(|u| (u.status.as_str(), Some(u.at_ms)))
        .collect();
    assert_eq!(
        u,
        [
            ("investigating", t("2026-11-23T10:01:00Z")),
            ("monitoring", t("2026-11-23T10:20:00Z")),
            ("resolved", t("2026-11-23T10:41:00Z")),
        ]
    );
    assert_eq!(i.status, "resolved");
    assert_eq!(i.published_at_ms, t("2026-11-23T10:01:00Z"));
    assert_eq!(i.resolved_at_ms, t("2026-11-23T10:41:00Z"));
    assert_eq!(
        i.updates[0].text,
        "We are investigating elevated error rates on the API."
    );
    assert_eq!(
        (v[1].impact, v[1].status.as_str()),
        (Impact::Maintenance, "scheduled")
    );

    let v = feeds::parse(Format::Rss, &fixture("example-status.atom"), "edge").unwrap();
    let i = &v[0];
    assert_eq!(
        i.external_id,
        "tag:status.example.org,2005:Incident/2210931"
    );
    assert_eq!(i.started_at_ms, t("2026-11-09T13:05:00Z"));
    assert_eq!(i.resolved_at_ms, t("2026-11-09T15:42:00Z"));
    assert_eq!(i.status, "resolved");
    assert_eq!(
        i.url.as_deref(),
        Some("https://status.example.org/incidents/2210931")
    );
}

#[test]
fn entity_bombs_stay_text() {
    let doc = fixture("entity-bomb.rss");
    let v = feeds::parse(Format::AzureRss, &doc, "bomb").unwrap();
    // Only the predefined entities are resolved: the reference stays as written.
    assert_eq!(v[0].title, "&lol9;");
    assert!(v[0].updates[0].text.len() < 100);
}

#[test]
fn encodings_declared_and_wrong() {
    // The XML declaration names the encoding; Latin-1 bytes become text.
    let latin1 = b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<rss version=\"2.0\"><channel><title>Statut</title><item><guid>a</guid><title>D\xe9gradation du service</title><pubDate>Mon, 23 Nov 2026 10:00:00 +0100</pubDate></item></channel></rss>";
    let v = feeds::parse(Format::Rss, latin1, "fr").unwrap();
    assert_eq!(v[0].title, "Dégradation du service");
    assert_eq!(v[0].published_at_ms, t("2026-11-23T09:00:00Z"));
    // A document that says UTF-8 and is not: an error that says so, no guessing.
    let wrong = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>X</title><item><guid>a</guid><title>D\xe9g</title></item></channel></rss>";
    let e = feeds::parse(Format::Rss, wrong, "x").unwrap_err();
    assert!(e.message.contains("cannot decode input using UTF-8"), "{e}");
}
