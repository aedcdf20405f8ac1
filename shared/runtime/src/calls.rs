//! Reading a call into its typed command or query, with **every** problem at once.
//!
//! serde stops at the first error; a department fixing a request wants the whole list (the
//! courtesy Art. 21 asks of providers: 一次性告知). So a body is first validated against the
//! very JSON Schema the contract publishes for it (`docs/contract/schemas/`): every missing,
//! unknown, ill-typed or out-of-bounds field becomes a [`Problem`] at its path
//! (`items[2].sensitivity`), in both languages. Only a body that passes is read into its type,
//! so what the services accept and what the schema says cannot differ.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, OnceLock},
};

pub use govshare_contract::calls::CALL_VERSION;
use govshare_contract::calls::{CallKind, CallSet, DecodeError, Operation};
use jsonschema::{Validator, error::ValidationErrorKind};
use serde_json::Value;

use crate::{
    Service,
    reply::{ApiError, ErrorCode, Problem, Text},
};

/// A compiled schema and the schema itself (to read a failing keyword's `description`).
struct Compiled {
    schema: Value,
    validator: Validator,
}

type Cache = Mutex<HashMap<(Service, bool, &'static str), Arc<Compiled>>>;

fn compiled(op: &Operation) -> Arc<Compiled> {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (op.service, op.kind == CallKind::Command, op.name);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(c) = cache.lock().expect("schema cache").get(&key) {
        return c.clone();
    }
    let schema = op.wire_schema().to_value();
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("the contract's schema for {op:?} compiles: {e}"));
    let c = Arc::new(Compiled { schema, validator });
    cache.lock().expect("schema cache").insert(key, c.clone());
    c
}

/// Reads a call's payload as far as every call goes: size first (before parsing anything),
/// then JSON, then an object whose `version` this platform speaks.
pub fn read_body(payload: &[u8], max_bytes: usize) -> Result<Value, ApiError> {
    if payload.len() > max_bytes {
        return Err(ApiError::with_text(
            ErrorCode::PayloadTooLarge,
            format!("请求内容 {} 字节，超过上限 {max_bytes} 字节", payload.len()),
            format!("payload is {} bytes, over the limit of {max_bytes}", payload.len()),
        ));
    }
    let value: Value = serde_json::from_slice(payload).map_err(|e| {
        ApiError::with_text(
            ErrorCode::Malformed,
            format!("请求不是有效的 JSON：{e}"),
            format!("payload is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::new(ErrorCode::Malformed));
    }
    match value.get("version") {
        Some(Value::Number(n)) if n.as_u64() == Some(u64::from(CALL_VERSION)) => Ok(value),
        Some(other) => Err(ApiError::with_text(
            ErrorCode::UnsupportedVersion,
            format!("不支持的版本 {other}，支持的版本：{CALL_VERSION}"),
            format!("unsupported version {other}; supported: {CALL_VERSION}"),
        )),
        None => Err(ApiError::with_text(
            ErrorCode::UnsupportedVersion,
            format!("缺少 version，支持的版本：{CALL_VERSION}"),
            format!("version is missing; supported: {CALL_VERSION}"),
        )),
    }
}

/// Reads a call's body (a JSON object whose `version` was checked) as `S`.
pub fn parse<S: CallSet>(kind: CallKind, name: &str, body: &Value) -> Result<S, ApiError> {
    let Some(op) = S::operations().into_iter().find(|op| op.kind == kind && op.name == name) else {
        return Err(unknown_operation(name));
    };
    let compiled = compiled(&op);
    let mut problems: Vec<Problem> = Vec::new();
    for error in compiled.validator.iter_errors(body) {
        problems.extend(problems_of(&compiled.schema, &error));
    }
    // A date outside the accepted years may also fail its `format` (a year of five digits):
    // one problem per field, the one that says why.
    let out_of_range: Vec<String> =
        problems.iter().filter(|p| p.code == "out_of_range").map(|p| p.field.clone()).collect();
    problems.retain(|p| p.code != "invalid" || !out_of_range.contains(&p.field));
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    let mut object = body.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("version");
    }
    match S::decode(kind, name, object) {
        Ok(call) => Ok(call),
        Err(DecodeError::Unknown) => Err(unknown_operation(name)),
        // A rule the schema cannot say (a date that does not exist, a region not in the table
        // of a type's own reader): still a problem at its path, never a crash.
        Err(DecodeError::Body { path, message }) => Err(ApiError::validation(vec![Problem::new(
            path.clone(),
            "invalid",
            Text::new(format!("{path} 无效：{message}"), format!("{path} is invalid: {message}")),
        )])),
    }
}

/// The error for a call this service does not have.
pub fn unknown_operation(name: &str) -> ApiError {
    ApiError::with_text(ErrorCode::UnknownOperation, format!("未知的操作 {name}"), format!("unknown operation {name}"))
}

/// `/items/2/sensitivity` -> `items[2].sensitivity`.
pub fn field_path(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") }
}

/// The schema node a failing keyword belongs to (its parent in the schema path), following
/// `$ref`s into `$defs`, so a pattern's `description` can say what the value must look like.
fn schema_node<'a>(root: &'a Value, schema_path: &str) -> Option<&'a Value> {
    let mut segments: Vec<&str> = schema_path.split('/').skip(1).collect();
    segments.pop(); // the keyword itself
    let mut node = root;
    for segment in segments {
        node = if segment == "$ref" {
            let target = node.get("$ref")?.as_str()?.strip_prefix('#')?;
            root.pointer(target)?
        } else {
            node.get(segment.replace("~1", "/").replace("~0", "~"))?
        };
    }
    Some(node)
}

fn problems_of(schema: &Value, error: &jsonschema::ValidationError<'_>) -> Vec<Problem> {
    let path = field_path(error.instance_path().as_str());
    let at = if path.is_empty() { "(body)".to_owned() } else { path.clone() };
    let instance = error.instance();
    let one = |code: &str, zh: String, en: String| vec![Problem::new(path.clone(), code, Text::new(zh, en))];
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let field = join(&path, property.as_str().unwrap_or_default());
            vec![Problem::required(&field)]
        }
        ValidationErrorKind::AdditionalProperties { unexpected }
        | ValidationErrorKind::UnevaluatedProperties { unexpected } => unexpected
            .iter()
            .map(|name| {
                let field = join(&path, name);
                Problem::new(
                    field.clone(),
                    "unknown_field",
                    Text::new(format!("不接受字段 {field}"), format!("{field} is not a field of this call")),
                )
            })
            .collect(),
        ValidationErrorKind::Type { kind } => {
            let expected = format!("{kind:?}").to_lowercase();
            let expected = expected.trim_start_matches("single(").trim_end_matches(')').to_owned();
            one("invalid", format!("{at} 类型错误，应为 {expected}"), format!("{at} must be of type {expected}"))
        }
        ValidationErrorKind::MaxLength { limit } => one(
            "too_long",
            format!("{at} 过长，最多 {limit} 个字符"),
            format!("{at} is too long: at most {limit} characters"),
        ),
        ValidationErrorKind::MinLength { limit } => one(
            "required",
            format!("{at} 过短，至少 {limit} 个字符"),
            format!("{at} is too short: at least {limit} characters"),
        ),
        ValidationErrorKind::Pattern { .. } if instance.as_str().is_some_and(|s| s.trim().is_empty()) => {
            one("required", format!("{at} 不能为空"), format!("{at} must not be blank"))
        }
        ValidationErrorKind::Pattern { pattern } if pattern == govshare_contract::types::YEAR_PATTERN => {
            let value = instance.as_str().unwrap_or_default().to_owned();
            vec![govshare_contract::dates::OutOfRange(value).problem(&path)]
        }
        ValidationErrorKind::Pattern { pattern } => {
            let node = schema_node(schema, error.schema_path().as_str());
            let en = node.and_then(|n| n.get("description")).and_then(Value::as_str);
            let zh = node.and_then(|n| n.get("x-description-zh")).and_then(Value::as_str);
            if pattern == govshare_contract::types::TEXT_PATTERN {
                one("invalid", format!("{at} 不能包含 NUL 字符"), format!("{at} must not contain NUL"))
            } else {
                one(
                    "invalid",
                    format!("{at} 格式不符：{}", zh.unwrap_or(pattern)),
                    format!("{at} is invalid: {}", en.unwrap_or(pattern)),
                )
            }
        }
        ValidationErrorKind::MaxItems { limit } => {
            one("too_many", format!("{at} 最多 {limit} 项"), format!("{at} has more than {limit} elements"))
        }
        ValidationErrorKind::MinItems { limit } => {
            one("too_few", format!("{at} 至少 {limit} 项"), format!("{at} needs at least {limit} elements"))
        }
        ValidationErrorKind::Minimum { limit } | ValidationErrorKind::ExclusiveMinimum { limit } => {
            one("out_of_range", format!("{at} 过小，下限 {limit}"), format!("{at} is below the minimum {limit}"))
        }
        ValidationErrorKind::Maximum { limit } | ValidationErrorKind::ExclusiveMaximum { limit } => {
            one("out_of_range", format!("{at} 过大，上限 {limit}"), format!("{at} is above the maximum {limit}"))
        }
        ValidationErrorKind::Enum { options } => {
            one("invalid", format!("{at} 无效，可选值：{options}"), format!("{at} is invalid: one of {options}"))
        }
        ValidationErrorKind::Constant { expected_value } => one(
            "invalid",
            format!("{at} 无效，应为 {expected_value}"),
            format!("{at} is invalid: must be {expected_value}"),
        ),
        ValidationErrorKind::Format { format } => {
            one("invalid", format!("{at} 格式不符，应为 {format}"), format!("{at} is invalid: not a {format}"))
        }
        ValidationErrorKind::UniqueItems => {
            one("duplicate", format!("{at} 含有重复项"), format!("{at} has repeated elements"))
        }
        // A tagged choice (`oneOf`/`anyOf`) that matched no branch: the closest branch's
        // problems say the most (the one that failed least), named at their own paths.
        ValidationErrorKind::OneOfNotValid { context } | ValidationErrorKind::AnyOf { context } => {
            let best = context.iter().min_by_key(|errors| errors.len());
            match best {
                Some(errors) if !errors.is_empty() => errors.iter().flat_map(|e| problems_of(schema, e)).collect(),
                _ => one("invalid", format!("{at} 无效"), format!("{at} is invalid")),
            }
        }
        _ => one("invalid", format!("{at} 无效：{error}"), format!("{at} is invalid: {error}")),
    }
}

#[cfg(test)]
mod tests {
    use govshare_contract::{
        calls::Empty,
        types::{List, OrgId, Text as Bounded},
    };
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        name: Bounded<10>,
        sensitivity: Level,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(rename_all = "lowercase")]
    enum Level {
        Open,
        Restricted,
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Publish {
        owner: OrgId,
        items: List<Item, 1, 3>,
        note: Option<Bounded<20>>,
    }

    #[derive(Debug, Serialize, JsonSchema)]
    struct Done {}

    govshare_contract::calls! {
        #[allow(dead_code)]
        pub enum Calls for Service::Catalog {
            command "publish" => Publish(Publish) -> Done,
            query "nothing" => Nothing(Empty) -> Done,
        }
    }

    fn problems(body: Value) -> Vec<(String, String)> {
        let err = parse::<Calls>(CallKind::Command, "publish", &body).unwrap_err();
        assert_eq!(err.code, ErrorCode::ValidationFailed);
        let mut p: Vec<_> = err.problems.into_iter().map(|p| (p.field, p.code)).collect();
        p.sort();
        p
    }

    #[test]
    fn every_problem_is_named_at_its_path_at_once() {
        // Given a body with a bad owner, a bad item, a blank name, an unknown field and no note
        let body = serde_json::json!({
            "version": 1,
            "owner": "a.b",
            "items": [{"name": "x", "sensitivity": "secret"}, {"name": "  ", "sensitivity": "open"}, {"sensitivity": "open"}],
            "colour": "red",
        });
        // Then each is its own problem, where it is
        assert_eq!(
            problems(body),
            [
                ("colour".into(), "unknown_field".into()),
                ("items[0].sensitivity".into(), "invalid".into()),
                ("items[1].name".into(), "required".into()),
                ("items[2].name".into(), "required".into()),
                ("owner".into(), "invalid".into()),
            ]
        );
    }

    #[test]
    fn bounds_in_the_types_are_enforced_by_the_schema() {
        let body = serde_json::json!({
            "version": 1, "owner": "dept-a", "note": "x".repeat(21),
            "items": [{"name": "a", "sensitivity": "open"}, {"name": "b", "sensitivity": "open"},
                      {"name": "c", "sensitivity": "open"}, {"name": "d", "sensitivity": "open"}],
        });
        assert_eq!(problems(body), [("items".into(), "too_many".into()), ("note".into(), "too_long".into())]);
        let nul =
            serde_json::json!({"version": 1, "owner": "dept-a", "items": [{"name": "a\u{0}", "sensitivity": "open"}]});
        assert_eq!(problems(nul), [("items[0].name".into(), "invalid".into())]);
    }

    #[test]
    fn a_pattern_problem_says_what_the_value_must_look_like_in_both_languages() {
        let body = serde_json::json!({"version": 1, "owner": "*", "items": [{"name": "a", "sensitivity": "open"}]});
        let err = parse::<Calls>(CallKind::Command, "publish", &body).unwrap_err();
        assert!(err.problems[0].text.en.contains("letters, digits, - and _ only"), "{:?}", err.problems);
        assert!(err.problems[0].text.zh.contains("只能包含字母"), "{:?}", err.problems);
    }

    #[test]
    fn a_good_body_reads_into_its_type_and_an_unknown_call_is_named() {
        let body =
            serde_json::json!({"version": 1, "owner": "dept-a", "items": [{"name": " a ", "sensitivity": "open"}]});
        let Calls::Publish(p) = parse::<Calls>(CallKind::Command, "publish", &body).unwrap() else { panic!() };
        assert_eq!(p.items[0].name.as_str(), "a");
        let err = parse::<Calls>(CallKind::Command, "nosuch", &body).unwrap_err();
        assert_eq!(err.code, ErrorCode::UnknownOperation);
        assert!(parse::<Calls>(CallKind::Query, "nothing", &serde_json::json!({"version": 1})).is_ok());
        let err = parse::<Calls>(CallKind::Query, "nothing", &serde_json::json!({"version": 1, "x": 1})).unwrap_err();
        assert_eq!(err.problems[0].code, "unknown_field");
    }

    #[derive(Debug, Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Period {
        from: govshare_contract::types::Date,
    }

    govshare_contract::calls! {
        #[allow(dead_code)]
        pub enum DateCalls for Service::Requests {
            command "period" => Period(Period) -> Done,
        }
    }

    #[test]
    fn a_date_outside_the_accepted_years_is_one_out_of_range_problem() {
        for from in ["1999-12-31", "+10000-01-01", "0001-01-01"] {
            let body = serde_json::json!({"version": 1, "from": from});
            let err = parse::<DateCalls>(CallKind::Command, "period", &body).unwrap_err();
            let got: Vec<_> = err.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
            assert_eq!(got, [("from", "out_of_range")], "{from}");
            assert!(err.problems[0].text.zh.contains("超出可接受的范围（2000 年至 2100 年）"));
        }
    }

    #[test]
    fn a_payload_is_refused_whole_when_too_large_not_json_not_an_object_or_of_another_version() {
        let code = |payload: &[u8]| read_body(payload, 64).unwrap_err().code;
        assert_eq!(code(&[b' '; 65]), ErrorCode::PayloadTooLarge);
        assert_eq!(code(b"{"), ErrorCode::Malformed);
        assert_eq!(code(b"[1]"), ErrorCode::Malformed);
        assert_eq!(code(br#"{"version":2}"#), ErrorCode::UnsupportedVersion);
        assert_eq!(code(br#"{}"#), ErrorCode::UnsupportedVersion);
        assert!(read_body(br#"{"version":1,"x":1}"#, 64).is_ok());
    }

    #[test]
    fn pointers_become_field_paths() {
        assert_eq!(field_path("/items/2/sensitivity"), "items[2].sensitivity");
        assert_eq!(field_path(""), "");
        assert_eq!(field_path("/a~1b"), "a/b");
    }
}
