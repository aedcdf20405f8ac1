//! `govshare contract`: writes the generated contract (`docs/contract/`: the AsyncAPI 3.0
//! document and one JSON Schema per message) and checks the checked-in copies against the
//! code; and the validators the round-trip tests use to hold examples and the system tests'
//! traffic to those very schemas.

use std::{
    collections::{BTreeMap, HashMap},
    path::{Path, PathBuf},
    sync::{Arc, Mutex, OnceLock},
};

use clap::Subcommand;
use govshare_contract::{
    api, asyncapi,
    bus::{CallKind, Service},
    calls::Operation,
    envelope::Envelope,
};
use serde_json::Value;

#[derive(Subcommand, Debug)]
pub enum ContractCmd {
    /// Writes docs/contract/ (asyncapi.yaml and schemas/*.json) from the contract crate.
    Export {
        /// The folder to write (the workspace's docs/contract by default).
        #[arg(long, default_value = asyncapi::DIR)]
        out: PathBuf,
    },
    /// Exits 1, naming each stale file, when the checked-in contract differs from the code's.
    Check {
        #[arg(long, default_value = asyncapi::DIR)]
        dir: PathBuf,
    },
}

/// Runs a `contract` subcommand; the text to print, or the error (exit 1).
pub fn run(cmd: ContractCmd) -> Result<String, String> {
    match cmd {
        ContractCmd::Export { out } => {
            let written = export(&out).map_err(|e| format!("writing {}: {e}", out.display()))?;
            Ok(format!("wrote {written} files to {}", out.display()))
        }
        ContractCmd::Check { dir } => {
            let stale = stale(&dir);
            if stale.is_empty() {
                Ok(format!("{} is up to date", dir.display()))
            } else {
                Err(format!(
                    "the contract in {} is stale (regenerate with `govshare contract export`):\n  {}",
                    dir.display(),
                    stale.join("\n  ")
                ))
            }
        }
    }
}

/// Writes every file of the contract into `out`, removing schema files no message has any
/// more. Returns how many files it wrote.
pub fn export(out: &Path) -> std::io::Result<usize> {
    let files = asyncapi::files();
    std::fs::create_dir_all(out.join("schemas"))?;
    for old in std::fs::read_dir(out.join("schemas"))? {
        let path = old?.path();
        let rel = format!("schemas/{}", path.file_name().unwrap_or_default().to_string_lossy());
        if path.extension().is_some_and(|e| e == "json") && !files.contains_key(&rel) {
            std::fs::remove_file(path)?;
        }
    }
    for (rel, content) in &files {
        std::fs::write(out.join(rel), content)?;
    }
    Ok(files.len())
}

/// The files of `dir` that differ from what the code generates: missing, different, or left
/// over (a schema file no message has any more).
pub fn stale(dir: &Path) -> Vec<String> {
    let files = asyncapi::files();
    let mut out = Vec::new();
    for (rel, content) in &files {
        match std::fs::read_to_string(dir.join(rel)) {
            Ok(found) if found == *content => {}
            Ok(_) => out.push(format!("{rel} (differs)")),
            Err(_) => out.push(format!("{rel} (missing)")),
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir.join("schemas")) {
        let mut extra: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| format!("schemas/{}", e.file_name().to_string_lossy()))
            .filter(|rel| rel.ends_with(".json") && !files.contains_key(rel))
            .collect();
        extra.sort();
        out.extend(extra.into_iter().map(|rel| format!("{rel} (no longer generated)")));
    }
    out
}

/// A compiled JSON Schema 2020-12 of the contract.
struct Compiled(jsonschema::Validator);

fn compile(schema: &Value) -> Compiled {
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(schema)
        .unwrap_or_else(|e| panic!("a contract schema compiles: {e}"));
    Compiled(validator)
}

/// What is wrong with `value` against `schema` (empty when it validates).
fn problems(schema: &Compiled, value: &Value) -> Vec<String> {
    schema.0.iter_errors(value).map(|e| format!("{} at `{}`", e, e.instance_path())).collect()
}

type Cache = Mutex<HashMap<String, Arc<Compiled>>>;

/// The compiled schema file `name` (as `schemas/<name>.json` would hold it), cached.
fn schema_named(name: &str, make: impl FnOnce() -> Option<Value>) -> Option<Arc<Compiled>> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().expect("schema cache").get(name) {
        return Some(c.clone());
    }
    let compiled = Arc::new(compile(&make()?));
    cache.lock().expect("schema cache").insert(name.to_owned(), compiled.clone());
    Some(compiled)
}

/// The typed operation `service`/`kind`/`name`, if the contract has it.
pub fn operation(service: Service, kind: CallKind, name: &str) -> Option<Operation> {
    api::operations().into_iter().find(|op| op.service == service && op.kind == kind && op.name == name)
}

/// Problems of a call body (with `version`) against its published schema; `None` when the
/// contract has no such call (yet).
pub fn call_problems(service: Service, kind: CallKind, name: &str, body: &Value) -> Option<Vec<String>> {
    let op = operation(service, kind, name)?;
    let (call, _) = asyncapi::call_schema_names(&op);
    let schema = schema_named(&call, || Some(op.wire_schema().to_value()))?;
    Some(problems(&schema, body))
}

/// Problems of an accepted answer's `result` against its published schema; `None` when the
/// contract has no such call (yet).
pub fn result_problems(service: Service, kind: CallKind, name: &str, result: &Value) -> Option<Vec<String>> {
    let op = operation(service, kind, name)?;
    let (_, answer) = asyncapi::call_schema_names(&op);
    let schema = schema_named(&answer, || Some(op.answer_schema().to_value()))?;
    Some(problems(&schema, result))
}

/// Problems of an event envelope: the envelope against the CloudEvents schema, its `data`
/// against its type's schema. `None` when the contract has no such event type.
pub fn event_problems(envelope: &Envelope) -> Option<Vec<String>> {
    let kind = api::events().into_iter().find(|k| (k.event_type)() == envelope.event_type)?;
    let env_schema = schema_named("envelope", || Some(asyncapi::envelope_schema()))?;
    let data_schema =
        schema_named(&asyncapi::event_schema_name(&envelope.event_type), || Some((kind.schema)().to_value()))?;
    let value = serde_json::to_value(envelope).expect("envelopes serialize");
    let mut out = problems(&env_schema, &value);
    out.extend(problems(&data_schema, &envelope.data).into_iter().map(|p| format!("data: {p}")));
    Some(out)
}

/// Problems of any message against the checked-in schema file `schemas/<name>.json` of the
/// generated contract; `None` when there is no such schema.
pub fn problems_against(name: &str, value: &Value) -> Option<Vec<String>> {
    let files = generated();
    let schema = schema_named(name, || {
        files.get(&format!("schemas/{name}.json")).map(|text| serde_json::from_str(text).expect("JSON"))
    })?;
    Some(problems(&schema, value))
}

fn generated() -> &'static BTreeMap<String, String> {
    static FILES: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    FILES.get_or_init(asyncapi::files)
}

/// The operation `<service>.<name>` (as the contract's schema files name it), if typed.
pub fn operation_named(qualified: &str) -> Option<Operation> {
    let (service, name) = qualified.split_once('.')?;
    api::operations().into_iter().find(|op| op.service.name() == service && op.name == name)
}

/// Checks the JSON examples of one Markdown text, by the info string of each ```` ```json ````
/// block (see docs/contract/README.md):
///
/// - `call=<service>.<name>`: each `→ {...}` is a body of that call (of the call named in
///   parentheses after it, if any), each `← {...}` its result;
/// - `result=<service>.<name>`: the block is the result of that call;
/// - `answer=<service>.<name>`: the block is a whole answer (`{"ok": true, "result": ...}` or
///   the error answer);
/// - `event=<type>`: a CloudEvents envelope of that event type;
/// - `schema=<file>`: the block against `docs/contract/schemas/<file>.json`;
/// - `fragment`: an illustration shortened with `...`, not checked.
///
/// An untagged block, a tag naming no schema, a `→` body or a tagged block that is not JSON,
/// and a value its schema refuses are each a finding. A `←` shortened with `...` is not
/// JSON and is not checked. Returns the findings, and how many values were checked.
pub fn check_markdown(file: &str, text: &str) -> (Vec<String>, usize) {
    let mut findings = Vec::new();
    let mut checked = 0;
    let mut lines = text.lines().enumerate();
    while let Some((n, line)) = lines.next() {
        let Some(info) = line.trim().strip_prefix("```json") else { continue };
        let mut block = Vec::new();
        for (_, l) in lines.by_ref() {
            if l.trim().starts_with("```") {
                break;
            }
            block.push(l);
        }
        let at = format!("{file}:{}", n + 1);
        let tag = info.trim();
        let mut found = |what: String| findings.push(format!("{at}: {what}"));
        let body = block.join("\n");
        let (key, arg) = tag.split_once('=').unwrap_or((tag, ""));
        match key {
            "fragment" => {}
            "call" => {
                let mut current = arg.to_owned();
                for (arrow, segment) in segments(&block) {
                    let (value, rest) = first_json(&segment);
                    if arrow == '→'
                        && let Some(named) = rest.trim().strip_prefix('(')
                    {
                        let name: String =
                            named.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
                        let service = arg.split_once('.').map_or(arg, |(s, _)| s);
                        current = format!("{service}.{name}");
                    }
                    let Some(value) = value else {
                        if arrow == '→' {
                            found("a call body must be complete JSON (or tag the block `fragment`)".into());
                        }
                        continue;
                    };
                    checked += 1;
                    let part = if arrow == '→' { "call" } else { "result" };
                    if operation_named(&current).is_none() {
                        found(format!("no call {current} in the contract"));
                        continue;
                    }
                    report(&mut found, &format!("{current}.{part}"), &value);
                }
            }
            "result" | "answer" | "event" | "schema" => {
                let Ok(value) = serde_json::from_str::<Value>(&body) else {
                    found(format!("`{tag}` block is not JSON (or tag it `fragment`)"));
                    continue;
                };
                checked += 1;
                match key {
                    "result" if operation_named(arg).is_none() => found(format!("no call {arg} in the contract")),
                    "result" => report(&mut found, &format!("{arg}.result"), &value),
                    "answer" if value["ok"] == true => match operation_named(arg) {
                        Some(_) => report(&mut found, &format!("{arg}.result"), &value["result"]),
                        None => found(format!("no call {arg} in the contract")),
                    },
                    "answer" => report(&mut found, "error", &value),
                    "event" => {
                        if value["type"] != arg {
                            found(format!("the envelope's type is {}, not {arg}", value["type"]));
                        }
                        report(&mut found, "envelope", &value);
                        report(&mut found, &asyncapi::event_schema_name(arg), &value["data"]);
                    }
                    _ => report(&mut found, arg, &value),
                }
            }
            _ => found(format!(
                "a JSON block must say what it is: `json call=<service>.<name>`, `result=`, `answer=`, `event=`, `schema=` or `fragment` (has `{tag}`)"
            )),
        }
    }
    (findings, checked)
}

/// Validates `value` against the schema file `name`, reporting each problem.
fn report(found: &mut impl FnMut(String), name: &str, value: &Value) {
    match problems_against(name, value) {
        None => found(format!("no schema {name} in docs/contract/schemas")),
        Some(problems) => {
            for p in problems {
                found(format!("{name}: {p}"));
            }
        }
    }
}

/// The `→`/`←` parts of a block, each with its continuation lines.
fn segments(block: &[&str]) -> Vec<(char, String)> {
    let mut out: Vec<(char, String)> = Vec::new();
    for line in block {
        let t = line.trim_start();
        match t.chars().next() {
            Some(c @ ('→' | '←')) => out.push((c, t[c.len_utf8()..].to_owned())),
            _ => {
                if let Some((_, s)) = out.last_mut() {
                    s.push('\n');
                    s.push_str(line);
                }
            }
        }
    }
    out
}

/// The first JSON value of `text`, and what follows it.
fn first_json(text: &str) -> (Option<Value>, String) {
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    match stream.next() {
        Some(Ok(v)) => {
            let rest = text[stream.byte_offset()..].to_owned();
            (Some(v), rest)
        }
        _ => (None, String::new()),
    }
}

/// The example files of `docs/examples/` and the call each is a body of (without `version`).
pub const EXAMPLES: &[(&str, &str)] = &[("entry.json", "catalog.save_draft")];

#[cfg(test)]
mod tests {
    use super::*;

    /// The workspace root (this crate is `cli/`).
    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace").to_owned()
    }

    #[test]
    fn contract_checked_in_is_what_the_code_generates() {
        let stale = stale(&root().join(asyncapi::DIR));
        assert!(
            stale.is_empty(),
            "docs/contract is stale; run `cargo run --bin govshare -- contract export`:\n  {}",
            stale.join("\n  ")
        );
    }

    #[test]
    fn contract_export_then_check_finds_nothing_stale_and_a_changed_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        export(dir.path()).unwrap();
        std::fs::write(dir.path().join("schemas/leftover.json"), "{}").unwrap();
        assert_eq!(stale(dir.path()), vec!["schemas/leftover.json (no longer generated)".to_owned()]);
        export(dir.path()).unwrap();
        assert!(stale(dir.path()).is_empty());
        std::fs::write(dir.path().join("schemas/error.json"), "{}").unwrap();
        assert_eq!(stale(dir.path()), vec!["schemas/error.json (differs)".to_owned()]);
        assert!(run(ContractCmd::Check { dir: dir.path().to_owned() }).is_err());
    }

    #[test]
    fn contract_examples_in_the_docs_validate_against_their_schemas() {
        let mut findings = Vec::new();
        let mut checked = 0;
        let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .collect();
        docs.push(root().join("README.md"));
        docs.sort();
        for path in docs {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.strip_prefix(root()).unwrap().display().to_string();
            let (f, n) = check_markdown(&name, &text);
            findings.extend(f);
            checked += n;
        }
        for entry in std::fs::read_dir(root().join("docs/examples")).unwrap() {
            let path = entry.unwrap().path();
            let file = path.file_name().unwrap().to_string_lossy().to_string();
            let Some((_, call)) = EXAMPLES.iter().find(|(f, _)| *f == file) else {
                findings.push(format!("docs/examples/{file}: not in contract_cli::EXAMPLES (which call is it?)"));
                continue;
            };
            let mut body: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            body["version"] = serde_json::json!(govshare_contract::calls::CALL_VERSION);
            checked += 1;
            if operation_named(call).is_some() {
                report(&mut |f| findings.push(format!("docs/examples/{file}: {f}")), &format!("{call}.call"), &body);
            }
        }
        assert!(checked > 30, "only {checked} examples found");
        assert!(findings.is_empty(), "examples that do not match the contract:\n  {}", findings.join("\n  "));
    }

    #[test]
    fn contract_markdown_blocks_are_read_by_their_tags() {
        let text = "```json\n{}\n```\n```json fragment\n{...}\n```\n```json call=catalog.get_organisation\n→ {\"version\": 1, \"id\": \"gd-gongan\", \"bogus\": 1}\n← {\"id\": ...}\n```\n```json schema=error\n{\"ok\": true}\n```\n";
        let (findings, checked) = check_markdown("x.md", text);
        assert_eq!(checked, 2, "{findings:?}");
        assert!(findings[0].starts_with("x.md:1: a JSON block must say what it is"), "{findings:?}");
        assert!(findings.iter().any(|f| f.starts_with("x.md:11: error:")), "{findings:?}");
        if operation_named("catalog.get_organisation").is_some() {
            assert!(findings.iter().any(|f| f.starts_with("x.md:7: catalog.get_organisation.call:")), "{findings:?}");
        }
    }

    #[test]
    fn contract_round_trip_checks_a_typed_call_and_an_event() {
        use govshare_contract::{EventMeta, events::catalog::BusKeyRevoked};
        let ok = serde_json::json!({"version": 1, "id": "gd-gongan"});
        let bad = serde_json::json!({"version": 1, "id": "gd gongan", "bogus": true});
        let q = CallKind::Query;
        assert_eq!(call_problems(Service::Catalog, q, "get_organisation", &ok), Some(vec![]));
        assert_eq!(call_problems(Service::Catalog, q, "get_organisation", &bad).map(|p| p.len()), Some(2));
        assert_eq!(call_problems(Service::Catalog, q, "no_such_call", &ok), None);
        let revoked = BusKeyRevoked {
            org_id: "gd-gongan".into(),
            public_key: "U1".into(),
            revoked_by: "platform".into(),
            at: chrono::Utc::now(),
        };
        let meta = EventMeta { acting_org: "platform".into(), correlation_id: "c".into(), ..Default::default() };
        let mut envelope = Envelope::of(uuid::Uuid::now_v7(), &revoked, &meta, chrono::Utc::now());
        assert_eq!(event_problems(&envelope), Some(vec![]));
        envelope.data["at"] = serde_json::json!("yesterday");
        assert_eq!(event_problems(&envelope).map(|p| p.len()), Some(1));
        envelope.event_type = "govshare.catalog.organisation.bus_key_revoked.v9".into();
        assert_eq!(event_problems(&envelope), None);
    }

    #[test]
    fn contract_error_answer_schema_holds_a_rendered_error() {
        let error = govshare_contract::reply::ApiError::validation(vec![govshare_contract::Problem::required("name")]);
        let answer = serde_json::json!({"ok": false, "error": error.render(govshare_contract::Lang::En)});
        assert_eq!(problems_against("error", &answer), Some(vec![]));
        let wrong = serde_json::json!({"ok": false, "error": {"code": "nonsense", "message": "x", "problems": []}});
        assert!(!problems_against("error", &wrong).unwrap().is_empty());
    }
}
