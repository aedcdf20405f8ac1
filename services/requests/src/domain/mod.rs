//! Pure request rules: no I/O, no clock. A request is one aggregate from receipt to the end
//! of the grant it becomes: reply (Arts 20-21), delivery (Art. 22), grant (Arts 25, 27),
//! verification (Art. 26). `decide` checks a command against the request and the facts the
//! handler looked up, and answers with a [`Decision`] (events and duty-contract messages);
//! `evolve` applies the events to the request's lifecycle ([`State`]).

pub mod disputes;
mod form;
mod request;
pub mod returns;

pub use form::*;
pub use request::*;

use govshare_runtime::{ApiError, ErrorCode};

/// A catalog entry as this service knows it, from the catalog's events.
pub use govshare_contract::api::requests::EntryView;

/// Why a command is refused. Each says what the caller can do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("catalog entry {0} is not published")]
    UnknownEntry(String),
    #[error("a department does not request its own entry")]
    OwnEntry,
    #[error("only the {0} may do this")]
    NotYours(&'static str),
    #[error("not allowed while the request is {}: {why}", state.name())]
    NotNow { state: request::Status, why_zh: &'static str, why: &'static str },
    #[error("an extension is already pending with the authority: wait for its decision")]
    ExtensionPending,
    #[error("verification {0} was already answered")]
    VerificationAlreadyAnswered(String),
    #[error("a request is not refused for being incomplete: send one supplement notice listing every missing item")]
    RefusedForIncompleteness,
    #[error("the supplement notice was already sent: everything missing is listed in one notice")]
    SecondSupplementNotice,
    #[error("extensions total at most 10 working days (Art. 21); {0} are left")]
    ExtensionTooLong(u32),
    #[error("{0} is not the head of the sharing office")]
    NotSharingOfficeHead(String),
    #[error("items {0:?} were not requested")]
    ItemsNotRequested(Vec<String>),
    #[error("approving fewer items than requested needs the reason")]
    NarrowingWithoutReason,
    #[error("the provider's fresh consent is needed first (Art. 25): no approved request for {0}")]
    ConsentNeeded(String),
    #[error("no verification {0}")]
    UnknownVerification(String),
}

impl RequestError {
    /// The message in both languages.
    pub fn text(&self) -> govshare_runtime::reply::Text {
        govshare_runtime::reply::Text::new(self.parts().1, self.to_string())
    }

    fn parts(&self) -> (ErrorCode, String) {
        match self {
            RequestError::UnknownEntry(id) => (ErrorCode::NotFound, format!("目录 {id} 未发布")),
            RequestError::OwnEntry => (ErrorCode::NotAllowed, "部门无需申请本部门的目录".into()),
            RequestError::NotYours(who) => (ErrorCode::Forbidden, format!("仅{}可执行此操作", role_zh(who))),
            RequestError::NotNow { state, why_zh, .. } => {
                (ErrorCode::NotAllowed, format!("申请当前状态（{}）下不允许此操作：{why_zh}", state.name_zh()))
            }
            RequestError::ExtensionPending => {
                (ErrorCode::NotAllowed, "已有延期申请待本级主管部门决定，请等待决定".into())
            }
            RequestError::VerificationAlreadyAnswered(v) => (ErrorCode::NotAllowed, format!("校核申请 {v} 已答复")),
            RequestError::RefusedForIncompleteness => {
                (ErrorCode::NotAllowed, "不得以材料不全为由拒绝：请一次性告知需补充的全部内容".into())
            }
            RequestError::SecondSupplementNotice => {
                (ErrorCode::NotAllowed, "已发出补正通知：需补充的内容应一次性告知".into())
            }
            RequestError::ExtensionTooLong(left) => {
                (ErrorCode::NotAllowed, format!("延期合计不得超过 10 个工作日（第二十一条），尚余 {left} 个"))
            }
            RequestError::NotSharingOfficeHead(p) => (ErrorCode::Forbidden, format!("{p} 不是共享工作机构负责人")),
            RequestError::ItemsNotRequested(i) => (ErrorCode::ValidationFailed, format!("数据项 {i:?} 不在申请范围内")),
            RequestError::NarrowingWithoutReason => (ErrorCode::ValidationFailed, "缩减数据项须说明理由".into()),
            RequestError::ConsentNeeded(g) => {
                (ErrorCode::NotAllowed, format!("需先取得提供部门的同意（第二十五条）：{g} 无已批准的申请"))
            }
            RequestError::UnknownVerification(v) => (ErrorCode::NotFound, format!("无校核申请 {v}")),
        }
    }
}

impl From<RequestError> for ApiError {
    fn from(err: RequestError) -> Self {
        // A validation failure always names the fields at fault (issue 13 item 5).
        match &err {
            RequestError::ItemsNotRequested(items) => {
                return ApiError::validation(
                    items
                        .iter()
                        .map(|i| {
                            govshare_runtime::Problem::new(
                                "items",
                                "not_requested",
                                govshare_runtime::reply::Text::new(
                                    format!("数据项「{i}」不在申请范围内"),
                                    format!("item {i} was not requested"),
                                ),
                            )
                        })
                        .collect(),
                );
            }
            RequestError::NarrowingWithoutReason => {
                return ApiError::validation(vec![govshare_runtime::Problem::new(
                    "narrowing_reason",
                    "required",
                    govshare_runtime::reply::Text::new(
                        "批准的数据项少于申请的，须说明缩减理由",
                        "approving fewer items than requested needs the reason",
                    ),
                )]);
            }
            _ => {}
        }
        let (code, zh) = err.parts();
        ApiError::with_text(code, zh, err.to_string())
    }
}

fn role_zh(who: &str) -> &'static str {
    match who {
        "requester" => "需求部门",
        "provider" => "提供部门",
        "authority" => "本级主管部门",
        _ => "相关部门",
    }
}
