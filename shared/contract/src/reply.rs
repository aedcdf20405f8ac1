//! The answer to every command and query: the accepted result, or a machine-readable error
//! whose message is in the language the caller asked for (zh-CN by default, or en).
//!
//! Wire form:
//! ```json
//! {"ok": true,  "result": {...}}
//! {"ok": false, "error": {"code": "validation_failed", "message": "...",
//!                         "problems": [{"field": "name", "code": "required", "message": "..."}]}}
//! ```
//! A validation error lists **every** problem found, never only the first.

use serde::{Deserialize, Serialize};

/// The caller's language. Chosen with the `Accept-Language` header; zh-CN when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Lang {
    #[default]
    #[serde(rename = "zh-CN")]
    ZhCn,
    #[serde(rename = "en")]
    En,
}

impl Lang {
    /// Reads an `Accept-Language` value: the first tag that is English or Chinese wins.
    pub fn from_header(value: Option<&str>) -> Self {
        let Some(value) = value else {
            return Lang::ZhCn;
        };
        for tag in value.split(',') {
            let tag = tag.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
            if tag == "en" || tag.starts_with("en-") {
                return Lang::En;
            }
            if tag == "zh" || tag.starts_with("zh-") {
                return Lang::ZhCn;
            }
        }
        Lang::ZhCn
    }

    pub fn tag(self) -> &'static str {
        match self {
            Lang::ZhCn => "zh-CN",
            Lang::En => "en",
        }
    }
}

/// A sentence in both languages; rendered when the reply is written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Text {
    pub zh: String,
    pub en: String,
}

impl Text {
    pub fn new(zh: impl Into<String>, en: impl Into<String>) -> Self {
        Self { zh: zh.into(), en: en.into() }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::ZhCn => &self.zh,
            Lang::En => &self.en,
        }
    }
}

/// What kind of failure; stable, for machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, or not an object.
    Malformed,
    /// Larger than the configured limit.
    PayloadTooLarge,
    /// `version` missing or not one this service speaks.
    UnsupportedVersion,
    /// Fields missing or invalid; `problems` lists every one.
    ValidationFailed,
    /// No such command or query on this service.
    UnknownOperation,
    /// The acting organisation may not do this.
    Forbidden,
    /// The thing referred to does not exist.
    NotFound,
    /// It exists already, or changed meanwhile.
    Conflict,
    /// Not allowed in the current state.
    NotAllowed,
    /// A dependency (database, bus) failed; nothing was changed, try again.
    Unavailable,
}

impl ErrorCode {
    fn default_text(self) -> Text {
        match self {
            ErrorCode::Malformed => Text::new("请求不是有效的 JSON 对象", "the payload is not a valid JSON object"),
            ErrorCode::PayloadTooLarge => Text::new("请求内容超过大小上限", "the payload exceeds the size limit"),
            ErrorCode::UnsupportedVersion => Text::new("不支持的请求版本", "unsupported payload version"),
            ErrorCode::ValidationFailed => {
                Text::new("请求内容有误，详见 problems", "the payload is invalid, see problems")
            }
            ErrorCode::UnknownOperation => Text::new("未知的命令或查询", "unknown command or query"),
            ErrorCode::Forbidden => Text::new("无权执行此操作", "the acting organisation may not do this"),
            ErrorCode::NotFound => Text::new("对象不存在", "not found"),
            ErrorCode::Conflict => Text::new("与现有数据冲突", "conflicts with existing data"),
            ErrorCode::NotAllowed => Text::new("当前状态下不允许此操作", "not allowed in the current state"),
            ErrorCode::Unavailable => {
                Text::new("服务暂不可用，未做任何更改，请重试", "service unavailable, nothing was changed, retry")
            }
        }
    }
}

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON path of the field, e.g. `items[2].name`.
    pub field: String,
    /// Stable code: `required`, `invalid`, `unknown`, `duplicate`, `too_long`, ...
    pub code: String,
    pub text: Text,
}

impl Problem {
    pub fn new(field: impl Into<String>, code: impl Into<String>, text: Text) -> Self {
        Self { field: field.into(), code: code.into(), text }
    }

    pub fn required(field: &str) -> Self {
        Self::new(field, "required", Text::new(format!("缺少必填项 {field}"), format!("{field} is required")))
    }

    pub fn invalid(field: &str, why_zh: impl std::fmt::Display, why_en: impl std::fmt::Display) -> Self {
        Self::new(
            field,
            "invalid",
            Text::new(format!("{field} 无效：{why_zh}"), format!("{field} is invalid: {why_en}")),
        )
    }
}

/// A refused command or query. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: ErrorCode,
    pub text: Text,
    pub problems: Vec<Problem>,
}

impl ApiError {
    pub fn new(code: ErrorCode) -> Self {
        Self { code, text: code.default_text(), problems: Vec::new() }
    }

    /// An error with its own message. A `validation_failed` made this way still lists one
    /// problem (about the payload as a whole, `field: ""`): callers can rely on `problems`
    /// never being empty for that code.
    pub fn with_text(code: ErrorCode, zh: impl Into<String>, en: impl Into<String>) -> Self {
        let text = Text::new(zh, en);
        let problems = if code == ErrorCode::ValidationFailed {
            vec![Problem::new("", "invalid", text.clone())]
        } else {
            Vec::new()
        };
        Self { code, text, problems }
    }

    pub fn validation(problems: Vec<Problem>) -> Self {
        Self { problems, ..Self::new(ErrorCode::ValidationFailed) }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self::with_text(ErrorCode::NotFound, format!("{what} {id} 不存在"), format!("{what} {id} not found"))
    }

    /// A storage or bus failure. Logged in full here; the caller only learns to retry.
    pub fn unavailable(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "dependency failed while handling a call");
        Self::new(ErrorCode::Unavailable)
    }

    pub fn render(&self, lang: Lang) -> serde_json::Value {
        let problems: Vec<_> = self
            .problems
            .iter()
            .map(|p| serde_json::json!({"field": p.field, "code": p.code, "message": p.text.get(lang)}))
            .collect();
        serde_json::json!({"code": self.code, "message": self.text.get(lang), "problems": problems})
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}: {}", self.code, self.text.en)?;
        for p in &self.problems {
            write!(f, "; {}: {}", p.field, p.text.en)?;
        }
        Ok(())
    }
}

impl std::error::Error for ApiError {}

/// A store that failed answers `unavailable … retry`. Only the services' runtime turns this on
/// (feature `sea-orm`): an integrator depending on the contract gets no database crates.
#[cfg(feature = "sea-orm")]
impl From<sea_orm::DbErr> for ApiError {
    fn from(err: sea_orm::DbErr) -> Self {
        ApiError::unavailable(err)
    }
}

/// Renders the reply to a call.
pub fn render(result: &Result<serde_json::Value, ApiError>, lang: Lang) -> Vec<u8> {
    let body = match result {
        Ok(value) => serde_json::json!({"ok": true, "result": value}),
        Err(err) => serde_json::json!({"ok": false, "error": err.render(lang)}),
    };
    serde_json::to_vec(&body).expect("replies serialize")
}

/// A reply as a client reads it.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
pub struct WireReply {
    pub ok: bool,
    #[serde(default)]
    pub result: Option<serde_json::Value>,
    #[serde(default)]
    pub error: Option<WireError>,
}

/// An error as a client reads it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub struct WireError {
    pub code: ErrorCode,
    pub message: String,
    #[serde(default)]
    pub problems: Vec<WireProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub struct WireProblem {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let code = serde_json::to_value(self.code).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        write!(f, "{code}: {}", self.message)?;
        for p in &self.problems {
            write!(f, "\n  - {} ({}): {}", p.field, p.code, p.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for WireError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_follows_accept_language_and_defaults_to_chinese() {
        assert_eq!(Lang::from_header(None), Lang::ZhCn);
        assert_eq!(Lang::from_header(Some("en")), Lang::En);
        assert_eq!(Lang::from_header(Some("en-GB,en;q=0.9")), Lang::En);
        assert_eq!(Lang::from_header(Some("zh-CN,en;q=0.5")), Lang::ZhCn);
        assert_eq!(Lang::from_header(Some("fr")), Lang::ZhCn);
    }

    #[test]
    fn a_validation_error_renders_every_problem_in_the_callers_language() {
        let err = ApiError::validation(vec![Problem::required("name"), Problem::required("provider")]);
        let en = err.render(Lang::En);
        assert_eq!(en["code"], "validation_failed");
        assert_eq!(en["problems"].as_array().unwrap().len(), 2);
        assert_eq!(en["problems"][1]["message"], "provider is required");
        let zh = err.render(Lang::ZhCn);
        assert_eq!(zh["problems"][0]["message"], "缺少必填项 name");
    }

    #[test]
    fn a_rendered_reply_reads_back_as_a_wire_reply() {
        let bytes = render(&Err(ApiError::new(ErrorCode::Malformed)), Lang::En);
        let reply: WireReply = serde_json::from_slice(&bytes).unwrap();
        assert!(!reply.ok);
        assert_eq!(reply.error.unwrap().code, ErrorCode::Malformed);
        let bytes = render(&Ok(serde_json::json!({"id": "x"})), Lang::En);
        let reply: WireReply = serde_json::from_slice(&bytes).unwrap();
        assert!(reply.ok);
        assert_eq!(reply.result.unwrap()["id"], "x");
    }
}
