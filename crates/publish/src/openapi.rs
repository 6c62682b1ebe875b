//! The OpenAPI 3.1 document of the HTTP API, built from the same table the router is built
//! from (the route table in the `api` module): a route cannot exist without its entry here, nor an
//! entry without its route. Every answer's schema is derived (schemars) from the Rust type
//! its handler returns; the API tests check the running server against them
//! (schemathesis).

use serde_json::{Map, Value, json};

/// Who may call an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    Public,
    /// `[server] api_token` or a token from `probity token create`.
    Api,
    /// An agent's token (`probity token create --agent NAME`).
    Agent,
}

/// What a successful answer carries.
#[derive(Clone, Copy, Debug)]
pub enum Out {
    /// JSON with this schema.
    Json(fn() -> Value),
    /// Another media type, described in words.
    Media(&'static str),
}

/// A request body.
#[derive(Clone, Copy, Debug)]
pub enum Body {
    None,
    Json(fn() -> Value),
    /// Anything (a heartbeat's message).
    Text,
}

/// An answer with a body of its own: status, description, schema.
pub type Extra = (u16, &'static str, fn() -> Value);

/// One operation of the API.
pub struct Op<R> {
    pub method: &'static str,
    pub path: &'static str,
    pub id: &'static str,
    pub tag: &'static str,
    pub summary: &'static str,
    /// Query parameters: name, JSON type, description.
    pub query: &'static [(&'static str, &'static str, &'static str)],
    pub body: Body,
    pub auth: Auth,
    pub ok: u16,
    pub out: Out,
    /// Error statuses it may answer, each with the typed error body.
    pub errors: &'static [u16],
    /// Other answers with bodies of their own (a partly refused push: 422 with the
    /// push's answer).
    pub also: &'static [Extra],
    /// The route to serve it (`None`: served by a route shared with others).
    pub route: Option<R>,
}

fn error_description(code: u16) -> &'static str {
    match code {
        400 => "The request is malformed: a parameter or the body is not what the operation takes.",
        401 => "No valid token.",
        403 => "Not allowed: the token (for a peer's statement, its signature) may not do this.",
        404 => "No such thing.",
        413 => "The body is too large.",
        421 => "Another server sharing the store records this target: the message names it.",
        422 => "Understood but refused: the message says why.",
        429 => "Too many requests from this sender: try again in a minute.",
        503 => "Stopping, reloading or unable to reach the store: try again.",
        _ => "An error.",
    }
}

/// Path parameters: every `{name}` in the path.
fn path_params(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| {
            json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
        })
        .collect()
}

/// The document for `ops`.
pub fn document<R>(ops: &[Op<R>]) -> Value {
    let mut paths: Map<String, Value> = Map::new();
    for op in ops {
        let mut parameters = path_params(op.path);
        for (name, ty, description) in op.query {
            parameters.push(json!({
                "name": name, "in": "query", "required": false,
                "description": description, "schema": {"type": ty},
            }));
        }
        let mut responses = Map::new();
        let ok = match op.out {
            Out::Json(schema) => json!({
                "description": "Done.",
                "content": {"application/json": {"schema": schema()}},
            }),
            Out::Media(media) => json!({
                "description": "Done.",
                "content": {media: {"schema": {"type": "string"}}},
            }),
        };
        responses.insert(op.ok.to_string(), ok);
        let mut errors: Vec<u16> = op.errors.to_vec();
        if op.auth != Auth::Public {
            errors.push(401);
        }
        errors.sort_unstable();
        errors.dedup();
        for code in errors {
            responses.insert(
                code.to_string(),
                json!({"$ref": format!("#/components/responses/E{code}")}),
            );
        }
        for (code, description, schema) in op.also {
            responses.insert(
                code.to_string(),
                json!({
                    "description": description,
                    "content": {"application/json": {"schema": schema()}},
                }),
            );
        }
        let mut operation = json!({
            "operationId": op.id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": parameters,
            "responses": responses,
        });
        match op.body {
            Body::None => {}
            Body::Json(schema) => {
                operation["requestBody"] = json!({
                    "required": true,
                    "content": {"application/json": {"schema": schema()}},
                });
            }
            Body::Text => {
                operation["requestBody"] = json!({
                    "required": false,
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                });
            }
        }
        match op.auth {
            Auth::Public => {}
            Auth::Api => operation["security"] = json!([{"api_token": []}]),
            Auth::Agent => operation["security"] = json!([{"agent_token": []}]),
        }
        paths
            .entry(op.path.to_string())
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("a path item is an object")
            .insert(op.method.to_string(), operation);
    }
    // Schemas derived from Rust types carry their definitions in `$defs`; they go to
    // `components/schemas`, where every reference can reach them.
    let mut schemas = Map::new();
    schemas.insert("Error".into(), error_schema());
    let mut paths = Value::Object(paths);
    hoist_defs(&mut paths, &mut schemas);
    let mut error_responses = Map::new();
    for code in [400u16, 401, 403, 404, 413, 421, 422, 429, 503] {
        error_responses.insert(
            format!("E{code}"),
            json!({
                "description": error_description(code),
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            }),
        );
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "probity",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Independent, verifiable evidence of how the cloud services you depend on behave. Every error is `{\"error\": {\"code\", \"message\"}}` with the fitting status. See docs/api.md.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            "responses": error_responses,
            "securitySchemes": {
                "api_token": {"type": "http", "scheme": "bearer", "description": "[server] api_token, or a token from `probity token create`."},
                "agent_token": {"type": "http", "scheme": "bearer", "description": "An agent's token, from `probity token create --agent NAME`."},
            },
        },
    })
}

/// Moves every `$defs` entry into `defs` and points `#/$defs/X` references at
/// `#/components/schemas/X`.
fn hoist_defs(v: &mut Value, defs: &mut Map<String, Value>) {
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(found)) = map.remove("$defs") {
                for (k, mut d) in found {
                    hoist_defs(&mut d, defs);
                    // Two types of one name would describe each other's answers.
                    if let Some(before) = defs.get(&k) {
                        assert_eq!(before, &d, "two answer types are named {k}: rename one");
                    }
                    defs.insert(k, d);
                }
            }
            if let Some(Value::String(r)) = map.get_mut("$ref")
                && let Some(name) = r.strip_prefix("#/$defs/")
            {
                *r = format!("#/components/schemas/{name}");
            }
            for val in map.values_mut() {
                hoist_defs(val, defs);
            }
        }
        Value::Array(items) => {
            for i in items {
                hoist_defs(i, defs);
            }
        }
        _ => {}
    }
}

/// `{"error": {"code", "message"}}`.
pub fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {"error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable, for programs: bad_request, unauthorized, not_found, …"},
                "message": {"type": "string", "description": "For people: what and where."},
            },
        }},
    })
}

/// The JSON Schema of a Rust type, as OpenAPI 3.1 takes it (no `$schema`, definitions
/// inlined under `$defs` of the schema itself, which 3.1 allows).
pub fn of<T: schemars::JsonSchema>() -> Value {
    let mut v = serde_json::to_value(schemars::schema_for!(T)).expect("a schema is JSON");
    if let Some(m) = v.as_object_mut() {
        m.remove("$schema");
    }
    v
}

// Request bodies (answers are derived from their types, with `of`).

pub fn ack_body() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "properties": {"by": {"type": "string"}, "note": {"type": "string"}},
    })
}

pub fn status_incident_body() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["name", "message"],
        "properties": {
            "name": {"type": "string"},
            "message": {"type": "string"},
            "status": {"enum": ["investigating", "identified", "monitoring", "resolved"]},
            "impact": {"enum": ["none", "minor", "major", "critical"]},
            "components": {"type": "array", "items": {"type": "string"}},
        },
    })
}

pub fn gate_judge_body() -> Value {
    json!({
        "type": "object",
        "description": "Argo Rollouts' web provider sends {\"gate\": NAME}; Flagger's webhooks send their own payload, whose metadata.gate (else name) names the gate.",
        "properties": {
            "gate": {"type": "string"},
            "window": {"type": "string", "description": "a duration such as 10m (10s to 24h); default the gate's window"},
            "name": {"type": "string"},
            "namespace": {"type": "string"},
            "phase": {"type": "string"},
            "checksum": {"type": "string"},
            "metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    })
}

pub fn status_update_body() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["status", "message"],
        "properties": {
            "status": {"enum": ["investigating", "identified", "monitoring", "resolved"]},
            "message": {"type": "string"},
        },
    })
}

/// The reference page (docs/api-reference.md) rendered from the document: every
/// operation with its parameters, body, answers and who may call it.
pub fn markdown(doc: &Value) -> String {
    let mut out = String::from(
        "# HTTP API reference\n\nGenerated from the OpenAPI document the server serves at `/api/openapi.json` \
         (OpenAPI 3.1); a test keeps this page equal to it. [api.md](api.md) explains the \
         answers with examples. Errors are always `{\"error\": {\"code\", \"message\"}}`.\n",
    );
    let mut by_tag: std::collections::BTreeMap<String, Vec<(String, String, &Value)>> =
        Default::default();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            let tag = op["tags"][0].as_str().unwrap_or("other").to_string();
            by_tag
                .entry(tag)
                .or_default()
                .push((path.clone(), method.to_uppercase(), op));
        }
    }
    for (tag, ops) in by_tag {
        out.push_str(&format!("\n## {tag}\n"));
        for (path, method, op) in ops {
            out.push_str(&format!(
                "\n### `{method} {path}`\n\n{}.\n\n",
                op["summary"].as_str().unwrap_or("")
            ));
            let who = match op["security"][0]
                .as_object()
                .and_then(|m| m.keys().next().cloned())
            {
                Some(k) if k == "api_token" => "an API token (`Authorization: Bearer …`)",
                Some(_) => "an agent's token (`Authorization: Bearer pba_…`)",
                None => "anyone",
            };
            out.push_str(&format!("- Who: {who}\n"));
            let params: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    let d = p["description"]
                        .as_str()
                        .map(|d| format!(": {d}"))
                        .unwrap_or_default();
                    format!(
                        "`{}` ({}){d}",
                        p["name"].as_str().unwrap_or(""),
                        p["in"].as_str().unwrap_or("")
                    )
                })
                .collect();
            if !params.is_empty() {
                out.push_str(&format!("- Parameters: {}\n", params.join("; ")));
            }
            if let Some(content) = op["requestBody"]["content"].as_object() {
                let media: Vec<&String> = content.keys().collect();
                out.push_str(&format!(
                    "- Body: {}\n",
                    media
                        .iter()
                        .map(|m| format!("`{m}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let answers: Vec<String> = op["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(code, r)| {
                    let media = r["content"]
                        .as_object()
                        .and_then(|c| c.keys().next().cloned())
                        .map(|m| format!(" `{m}`"))
                        .unwrap_or_else(|| {
                            if r.get("$ref").is_some() {
                                " error".into()
                            } else {
                                String::new()
                            }
                        });
                    format!("{code}{media}")
                })
                .collect();
            out.push_str(&format!("- Answers: {}\n", answers.join(", ")));
        }
    }
    out
}
