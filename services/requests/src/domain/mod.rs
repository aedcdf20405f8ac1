//! Pure request rules: no I/O, no clock.

use chrono::{DateTime, Utc};
use govshare_shared::{
    ApiError, ErrorCode, Service,
    duty::{About, Duty, OpenDuty, Term},
    events::{ShareType, requests::RequestSubmitted},
    reply::Text,
};

/// A catalog entry as this service knows it, from the catalog's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryView {
    pub entry_id: String,
    pub name: String,
    pub provider: String,
    pub share_type: ShareType,
}

/// Submit a request for a catalog entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitRequest {
    pub entry_id: String,
    pub purpose: Option<String>,
}

/// Why a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("catalog entry {0} is not published")]
    UnknownEntry(String),
    #[error("a department does not request its own entry")]
    OwnEntry,
    #[error("catalog entry {0} is not shared")]
    NotShared(String),
}

impl From<RequestError> for ApiError {
    fn from(err: RequestError) -> Self {
        let en = err.to_string();
        match &err {
            RequestError::UnknownEntry(id) => ApiError::with_text(ErrorCode::NotFound, format!("目录 {id} 未发布"), en),
            RequestError::OwnEntry => ApiError::with_text(ErrorCode::NotAllowed, "部门无需申请本部门的目录", en),
            RequestError::NotShared(id) => {
                ApiError::with_text(ErrorCode::NotAllowed, format!("目录 {id} 为不予共享类"), en)
            }
        }
    }
}

/// Art. 21: the provider replies within 1 WD for unconditional entries and 10 WD for
/// conditional ones, counted from receipt.
pub fn reply_term(share_type: ShareType) -> Option<u32> {
    match share_type {
        ShareType::Unconditional => Some(1),
        ShareType::Conditional => Some(10),
        ShareType::NotShared => None,
    }
}

/// The id of a request's reply duty: stable, so a repeated open is the same duty.
pub fn reply_duty_id(request_id: &str) -> String {
    format!("request-{request_id}-reply")
}

/// Accepts a request and opens the provider's reply duty.
pub fn decide_submit(
    requester: &str,
    entry: Option<&EntryView>,
    cmd: SubmitRequest,
    request_id: String,
    now: DateTime<Utc>,
) -> Result<(RequestSubmitted, OpenDuty), RequestError> {
    let entry = entry.ok_or_else(|| RequestError::UnknownEntry(cmd.entry_id.clone()))?;
    if entry.provider == requester {
        return Err(RequestError::OwnEntry);
    }
    let days = reply_term(entry.share_type).ok_or_else(|| RequestError::NotShared(entry.entry_id.clone()))?;
    let duty_id = reply_duty_id(&request_id);
    let duty = OpenDuty {
        duty: Duty {
            duty_id: duty_id.clone(),
            article: 21,
            holder: entry.provider.clone(),
            about: About { kind: "request".into(), id: request_id.clone() },
            title: Text::new(
                format!("答复对《{}》的共享申请 {request_id}", entry.name),
                format!("reply to request {request_id} for \"{}\"", entry.name),
            ),
        },
        term: Term::WorkingDays { days, from: now },
        opened_by: Service::Requests,
    };
    let submitted = RequestSubmitted {
        request_id,
        entry_id: entry.entry_id.clone(),
        requester: requester.to_owned(),
        provider: entry.provider.clone(),
        share_type: entry.share_type,
        submitted_at: now,
        reply_duty_id: duty_id,
    };
    Ok((submitted, duty))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(share_type: ShareType) -> EntryView {
        EntryView { entry_id: "e1".into(), name: "户籍".into(), provider: "gongan".into(), share_type }
    }

    fn submit() -> SubmitRequest {
        SubmitRequest { entry_id: "e1".into(), purpose: None }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-23T02:00:00Z".parse().unwrap()
    }

    #[test]
    fn an_unconditional_entry_opens_a_one_working_day_reply_duty_for_the_provider() {
        let (submitted, duty) =
            decide_submit("weijian", Some(&entry(ShareType::Unconditional)), submit(), "r1".into(), now()).unwrap();
        assert_eq!(submitted.provider, "gongan");
        assert_eq!(submitted.reply_duty_id, "request-r1-reply");
        assert_eq!(duty.duty.holder, "gongan");
        assert_eq!(duty.duty.article, 21);
        assert_eq!(duty.term, Term::WorkingDays { days: 1, from: now() });
    }

    #[test]
    fn a_conditional_entry_gives_the_provider_ten_working_days() {
        let (_, duty) =
            decide_submit("weijian", Some(&entry(ShareType::Conditional)), submit(), "r1".into(), now()).unwrap();
        assert_eq!(duty.term, Term::WorkingDays { days: 10, from: now() });
    }

    #[test]
    fn a_not_shared_entry_an_unknown_entry_and_ones_own_entry_are_refused() {
        assert_eq!(
            decide_submit("weijian", Some(&entry(ShareType::NotShared)), submit(), "r1".into(), now()),
            Err(RequestError::NotShared("e1".into()))
        );
        assert_eq!(
            decide_submit("weijian", None, submit(), "r1".into(), now()),
            Err(RequestError::UnknownEntry("e1".into()))
        );
        assert_eq!(
            decide_submit("gongan", Some(&entry(ShareType::Conditional)), submit(), "r1".into(), now()),
            Err(RequestError::OwnEntry)
        );
    }
}
