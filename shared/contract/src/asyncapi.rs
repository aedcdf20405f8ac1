//! The generated contract (`docs/contract/`): an AsyncAPI 3.0 document of the whole bus and one
//! JSON Schema (2020-12) per message, made from the types of this crate and nothing else.
//!
//! [`files`] returns every file with its content; `govshare contract export` writes them and
//! `govshare contract check` compares them with the checked-in copies, so CI fails when the
//! code and the documents part. The output is deterministic: object keys are sorted, calls and
//! events come in the order the registry ([`crate::api`]) lists them.
//!
//! The AsyncAPI document describes the bus **as a department system sees it**: it `send`s
//! commands and queries (request-reply, the answer on its own inbox) and `receive`s events.
//! Its message payloads are AsyncAPI Schema Objects (the JSON Schema draft-07 superset every
//! AsyncAPI tool reads); the JSON Schema files next to it are the same schemas as standalone
//! 2020-12 documents, exactly what the services validate calls against. The generator checks
//! that no schema uses a keyword outside what both drafts mean the same way.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::{
    api,
    bus::{self, CallKind, Service},
    calls::{CALL_VERSION, Operation, schema_for},
    envelope::{Envelope, EventKind, EventPayload, type_stem},
    events::notify::OrgNotice,
};

/// The folder the contract is checked in at, relative to the workspace root.
pub const DIR: &str = "docs/contract";
/// The AsyncAPI document's file name inside [`DIR`].
pub const ASYNCAPI: &str = "asyncapi.yaml";
/// The JSON Schema dialect of the files in `schemas/`.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Every file of the contract (path relative to [`DIR`] -> content), from the registry.
pub fn files() -> BTreeMap<String, String> {
    generate(&api::operations(), &api::events())
}

/// Every file of the contract for these calls and events.
pub fn generate(operations: &[Operation], events: &[EventKind]) -> BTreeMap<String, String> {
    let contract = Contract::build(operations, events);
    let mut out = BTreeMap::new();
    for (name, schema) in &contract.files {
        out.insert(format!("schemas/{name}.json"), to_json(schema));
    }
    out.insert(ASYNCAPI.to_owned(), to_yaml(&contract.asyncapi));
    out
}

/// The standalone schema file names (without `.json`) of a call's body and result.
pub fn call_schema_names(op: &Operation) -> (String, String) {
    let base = format!("{}.{}", op.service.name(), op.name);
    (format!("{base}.call"), format!("{base}.result"))
}

/// The standalone schema file name (without `.json`) of an event's `data`.
pub fn event_schema_name(event_type: &str) -> String {
    event_type.to_owned()
}

/// The schema of an error answer, `{"ok": false, "error": {code, message, problems}}`
/// (written once here: `reply::ApiError` renders it by hand, in the caller's language).
pub fn error_answer_schema() -> Value {
    let code = schema_for::<crate::reply::ErrorCode>().to_value();
    json!({
        "title": "Error answer",
        "description": "A refused command or query: nothing was changed. `message` is in the language the caller asked for (Accept-Language: zh-CN by default, or en).",
        "type": "object",
        "required": ["ok", "error"],
        "additionalProperties": false,
        "properties": {
            "ok": {"const": false},
            "error": {
                "type": "object",
                "required": ["code", "message", "problems"],
                "additionalProperties": false,
                "properties": {
                    "code": strip_dialect(code),
                    "message": {"type": "string"},
                    "problems": {
                        "description": "Every problem found, never only the first; never empty for `validation_failed`.",
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["field", "code", "message"],
                            "additionalProperties": false,
                            "properties": {
                                "field": {"type": "string", "description": "Path of the field, e.g. `items[2].sensitivity`; empty for the body as a whole."},
                                "code": {"type": "string", "description": "`required`, `unknown_field`, `invalid`, `too_long`, `too_many`, `too_few`, `out_of_range`, `duplicate`, or a domain rule's own code."},
                                "message": {"type": "string"}
                            }
                        }
                    }
                }
            }
        }
    })
}

/// The schema of an accepted answer with `result`.
pub fn ok_answer_schema(result: Value) -> Value {
    json!({
        "type": "object",
        "required": ["ok", "result"],
        "additionalProperties": false,
        "properties": {"ok": {"const": true}, "result": result}
    })
}

/// The CloudEvents 1.0 envelope with govshare's extensions, `data` left open.
pub fn envelope_schema() -> Value {
    let mut schema = strip_dialect(schema_for::<Envelope>().to_value());
    let props = &mut schema["properties"];
    props["specversion"] = json!({"const": Envelope::SPEC_VERSION});
    props["id"]["description"] = json!("UUIDv7, also the `Nats-Msg-Id` header: the key of exactly-once processing.");
    props["source"] =
        json!({"type": "string", "pattern": "^/govshare/[a-z]+$", "description": "`/govshare/<service>`."});
    props["type"]["description"] = json!(
        "`govshare.<service>.<aggregate>.<event>.v<N>` (`govshare.duty.<op>.v<N>` on the duty stream): carries the payload's version."
    );
    props["subject"]["description"] = json!("The id of the thing the event is about.");
    props["datacontenttype"] = json!({"const": "application/json"});
    props["data"] = json!({"description": "The event's payload: see the event's own schema."});
    schema["title"] = json!("CloudEvents envelope");
    schema["description"] = json!(
        "Every event travels as a CloudEvents 1.0 JSON envelope in the message body (structured mode), with the header `Nats-Msg-Id` = `id`."
    );
    schema
}

/// Which keywords a generated schema may use: those JSON Schema draft-07 (what AsyncAPI 3.0
/// Schema Objects extend) and 2020-12 read the same way.
const KEYWORDS: &[&str] = &[
    "$ref",
    "$defs",
    "$schema",
    "title",
    "description",
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "oneOf",
    "anyOf",
    "allOf",
    "not",
    "pattern",
    "format",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "uniqueItems",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "propertyNames",
    "minProperties",
    "maxProperties",
    "if",
    "then",
    "else",
    "multipleOf",
];

/// The contract, built once: the AsyncAPI document and the standalone schemas.
struct Contract {
    asyncapi: Value,
    files: BTreeMap<String, Value>,
    /// `components.schemas`: every message's schema and every definition, hoisted.
    schemas: BTreeMap<String, Value>,
    messages: Map<String, Value>,
    channels: Map<String, Value>,
    operations: Map<String, Value>,
}

impl Contract {
    fn build(operations: &[Operation], events: &[EventKind]) -> Self {
        let mut c = Contract {
            asyncapi: Value::Null,
            files: BTreeMap::new(),
            schemas: BTreeMap::new(),
            messages: Map::new(),
            channels: Map::new(),
            operations: Map::new(),
        };
        let error = error_answer_schema();
        c.file("error", error.clone());
        c.component("error", error);
        let envelope = envelope_schema();
        c.file("envelope", envelope.clone());
        c.component("envelope", envelope);
        c.schemas.insert("call.headers".into(), call_headers());
        c.schemas.insert("event.headers".into(), event_headers());
        for op in operations {
            c.call(op);
        }
        for kind in events {
            c.event(kind);
        }
        c.asyncapi = c.document();
        c
    }

    fn file(&mut self, name: &str, schema: Value) {
        let mut schema = schema;
        check_keywords(name, &schema);
        if let Some(o) = schema.as_object_mut() {
            o.insert("$schema".into(), json!(DIALECT));
        }
        self.files.insert(name.to_owned(), schema);
    }

    /// Puts `schema` into `components.schemas` as `key`, its `$defs` hoisted beside it.
    fn component(&mut self, key: &str, schema: Value) -> Value {
        let mut schema = strip_dialect(schema);
        let defs = schema.as_object_mut().and_then(|o| o.remove("$defs"));
        let mut renamed = BTreeMap::new();
        if let Some(Value::Object(defs)) = &defs {
            for (name, def) in defs {
                let shared = match self.schemas.get(name) {
                    None => true,
                    Some(existing) => *existing == rewrite_refs(def.clone(), &BTreeMap::new()),
                };
                let target = if shared { name.clone() } else { format!("{key}.{name}") };
                renamed.insert(name.clone(), target);
            }
            for (name, def) in defs {
                let def = rewrite_refs(def.clone(), &renamed);
                self.schemas.insert(renamed[name].clone(), def);
            }
        }
        self.schemas.insert(key.to_owned(), rewrite_refs(schema, &renamed));
        json!({"$ref": format!("#/components/schemas/{key}")})
    }

    fn call(&mut self, op: &Operation) {
        let (call_name, result_name) = call_schema_names(op);
        let (verb, kind_word) = match op.kind {
            CallKind::Command => ("cmd", "command"),
            CallKind::Query => ("qry", "query"),
        };
        let service = op.service.name();
        let doc = op.doc.trim().to_owned();
        let summary = doc.lines().next().unwrap_or_default().to_owned();

        let mut body = op.wire_schema().to_value();
        body["title"] = json!(format!("{service} {kind_word} {} (body)", op.name));
        body["description"] = json!(doc);
        let mut result = op.answer_schema().to_value();
        result["title"] = json!(format!("{service} {kind_word} {} (result)", op.name));
        self.file(&call_name, body.clone());
        self.file(&result_name, result.clone());
        let body_ref = self.component(&call_name, body);
        let result_ref = self.component(&result_name, result);

        let answer_key = format!("{service}.{}.answer", op.name);
        self.schemas.insert(
            answer_key.clone(),
            json!({"oneOf": [ok_answer_schema(result_ref), {"$ref": "#/components/schemas/error"}]}),
        );

        let versioned = |part: &str| format!("{service}.{}.{part}.v{CALL_VERSION}", op.name);
        self.messages.insert(
            call_name.clone(),
            json!({
                "name": versioned("call"),
                "title": format!("{service} {kind_word} {}", op.name),
                "summary": summary,
                "description": doc,
                "contentType": "application/json",
                "headers": {"$ref": "#/components/schemas/call.headers"},
                "payload": body_ref,
                "x-govshare-version": CALL_VERSION,
                "x-govshare-rust-type": op.body_type,
                "x-govshare-schema": format!("schemas/{call_name}.json"),
            }),
        );
        self.messages.insert(
            answer_key.clone(),
            json!({
                "name": versioned("answer"),
                "title": format!("answer to {service} {kind_word} {}", op.name),
                "summary": format!("`{{\"ok\": true, \"result\": ...}}` or the error answer."),
                "contentType": "application/json",
                "payload": {"$ref": format!("#/components/schemas/{answer_key}")},
                "x-govshare-version": CALL_VERSION,
                "x-govshare-rust-type": op.answer_type,
                "x-govshare-schema": format!("schemas/{result_name}.json"),
            }),
        );

        let channel = format!("{verb}.{service}.{}", op.name);
        let reply_channel = format!("{channel}.reply");
        self.channels.insert(
            channel.clone(),
            json!({
                "address": format!("{}.{verb}.{service}.{{org}}.{}", bus::PREFIX, op.name),
                "title": format!("{service} {kind_word} {}", op.name),
                "description": doc,
                "parameters": {"org": {"$ref": "#/components/parameters/org"}},
                "messages": {"call": {"$ref": format!("#/components/messages/{call_name}")}},
            }),
        );
        self.channels.insert(
            reply_channel.clone(),
            json!({
                "address": null,
                "description": "The caller's reply subject (NATS request-reply): a fresh subject under the acting organisation's own inbox prefix `_INBOX.<org>.`; the bus refuses any other.",
                "messages": {"answer": {"$ref": format!("#/components/messages/{answer_key}")}},
            }),
        );
        self.operations.insert(
            format!("{verb}.{service}.{}", op.name),
            json!({
                "action": "send",
                "title": format!("{service} {kind_word} {}", op.name),
                "summary": summary,
                "description": doc,
                "channel": {"$ref": format!("#/channels/{channel}")},
                "messages": [{"$ref": format!("#/channels/{channel}/messages/call")}],
                "reply": {
                    "channel": {"$ref": format!("#/channels/{reply_channel}")},
                    "messages": [{"$ref": format!("#/channels/{reply_channel}/messages/answer")}],
                },
                "tags": [{"name": service}, {"name": kind_word}],
            }),
        );
    }

    fn event(&mut self, kind: &EventKind) {
        let event_type = (kind.event_type)();
        let name = event_schema_name(&event_type);
        let mut data = (kind.schema)().to_value();
        data["title"] = json!(event_type);
        let doc = data.get("description").and_then(Value::as_str).unwrap_or_default().trim().to_owned();
        self.file(&name, data.clone());
        let data_ref = self.component(&name, data);
        let envelope_key = format!("{name}.envelope");
        self.schemas.insert(
            envelope_key.clone(),
            json!({
                "allOf": [
                    {"$ref": "#/components/schemas/envelope"},
                    {
                        "type": "object",
                        "properties": {
                            "type": {"const": event_type},
                            "source": {"const": kind.service.source()},
                            "data": data_ref,
                        }
                    }
                ]
            }),
        );
        let version = event_type.rsplit_once(".v").and_then(|(_, v)| v.parse::<u32>().ok()).unwrap_or(1);
        self.messages.insert(
            name.clone(),
            json!({
                "name": event_type,
                "title": event_type,
                "summary": doc.lines().next().unwrap_or_default(),
                "description": doc,
                "contentType": "application/cloudevents+json",
                "headers": {"$ref": "#/components/schemas/event.headers"},
                "payload": {"$ref": format!("#/components/schemas/{envelope_key}")},
                "x-govshare-version": version,
                "x-govshare-rust-type": kind.rust_type,
                "x-govshare-schema": format!("schemas/{name}.json"),
            }),
        );
        let (address, parameters, stream) = event_address(kind, &event_type);
        let stream = match parameters.contains_key("org") {
            true => format!(
                "An organisation's notices, on the JetStream stream `{stream}`: the event subject a department system subscribes to (its own `org` only)."
            ),
            false => format!(
                "On the JetStream stream `{stream}`; read by govshare's services and operators (a department system hears of it through its notices)."
            ),
        };
        let stem = type_stem(&event_type).trim_start_matches("govshare.");
        let channel = format!("evt.{stem}");
        let mut ch = json!({
            "address": address,
            "title": stem,
            "description": stream,
            "messages": {},
        });
        if !parameters.is_empty() {
            ch["parameters"] = Value::Object(parameters);
        }
        let channel_entry = self.channels.entry(channel.clone()).or_insert(ch);
        channel_entry["messages"][format!("v{version}")] = json!({"$ref": format!("#/components/messages/{name}")});
        let op_key = format!("on.{stem}");
        let op = self.operations.entry(op_key).or_insert_with(|| {
            json!({
                "action": "receive",
                "title": stem,
                "summary": doc.lines().next().unwrap_or_default(),
                "channel": {"$ref": format!("#/channels/{channel}")},
                "messages": [],
                "tags": [{"name": kind.service.name()}, {"name": "event"}],
            })
        });
        if let Some(list) = op["messages"].as_array_mut() {
            list.push(json!({"$ref": format!("#/channels/{channel}/messages/v{version}")}));
        }
    }

    fn document(&mut self) -> Value {
        json!({
            "asyncapi": "3.0.0",
            "info": {
                "title": "govshare bus contract",
                "version": format!("{CALL_VERSION}.0.0"),
                "description": INFO,
                "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
            },
            "defaultContentType": "application/json",
            "servers": {
                "local": {
                    "host": "127.0.0.1:4223",
                    "protocol": "nats",
                    "title": "govshare up",
                    "description": format!("The bus `govshare up` starts on one machine. {NKEY}"),
                    "x-govshare-authentication": nkey_extension(),
                },
                "production": {
                    "host": "{host}:{port}",
                    "protocol": "nats",
                    "description": format!("A deployment's NATS cluster (with JetStream). {NKEY}"),
                    "variables": {
                        "host": {"description": "The deployment's NATS host."},
                        "port": {"default": "4222"},
                    },
                    "x-govshare-authentication": nkey_extension(),
                },
            },
            "channels": Value::Object(std::mem::take(&mut self.channels)),
            "operations": Value::Object(std::mem::take(&mut self.operations)),
            "components": {
                "schemas": Value::Object(std::mem::take(&mut self.schemas).into_iter().collect()),
                "messages": Value::Object(std::mem::take(&mut self.messages)),
                "parameters": {
                    "org": {"description": "The acting organisation's id (`^[A-Za-z0-9_-]{1,64}$`): the caller's own, or `platform` for the operators. The bus admits a connection to publish only in its own organisation's name."},
                    "channel": {"enum": ["email", "webhook"], "description": "The delivery channel that gave up."},
                },
            },
        })
    }
}

const INFO: &str = "Every command, query and event of govshare (government data sharing under 《政务数据共享条例》), \
from the side of those who connect to the bus: a department system sends commands and queries (NATS request-reply: \
the answer comes on the caller's own inbox, `_INBOX.<org>.`) and receives its organisation's notices \
(`govshare.evt.notify.org.<org>`, the only events a department's credentials may read). The other events are the \
services' own traffic on JetStream (each a CloudEvents 1.0 JSON envelope), described here so that every service \
and the operators' tools read one contract. Generated from the Rust types of the `govshare-contract` crate by \
`govshare contract export`; do not edit by hand. Each message's JSON Schema 2020-12 document is under `schemas/` \
(`x-govshare-schema`). Versioning (VERSIONING.md): a call body carries `\"version\": 1`, an event's CloudEvents \
`type` ends in `.v<N>`.";

const NKEY: &str = "Every connection authenticates with a NATS nkey (an Ed25519 key pair): the server sends a nonce, \
the client signs it with its seed, the server checks the signature against the public keys it admits (an \
organisation's keys are in the catalog's directory). AsyncAPI 3.0 has no security scheme for this \
challenge-response, so it is described here and in `x-govshare-authentication`.";

fn nkey_extension() -> Value {
    json!({
        "method": "nats-nkey",
        "description": "NATS nkey challenge-response (Ed25519): no password, no token. The seed (`SU...`) stays with the organisation; only its public key (`U...`) is registered.",
        "permissions": "An organisation may publish `govshare.cmd.*.<org>.>` and `govshare.qry.*.<org>.>` only, and receive replies on `_INBOX.<org>.>` and its notices on `govshare.evt.notify.org.<org>`.",
        "documentation": "docs/integration-guide.md",
    })
}

/// Headers of a command or query (all optional).
fn call_headers() -> Value {
    json!({
        "type": "object",
        "properties": {
            bus::LANG_HEADER: {"type": "string", "description": "Language of error messages: `zh-CN` (default) or `en`.", "examples": ["en"]},
            bus::IDEMPOTENCY_HEADER: {"type": "string", "description": "Commands: a retry with the same key gets the first answer and changes nothing again."},
            bus::CORRELATION_HEADER: {"type": "string", "description": "Copied onto every event the command causes (`correlationid`); a fresh one when absent."},
            "traceparent": {"type": "string", "description": "W3C trace context; the service's span joins it."},
            "tracestate": {"type": "string", "description": "W3C trace state."},
        }
    })
}

/// Headers of an event message.
fn event_headers() -> Value {
    json!({
        "type": "object",
        "required": ["Nats-Msg-Id"],
        "properties": {
            "Nats-Msg-Id": {"type": "string", "description": "The envelope's `id`: JetStream drops a re-sent copy inside its duplicate window, consumers record it to process each event once."},
        }
    })
}

/// Where an event travels: its subject (with parameters), and the stream that keeps it.
fn event_address(kind: &EventKind, event_type: &str) -> (String, Map<String, Value>, String) {
    let mut parameters = Map::new();
    if event_type == <OrgNotice as EventPayload>::event_type() {
        parameters.insert("org".into(), json!({"$ref": "#/components/parameters/org"}));
        let address = OrgNotice::subject_for("{org}");
        return (address, parameters, "GOVSHARE_NOTIFY".into());
    }
    if type_stem(event_type) == "govshare.notify.delivery.dead" {
        parameters.insert("channel".into(), json!({"$ref": "#/components/parameters/channel"}));
        let address = bus::dlq_subject(Service::Notify, "notify-{channel}");
        return (address, parameters, bus::DLQ_STREAM.into());
    }
    let subject = (kind.nats_subject)();
    let stream = if subject.starts_with(&format!("{}.duty.", bus::PREFIX)) {
        bus::DUTY_STREAM.to_owned()
    } else {
        kind.service.stream()
    };
    (subject, parameters, stream)
}

fn strip_dialect(mut schema: Value) -> Value {
    if let Some(o) = schema.as_object_mut() {
        o.remove("$schema");
    }
    schema
}

/// `#/$defs/X` -> `#/components/schemas/<renamed X>`, everywhere in `value`.
fn rewrite_refs(value: Value, renamed: &BTreeMap<String, String>) -> Value {
    match value {
        Value::Object(o) => Value::Object(
            o.into_iter()
                .map(|(k, v)| {
                    if k == "$ref"
                        && let Some(name) = v.as_str().and_then(|r| r.strip_prefix("#/$defs/"))
                    {
                        let target = renamed.get(name).map_or(name, String::as_str);
                        return (k, json!(format!("#/components/schemas/{target}")));
                    }
                    (k, rewrite_refs(v, renamed))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(|v| rewrite_refs(v, renamed)).collect()),
        other => other,
    }
}

/// Panics on a keyword outside [`KEYWORDS`] (a schema the AsyncAPI tools would read otherwise
/// than the services): the generator must then learn to say it another way.
fn check_keywords(name: &str, schema: &Value) {
    fn walk(name: &str, v: &Value, is_schema: bool) {
        match v {
            Value::Object(o) if is_schema => {
                for (k, sub) in o {
                    assert!(
                        KEYWORDS.contains(&k.as_str()) || k.starts_with("x-"),
                        "schema {name} uses `{k}`, which JSON Schema draft-07 (AsyncAPI) and 2020-12 read differently"
                    );
                    match k.as_str() {
                        "properties" | "$defs" | "patternProperties" => {
                            if let Value::Object(m) = sub {
                                m.values().for_each(|s| walk(name, s, true));
                            }
                        }
                        "items" | "additionalProperties" | "not" | "if" | "then" | "else" | "propertyNames" => {
                            walk(name, sub, true)
                        }
                        "oneOf" | "anyOf" | "allOf" => {
                            if let Value::Array(a) = sub {
                                a.iter().for_each(|s| walk(name, s, true));
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    walk(name, schema, true);
}

/// JSON with sorted keys, two-space indents, and a final newline.
pub fn to_json(value: &Value) -> String {
    let mut out = serde_json::to_string_pretty(&sorted(value)).expect("JSON");
    out.push('\n');
    out
}

/// `value` with every object's keys in sorted order (whatever `serde_json`'s map keeps).
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            Value::Object(keys.into_iter().map(|k| (k.clone(), sorted(&o[k]))).collect())
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// YAML (1.2, block style) for a JSON value: top-level keys in the AsyncAPI order, every other
/// object's keys sorted, strings quoted as JSON unless they are plain words.
pub fn to_yaml(value: &Value) -> String {
    const TOP: &[&str] = &["asyncapi", "info", "defaultContentType", "servers", "channels", "operations", "components"];
    let mut out =
        String::from("# Generated by `govshare contract export` from the govshare-contract crate. Do not edit.\n");
    let Value::Object(o) = value else {
        yaml_value(value, 0, &mut out);
        return out;
    };
    let mut keys: Vec<&String> = o.keys().collect();
    keys.sort_by_key(|k| (TOP.iter().position(|t| t == k).unwrap_or(TOP.len()), k.to_string()));
    for k in keys {
        yaml_entry(k, &o[k], 0, &mut out);
    }
    out
}

fn yaml_entry(key: &str, value: &Value, indent: usize, out: &mut String) {
    out.push_str(&" ".repeat(indent));
    out.push_str(&yaml_scalar_str(key));
    out.push(':');
    match value {
        Value::Object(o) if !o.is_empty() => {
            out.push('\n');
            yaml_value(value, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            yaml_value(value, indent + 2, out);
        }
        _ => {
            out.push(' ');
            yaml_value(value, indent, out);
        }
    }
}

/// Writes `value` at `indent` (containers: one line per entry; scalars: inline + newline).
fn yaml_value(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(o) if o.is_empty() => out.push_str("{}\n"),
        Value::Array(a) if a.is_empty() => out.push_str("[]\n"),
        Value::Object(o) => {
            let mut keys: Vec<&String> = o.keys().collect();
            keys.sort();
            for k in keys {
                yaml_entry(k, &o[k], indent, out);
            }
        }
        Value::Array(a) => {
            for item in a {
                let mut inner = String::new();
                yaml_value(item, indent + 2, &mut inner);
                let pad = " ".repeat(indent + 2);
                let body = if matches!(item, Value::Object(o) if !o.is_empty())
                    || matches!(item, Value::Array(a) if !a.is_empty())
                {
                    inner.strip_prefix(&pad).unwrap_or(&inner).to_owned()
                } else {
                    inner
                };
                out.push_str(&" ".repeat(indent));
                out.push_str("- ");
                out.push_str(&body);
            }
        }
        Value::String(s) => {
            out.push_str(&yaml_scalar_str(s));
            out.push('\n');
        }
        other => {
            out.push_str(&other.to_string());
            out.push('\n');
        }
    }
}

/// A string as a YAML scalar: plain when it is a simple word YAML cannot read as anything
/// else, otherwise JSON-quoted (JSON's escapes are a subset of YAML's double-quoted ones).
fn yaml_scalar_str(s: &str) -> String {
    let mut chars = s.chars();
    let plain = matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '$' | '/' | '+'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "null" | "yes" | "no" | "on" | "off" | "y" | "n" | "~"
        );
    if plain { s.to_owned() } else { serde_json::to_string(s).expect("JSON string") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        calls::{CallSet, Empty},
        envelope::EventSet,
        types::{OrgId, Text},
    };

    #[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    pub struct Greet {
        pub to: OrgId,
        pub words: Text<5>,
    }

    #[derive(Debug, serde::Serialize, schemars::JsonSchema)]
    pub struct Greeted {
        pub ok: bool,
        pub who: OrgId,
    }

    crate::calls! {
        /// Test calls.
        #[allow(dead_code)]
        pub enum TestCall for Service::Notify {
            /// Says hello.
            /// Twice.
            command "greet" => Greet(Greet) -> Greeted,
            query "nothing" => Nothing(Empty) -> Greeted,
        }
    }

    fn sample() -> BTreeMap<String, String> {
        let mut events = crate::events::catalog::Emitted::kinds();
        events.extend(crate::events::notify::Emitted::kinds());
        events.extend(crate::duty::DutyMessage::kinds());
        generate(&TestCall::operations(), &events)
    }

    #[test]
    fn a_call_has_a_channel_per_name_with_the_acting_organisation_and_a_reply() {
        let files = sample();
        let yaml = &files[ASYNCAPI];
        assert!(yaml.contains("address: \"govshare.cmd.notify.{org}.greet\""), "{yaml}");
        assert!(yaml.contains("address: \"govshare.qry.notify.{org}.nothing\""));
        assert!(yaml.contains("cmd.notify.greet.reply:"));
        assert!(yaml.contains("action: send"));
        assert!(yaml.contains("action: receive"));
        assert!(yaml.contains("address: govshare.evt.catalog.entry.published\n"));
        assert!(yaml.contains("address: govshare.duty.opened\n"));
        assert!(yaml.contains("address: \"govshare.evt.notify.org.{org}\""));
        let body: Value = serde_json::from_str(&files["schemas/notify.greet.call.json"]).unwrap();
        assert_eq!(body["$schema"], DIALECT);
        assert_eq!(body["required"][0], "version");
        assert_eq!(body["$defs"]["OrgId"]["pattern"], OrgId::PATTERN);
        assert!(files.contains_key("schemas/notify.greet.result.json"));
        assert!(files.contains_key("schemas/govshare.catalog.entry.published.v1.json"));
        assert!(files.contains_key("schemas/govshare.duty.opened.v1.json"));
        assert!(files.contains_key("schemas/envelope.json"));
        assert!(files.contains_key("schemas/error.json"));
    }

    #[test]
    fn the_output_is_the_same_every_time() {
        assert_eq!(sample(), sample());
    }

    #[test]
    fn hoisted_definitions_point_into_the_components() {
        let yaml = &sample()[ASYNCAPI];
        assert!(!yaml.contains("#/$defs/"));
        assert!(yaml.contains("\"#/components/schemas/OrgId\""));
    }

    #[test]
    fn yaml_scalars_are_plain_only_when_safe() {
        assert_eq!(yaml_scalar_str("send"), "send");
        assert_eq!(yaml_scalar_str("3.0.0"), "\"3.0.0\"");
        assert_eq!(yaml_scalar_str("no"), "\"no\"");
        assert_eq!(yaml_scalar_str("a: b"), "\"a: b\"");
        assert_eq!(yaml_scalar_str("#/x"), "\"#/x\"");
        let v = json!({"a": [{"b": 1, "c": [1, "x y"]}, [], {}], "d": {}});
        assert_eq!(
            to_yaml(&v).lines().skip(1).collect::<Vec<_>>().join("\n"),
            "a:\n  - b: 1\n    c:\n      - 1\n      - \"x y\"\n  - []\n  - {}\nd: {}"
        );
    }

    #[test]
    fn one_event_macro_names_both_the_services_events_and_the_duty_contract() {
        use crate::{duty::*, envelope::EventPayload};
        assert_eq!(OpenDuty::event_type(), "govshare.duty.opened.v1");
        assert_eq!(OpenDuty::nats_subject(), "govshare.duty.opened");
        assert_eq!(CycleDone::event_type(), "govshare.duty.cycle_done.v1");
        assert_eq!(DutyBreached::event_type(), "govshare.deadlines.duty.breached.v1");
        assert_eq!(DutyBreached::nats_subject(), "govshare.evt.deadlines.duty.breached");
        let missing = CalendarNextYearMissing { year: 2027, duties_waiting: 1, at: chrono::Utc::now() };
        assert_eq!(EventPayload::subject(&missing), "2027");
        let pause = PauseDuty { duty_id: "d-1".into(), at: chrono::Utc::now(), reason: "r".into() };
        assert_eq!(EventPayload::subject(&pause), "d-1");
        let kinds: Vec<String> = crate::events::catalog::Emitted::kinds().iter().map(|k| (k.event_type)()).collect();
        assert!(kinds.contains(&"govshare.catalog.entry.published.v1".to_owned()));
    }

    #[test]
    fn the_registry_generates() {
        let files = files();
        assert!(files.contains_key(ASYNCAPI));
    }
}
