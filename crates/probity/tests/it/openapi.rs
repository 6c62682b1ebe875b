//! The OpenAPI document: served by the running demo, every reference resolvable, the
//! reference page in docs equal to it, and the server checked against it by a
//! property-based API tester (schemathesis): no server error, every status, media type and
//! response shape as documented.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn refs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match v {
        serde_json::Value::Object(m) => {
            if let Some(serde_json::Value::String(r)) = m.get("$ref") {
                out.push(r);
            }
            m.values().for_each(|x| refs(x, out));
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
        _ => {}
    }
}

/// Schemas typed "object" with no properties (nor a map's `additionalProperties`), or
/// "array" with no items, anywhere under `v`.
fn find_bare(v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            let ty = m.get("type").and_then(|t| t.as_str());
            if ty == Some("object")
                && !m.contains_key("properties")
                && !m.contains_key("additionalProperties")
            {
                out.push(format!("{at}: {v}"));
            }
            if ty == Some("array") && !m.contains_key("items") {
                out.push(format!("{at}: {v}"));
            }
            for (k, x) in m {
                find_bare(x, &format!("{at}/{k}"), out);
            }
        }
        serde_json::Value::Array(xs) => {
            for x in xs {
                find_bare(x, at, out);
            }
        }
        _ => {}
    }
}

fn resolve<'a>(doc: &'a serde_json::Value, v: &'a serde_json::Value) -> &'a serde_json::Value {
    match v["$ref"].as_str() {
        Some(r) => {
            let mut at = doc;
            for part in r.strip_prefix("#/").unwrap().split('/') {
                at = &at[part];
            }
            at
        }
        None => v,
    }
}

#[test]
fn the_document_is_complete_and_the_reference_page_matches_it() {
    let doc = probity_publish::api::openapi_document();
    assert_eq!(doc["openapi"], "3.1.0");
    // Every operation of the router's table is in it, with an id and its answers.
    for op in probity_publish::api::operations() {
        let o = &doc["paths"][op.path][op.method];
        assert_eq!(o["operationId"], op.id, "{} {}", op.method, op.path);
        assert!(o["responses"][op.ok.to_string()].is_object(), "{}", op.path);
    }
    // Every reference points at something.
    let mut all = Vec::new();
    refs(doc, &mut all);
    assert!(!all.is_empty());
    for r in all {
        let name = r.strip_prefix("#/").unwrap();
        let mut at = doc;
        for part in name.split('/') {
            at = &at[part];
        }
        assert!(!at.is_null(), "unresolvable {r}");
    }
    // The agents' push is described from its Rust type.
    let push = &doc["paths"]["/api/v1/agent/results"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert_eq!(
        push["required"],
        serde_json::json!(["vantage", "sent_at_ms", "results"])
    );
    // Every JSON answer's schema is derived from the handler's type: nothing anywhere in
    // an answer (or in the shared definitions) is a bare "object" or "array".
    let mut bare = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, o) in item.as_object().unwrap() {
            for (code, r) in o["responses"].as_object().unwrap() {
                if let Some(s) = r["content"].get("application/json") {
                    let schema = &s["schema"];
                    assert!(
                        schema.get("$ref").is_some()
                            || schema.get("properties").is_some()
                            || schema.get("items").is_some(),
                        "{method} {path} {code}: {schema}"
                    );
                    find_bare(schema, &format!("{method} {path} {code}"), &mut bare);
                }
            }
        }
    }
    for (name, s) in doc["components"]["schemas"].as_object().unwrap() {
        find_bare(s, name, &mut bare);
    }
    assert!(bare.is_empty(), "schemas without their shape: {bare:#?}");
    // A derived answer names its fields, as the handler writes them.
    let targets = &doc["paths"]["/api/v1/targets"]["get"]["responses"]["200"]["content"]["application/json"]
        ["schema"];
    assert_eq!(targets["type"], "array");
    let item = resolve(doc, &targets["items"]);
    for field in ["name", "status", "uptime", "regional", "last_result"] {
        assert!(item["properties"].get(field).is_some(), "{field}: {item}");
    }
    // docs/api-reference.md is rendered from it.
    let page = probity_publish::openapi::markdown(doc);
    let path = root().join("docs/api-reference.md");
    if std::env::var_os("PROBITY_BLESS").is_some() {
        std::fs::write(&path, &page).unwrap();
    }
    assert_eq!(
        std::fs::read_to_string(&path).unwrap_or_default(),
        page,
        "docs/api-reference.md is out of date: run the test with PROBITY_BLESS=1"
    );
}

#[test]
fn the_running_server_keeps_to_its_document() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let demo = common::DemoRun::start("150s", &data);
    let (addr, token) = (demo.addr, demo.token.clone());
    let served = common::wait_for(Duration::from_secs(20), || {
        common::try_get_json(addr, "/api/openapi.json")
    });
    assert_eq!(&served, probity_publish::api::openapi_document());
    // An agent token, for the agents' operations.
    let out = common::bin()
        .args(["token", "create", "--config"])
        .arg(data.join("demo.toml"))
        .args(["--agent", "api-tester"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let agent_token = String::from_utf8(out.stdout).unwrap().trim().to_string();

    let schemathesis = |token: &str, only_agents: bool| {
        let mut cmd = Command::new("schemathesis");
        cmd.arg("run")
            .arg(format!("http://{addr}/api/openapi.json"))
            .args(["-H", &format!("Authorization: Bearer {token}")])
            .args([
                "-c",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
            ])
            .args(["-n", "10", "--max-time", "30", "--seed", "1", "-w", "1"])
            // A kept-alive connection the server closed as the client reused it is the
            // network's doing, not an answer: retried.
            .args(["--request-retries", "2"])
            .args(["--phases", "examples,coverage,fuzzing"])
            .arg(if only_agents {
                "--include-path-regex"
            } else {
                "--exclude-path-regex"
            })
            .arg("^/api/v1/agent/")
            .env("NO_COLOR", "1");
        cmd.output()
    };
    let first = schemathesis(&token, false);
    let Ok(out) = first else {
        assert!(
            std::env::var_os("PROBITY_REQUIRE_SCHEMATHESIS").is_none(),
            "schemathesis is required but missing"
        );
        common::skipped(
            "the_running_server_keeps_to_its_document: the API tester: schemathesis is not installed",
        );
        return;
    };
    let report = |o: &std::process::Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    assert!(
        out.status.success(),
        "schemathesis found problems:\n{}",
        report(&out)
    );
    let text = report(&out);
    assert!(text.contains("generated"), "{text}");
    let out = schemathesis(&agent_token, true).unwrap();
    assert!(
        out.status.success(),
        "schemathesis (agents) found problems:\n{}",
        report(&out)
    );
    drop(demo);
}
