//! Status-page components against targets: `probity check` warns (from the last stored
//! document) about a target that matches no listed component and components no target
//! watches; `[feed.components]` maps a component to the service and region targets use.

use crate::common;

/// A Statuspage `summary.json`: three components (and a group), one incident.
const SUMMARY: &str = r#"{
  "page": {"id": "acme", "name": "Acme Cloud", "url": "https://status.acme.example"},
  "components": [
    {"id": "g1", "name": "Europe", "status": "operational", "group": true},
    {"id": "c1", "name": "Blob Storage EU", "status": "major_outage", "group": false, "group_id": "g1"},
    {"id": "c2", "name": "Compute (eu-west)", "status": "operational", "group": false},
    {"id": "c3", "name": "Legacy API", "status": "operational", "group": false}
  ],
  "incidents": [{
    "id": "inc-0123456789abcdefghijklmnopqrstuv", "name": "Blob errors in every storage account of the western European region, still investigating", "status": "investigating", "impact": "major",
    "created_at": "2026-11-20T10:00:00Z", "updated_at": "2026-11-20T10:05:00Z",
    "started_at": "2026-11-20T10:00:00Z", "resolved_at": null, "shortlink": null,
    "incident_updates": [{"status": "investigating", "body": "Looking", "created_at": "2026-11-20T10:05:00Z", "display_at": "2026-11-20T10:05:00Z"}],
    "components": [{"name": "Blob Storage EU"}]
  }],
  "scheduled_maintenances": []
}"#;

fn config(map: &str) -> String {
    format!(
        r#"[[feed]]
name = "acme"
provider = "acme"
format = "statuspage"
url = "http://127.0.0.1:9/api/v2/summary.json"
interval = "1h"
{map}
[[target]]
name = "blob"
kind = "tcp"
address = "127.0.0.1:9"
interval = "1h"
provider = "acme"
service = "storage"
region = "westeurope"

[[target]]
name = "compute"
kind = "tcp"
address = "127.0.0.1:9"
interval = "1h"
provider = "acme"
service = "compute"
region = "eu-west"
"#
    )
}

#[test]
fn components_are_mapped_and_check_warns_about_what_matches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("probity.toml");
    common::write_config_at(&path, config("")).unwrap();
    // Before any poll is stored, check has nothing to say about components.
    let (code, out, err) = common::run(&["check", "--json"], dir.path());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["warnings"], serde_json::json!([]), "{v}");

    std::fs::write(dir.path().join("summary.json"), SUMMARY).unwrap();
    // The table never cuts an identifier or a title.
    let (code, table, err) = common::run(&["feeds", "parse", "summary.json"], dir.path());
    assert_eq!(code, 0, "{err}");
    assert!(
        table.contains("inc-0123456789abcdefghijklmnopqrstuv "),
        "{table}"
    );
    assert!(
        table.contains("of the western European region, still investigating"),
        "{table}"
    );
    let (code, _, err) = common::run(
        &["feeds", "import", "--feed", "acme", "summary.json"],
        dir.path(),
    );
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = common::run(&["check", "--json"], dir.path());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let warnings: Vec<String> = serde_json::from_value(v["warnings"].clone()).unwrap();
    // `compute` matches "Compute (eu-west)" by the naming pattern; `blob` matches nothing.
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(
        warnings[0].starts_with("warning: target `blob` (acme / storage / westeurope) matches none of the 3 components feed `acme` listed"),
        "{}",
        warnings[0]
    );
    assert_eq!(
        warnings[1],
        "note: feed `acme` lists 2 components no target watches: `Blob Storage EU`, `Legacy API`"
    );
    // The text form prints the same lines under the summary.
    let (_, text, _) = common::run(&["check"], dir.path());
    assert!(text.contains(&warnings[0]), "{text}");

    // The incident on "Blob Storage EU" is matched to no target yet.
    let running = common::Running::start(&path);
    let matched = common::get_json(running.addr, "/api/v1/provider-incidents?target=blob");
    assert_eq!(matched, serde_json::json!([]));
    running.stop();

    // Mapped: the component is storage in westeurope; the warning goes, the incident matches.
    common::write_config_at(
        &path,
        config("\n[feed.components]\n\"Blob Storage EU\" = { service = \"storage\", region = \"westeurope\" }\n"),
    )
    .unwrap();
    let (code, out, err) = common::run(&["check", "--json"], dir.path());
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        v["warnings"],
        serde_json::json!(["note: feed `acme` lists 1 component no target watches: `Legacy API`"])
    );
    let running = common::Running::start(&path);
    let matched = common::get_json(running.addr, "/api/v1/provider-incidents?target=blob");
    assert_eq!(matched.as_array().map(Vec::len), Some(1), "{matched}");
    // Shown as the provider wrote it.
    assert_eq!(
        matched[0]["services"],
        serde_json::json!(["Blob Storage EU"])
    );
    let none = common::get_json(running.addr, "/api/v1/provider-incidents?target=compute");
    assert_eq!(none, serde_json::json!([]));
    running.stop();

    // A map entry that maps to nothing is refused where it is written.
    common::write_config_at(&path, config("\n[feed.components]\n\"Legacy API\" = {}\n")).unwrap();
    let (code, _, err) = common::run(&["check"], dir.path());
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "feed `acme`: component `Legacy API` must map to a `service`, a `region` or both"
        ),
        "{err}"
    );
}
