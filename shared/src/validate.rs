//! Parsing a call's payload at the edge, collecting **every** problem before answering.
//!
//! serde stops at the first error; a department integrator fixing a request wants the whole
//! list at once (the same courtesy Art. 21 asks of providers: 一次性告知). So a payload is
//! first read as a JSON object, then each field is taken through [`Fields`], which records a
//! [`Problem`] for each missing or ill-typed field and carries on.

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

    /// An optional field of any deserializable type.
    pub fn optional<T: DeserializeOwned>(&mut self, name: &str) -> Option<T> {
        let value = self.map.get(name)?;
        if value.is_null() {
            return None;
        }
        match serde_json::from_value(value.clone()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.problems.push(Problem::invalid(name, &e, &e));
                None
            }
        }
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

    /// Records a problem found by a rule that spans fields.
    pub fn problem(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// Has `name` (or a field inside it) a problem already?
    pub fn has_problem(&self, name: &str) -> bool {
        self.problems.iter().any(|p| p.field == name || p.field.starts_with(&format!("{name}[")))
    }

    /// Ends parsing: every problem at once, or nothing.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.problems.is_empty() { Ok(()) } else { Err(ApiError::validation(self.problems)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
