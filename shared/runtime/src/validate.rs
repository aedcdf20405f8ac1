//! Parsing a call's payload at the edge, collecting **every** problem before answering.
//!
//! serde stops at the first error; a department integrator fixing a request wants the whole
//! list at once (the same courtesy Art. 21 asks of providers: 一次性告知). So a payload is
//! first read as a JSON object, then each field is taken through [`Fields`], which records a
//! [`Problem`] for each missing or ill-typed field and carries on.
//!
//! Dates carry their bound too ([`dates`]): chrono accepts years from -262143 to +262142, and
//! the calendar arithmetic downstream (a term's due time, a usage period's end) panics near
//! those ends. A date another service will count with is refused where it enters.

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::reply::{ApiError, ErrorCode, Problem, Text};

/// The schema versions a call accepts.
pub const CALL_VERSION: u32 = 1;

/// A call's payload, read as an object whose `version` this service speaks.
#[derive(Debug)]
pub struct Fields {
    map: Map<String, Value>,
    problems: Vec<Problem>,
}

impl Fields {
    /// Reads a payload: size first (before parsing anything), then JSON, then the version.
    pub fn parse(body: &[u8], max_bytes: usize) -> Result<Self, ApiError> {
        if body.len() > max_bytes {
            return Err(ApiError::with_text(
                ErrorCode::PayloadTooLarge,
                format!("请求内容 {} 字节，超过上限 {max_bytes} 字节", body.len()),
                format!("payload is {} bytes, over the limit of {max_bytes}", body.len()),
            ));
        }
        let value: Value = serde_json::from_slice(body).map_err(|e| {
            ApiError::with_text(
                ErrorCode::Malformed,
                format!("请求不是有效的 JSON：{e}"),
                format!("payload is not valid JSON: {e}"),
            )
        })?;
        let Value::Object(map) = value else {
            return Err(ApiError::new(ErrorCode::Malformed));
        };
        match map.get("version") {
            Some(Value::Number(n)) if n.as_u64() == Some(u64::from(CALL_VERSION)) => {}
            Some(other) => {
                return Err(ApiError::with_text(
                    ErrorCode::UnsupportedVersion,
                    format!("不支持的版本 {other}，支持的版本：{CALL_VERSION}"),
                    format!("unsupported version {other}; supported: {CALL_VERSION}"),
                ));
            }
            None => {
                return Err(ApiError::with_text(
                    ErrorCode::UnsupportedVersion,
                    format!("缺少 version，支持的版本：{CALL_VERSION}"),
                    format!("version is missing; supported: {CALL_VERSION}"),
                ));
            }
        }
        Ok(Self { map, problems: Vec::new() })
    }

    /// The whole body, as read (with its `version`).
    pub fn body(&self) -> Value {
        Value::Object(self.map.clone())
    }

    /// Wraps an already-parsed object (tests, and nested objects).
    pub fn from_map(map: Map<String, Value>) -> Self {
        Self { map, problems: Vec::new() }
    }

    /// A required, non-blank string, trimmed.
    pub fn required_str(&mut self, name: &str) -> Option<String> {
        match self.optional_str(name) {
            Some(s) => Some(s),
            None if self.has_problem(name) => None,
            None => {
                self.problems.push(Problem::required(name));
                None
            }
        }
    }

    /// An optional string; blank counts as absent.
    pub fn optional_str(&mut self, name: &str) -> Option<String> {
        match self.map.get(name) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) if s.chars().count() > 10_000 => {
                self.problems.push(Problem::new(
                    name,
                    "too_long",
                    Text::new(format!("{name} 过长"), format!("{name} is too long")),
                ));
                None
            }
            Some(Value::String(s)) => Some(s.trim().to_owned()),
            Some(_) => {
                self.problems.push(Problem::invalid(name, "应为字符串", "expected a string"));
                None
            }
        }
    }

    /// A required field of any deserializable type.
    pub fn required<T: DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        if matches!(self.map.get(name), None | Some(Value::Null)) {
            self.problems.push(Problem::required(name));
            return None;
        }
        self.optional(name)
    }

    /// An optional field of any deserializable type. A problem inside it is named by its path
    /// (`form.usage.until`, `scope.keys[3]`).
    pub fn optional<T: DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        let value = self.map.get(name)?;
        if value.is_null() {
            return None;
        }
        match deserialize_at(name, value) {
            Ok(v) => Some(v),
            Err(problem) => {
                self.problems.push(problem);
                None
            }
        }
    }

    /// A required list whose elements are read one by one: every element that does not read
    /// is its own problem, named by its path (`items[0].sensitivity`, `items[2].name`), and
    /// the others still come back (`Err(raw)` for the ones that did not), so the rules about
    /// the list as a whole can run on the rest.
    pub fn required_list<T: DeserializeOwned>(&mut self, name: &str) -> Option<Vec<Result<T, Value>>> {
        let value = match self.map.get(name) {
            None | Some(Value::Null) => {
                self.problems.push(Problem::required(name));
                return None;
            }
            Some(v) => v.clone(),
        };
        let Value::Array(elements) = value else {
            self.problems.push(Problem::invalid(name, "应为列表", "expected a list"));
            return None;
        };
        let mut out = Vec::with_capacity(elements.len());
        for (i, element) in elements.into_iter().enumerate() {
            match deserialize_at(&format!("{name}[{i}]"), &element) {
                Ok(v) => out.push(Ok(v)),
                Err(problem) => {
                    self.problems.push(problem);
                    out.push(Err(element));
                }
            }
        }
        Some(out)
    }

    /// A required string turned into a domain type by `parse`, whose error explains why.
    pub fn required_with<T>(&mut self, name: &str, parse: impl FnOnce(&str) -> Result<T, Text>) -> Option<T> {
        let raw = self.required_str(name)?;
        match parse(&raw) {
            Ok(v) => Some(v),
            Err(why) => {
                self.problems.push(Problem::invalid(name, &why.zh, &why.en));
                None
            }
        }
    }

    /// A required calendar date (`YYYY-MM-DD`) within [`dates::MIN_YEAR`]..=[`dates::MAX_YEAR`].
    pub fn required_date(&mut self, name: &str) -> Option<NaiveDate> {
        let date = self.required(name)?;
        self.bounded(name, date, dates::check_date)
    }

    /// An optional instant (RFC 3339) within [`dates::MIN_YEAR`]..=[`dates::MAX_YEAR`].
    pub fn optional_instant(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let at = self.optional(name)?;
        self.bounded(name, at, dates::check_instant)
    }

    /// A required instant (RFC 3339) within [`dates::MIN_YEAR`]..=[`dates::MAX_YEAR`].
    pub fn required_instant(&mut self, name: &str) -> Option<DateTime<Utc>> {
        let at = self.required(name)?;
        self.bounded(name, at, dates::check_instant)
    }

    fn bounded<T>(&mut self, name: &str, value: T, check: impl Fn(T) -> Result<T, dates::OutOfRange>) -> Option<T> {
        check(value).map_err(|e| self.problems.push(e.problem(name))).ok()
    }

    /// Records a problem found by a rule that spans fields.
    pub fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// Has exactly the field at `path` a problem already?
    pub fn has_problem_at(&self, path: &str) -> bool {
        self.problems.iter().any(|p| p.field == path)
    }

    /// Has `name` (or a field inside it) a problem already?
    pub fn has_problem(&self, name: &str) -> bool {
        self.problems.iter().any(|p| p.field == name || p.field.starts_with(&format!("{name}[")))
    }

    /// Ends parsing: every problem at once, or nothing.
    /// Ends reading with the typed value built from the fields: every problem at once, or the
    /// value. `parsed` is `None` only where a field it needs had a problem, so no caller has
    /// to `expect` it; a `None` without a problem is answered as invalid, never a panic.
    pub fn into_parsed<T>(self, parsed: Option<T>) -> Result<T, ApiError> {
        self.finish()?;
        parsed.ok_or_else(|| {
            ApiError::with_text(crate::reply::ErrorCode::ValidationFailed, "调用内容无效", "the payload is invalid")
        })
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() { Ok(()) } else { Err(ApiError::validation(self.problems)) }
    }
}

/// Reads `value` (the field `name`) as `T`; a failure is a problem at the path where it
/// happened inside the value.
fn deserialize_at<T: DeserializeOwned>(name: &str, value: &Value) -> Result<T, Problem> {
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let path = e.path().to_string();
        let field = match path.as_str() {
            "." | "" => name.to_owned(),
            p if p.starts_with('[') => format!("{name}{p}"),
            p => format!("{name}.{p}"),
        };
        let why = e.into_inner();
        // serde names a missing field in its message, at the object's path: put it in the path.
        let message = why.to_string();
        if let Some(missing) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
            return Problem::required(&format!("{field}.{missing}"));
        }
        Problem::invalid(&field, &why, &why)
    })
}

pub use govshare_contract::dates;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Item {
        name: String,
        kind: Kind,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(rename_all = "lowercase")]
    enum Kind {
        A,
    }

    #[test]
    fn every_bad_element_of_a_list_is_its_own_problem_at_its_path() {
        // Given a list with a bad variant, a missing field and a good element
        let body = br#"{"version":1,"items":[{"name":"x","kind":"zz"},{"kind":"a"},{"name":"y","kind":"a"}]}"#;
        let mut f = Fields::parse(body, 1024).unwrap();
        // When it is read element by element
        let items = f.required_list::<Item>("items").unwrap();
        // Then the good one reads, and each bad one is named where it is
        assert!(items[0].is_err() && items[1].is_err() && items[2].is_ok());
        let e = f.finish().unwrap_err();
        let fields: Vec<_> = e.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
        assert_eq!(fields, [("items[0].kind", "invalid"), ("items[1].name", "required")]);
    }

    #[test]
    fn a_call_ends_with_its_typed_value_or_every_problem() {
        let mut f = Fields::parse(br#"{"version":1,"id":"r1"}"#, 1024).unwrap();
        let id = f.required_str("id");
        assert_eq!(f.into_parsed(id).unwrap(), "r1");
        let mut f = Fields::parse(br#"{"version":1}"#, 1024).unwrap();
        let id = f.required_str("id");
        let e = f.into_parsed(id).unwrap_err();
        assert_eq!(e.problems[0].field, "id");
    }

    #[test]
    fn a_validation_failure_never_comes_without_a_problem() {
        let e = ApiError::with_text(crate::reply::ErrorCode::ValidationFailed, "不行", "no");
        assert_eq!(e.problems.len(), 1);
        assert!(ApiError::with_text(crate::reply::ErrorCode::Conflict, "冲突", "conflict").problems.is_empty());
    }

    #[test]
    fn a_date_outside_the_sane_range_is_refused_on_its_field_in_both_languages() {
        // Given dates at chrono's ends, a year before 2000 and one after 2100
        let body = br#"{"version":1,"from":"-262143-01-01","until":"+262142-12-31","old":"1999-12-31","ok":"2026-12-01","at":"2101-01-01T00:00:00Z","then":"2026-12-01T08:00:00+08:00"}"#;
        let mut f = Fields::parse(body, 1024).unwrap();
        // When each is read as a bounded date or instant
        let read = (
            f.required_date("from"),
            f.required_date("until"),
            f.required_date("old"),
            f.required_date("ok"),
            f.optional_instant("at"),
            f.optional_instant("then"),
        );
        // Then only the sane ones are kept, and each other one is a problem on its own field
        assert_eq!(read.0.or(read.1).or(read.2), None);
        assert_eq!(read.3, Some("2026-12-01".parse().unwrap()));
        assert_eq!(read.4, None);
        assert_eq!(read.5, Some("2026-12-01T00:00:00Z".parse().unwrap()));
        let err = f.finish().unwrap_err();
        let fields: Vec<_> = err.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
        assert_eq!(
            fields,
            [("from", "out_of_range"), ("until", "out_of_range"), ("old", "out_of_range"), ("at", "out_of_range")]
        );
        assert!(err.problems[0].text.en.contains("outside the accepted range (2000 to 2100)"), "{:?}", err.problems[0]);
        assert!(err.problems[0].text.zh.contains("超出可接受的范围"), "{:?}", err.problems[0]);
    }

    #[test]
    fn an_instant_from_the_bus_outside_the_range_does_not_decode() {
        #[derive(serde::Deserialize, Debug)]
        struct Msg {
            #[serde(deserialize_with = "dates::instant")]
            #[allow(dead_code)]
            at: DateTime<Utc>,
        }
        assert!(serde_json::from_str::<Msg>(r#"{"at":"2026-12-01T00:00:00Z"}"#).is_ok());
        let err = serde_json::from_str::<Msg>(r#"{"at":"+262142-12-31T00:00:00Z"}"#).unwrap_err();
        assert!(err.to_string().contains("outside the accepted range"), "{err}");
    }

    #[test]
    fn every_missing_and_ill_typed_field_is_reported_at_once() {
        let mut f = Fields::parse(br#"{"version":1,"name":"  ","count":"three"}"#, 1024).unwrap();
        let name = f.required_str("name");
        let provider = f.required_str("provider");
        let count: Option<u32> = f.required("count");
        assert!(name.is_none() && provider.is_none() && count.is_none());
        let err = f.finish().unwrap_err();
        let fields: Vec<_> = err.problems.iter().map(|p| (p.field.as_str(), p.code.as_str())).collect();
        assert_eq!(fields, [("name", "required"), ("provider", "required"), ("count", "invalid")]);
    }

    #[test]
    fn malformed_oversized_and_unknown_version_payloads_are_told_apart() {
        assert_eq!(Fields::parse(b"{nope", 1024).unwrap_err().code, ErrorCode::Malformed);
        assert_eq!(Fields::parse(b"[1,2]", 1024).unwrap_err().code, ErrorCode::Malformed);
        assert_eq!(Fields::parse(&[b' '; 2048], 1024).unwrap_err().code, ErrorCode::PayloadTooLarge);
        assert_eq!(Fields::parse(br#"{"version":9}"#, 1024).unwrap_err().code, ErrorCode::UnsupportedVersion);
        assert_eq!(Fields::parse(br#"{"name":"x"}"#, 1024).unwrap_err().code, ErrorCode::UnsupportedVersion);
    }

    #[test]
    fn a_domain_parser_explains_why_a_value_is_invalid() {
        let mut f = Fields::parse(br#"{"version":1,"region":"12"}"#, 1024).unwrap();
        let region = f.required_with("region", |s| {
            if s.len() == 6 { Ok(s.to_owned()) } else { Err(Text::new("应为六位数字", "expected six digits")) }
        });
        assert!(region.is_none());
        let err = f.finish().unwrap_err();
        assert_eq!(err.problems[0].text.en, "region is invalid: expected six digits");
    }
}
