//! `list_notices`: how a department system catches up on the notices it missed on its own
//! subject (`govshare.evt.notify.org.<org>`) while it was away. Departments have no JetStream
//! access at all (docs/adr/0004-bus-identities-nkeys.md), so they can never open a consumer on
//! another's events; notify reads its own stream for them, only the caller's subject.

use async_nats::jetstream::stream::RawMessageErrorKind;
use govshare_contract::api::notify::{ListNotices, Notice, NoticePage};
use govshare_runtime::{
    ApiError, Envelope, ErrorCode, app::Call, app::Context, envelope::EventPayload, events::notify::OrgNotice,
};

/// `{after?: <stream sequence>, limit?: 1..=calls.max_page_size}` -> `{notices: [{seq, event}],
/// next_after}`: the caller's notices after `after` (0: from the oldest kept), oldest first.
/// Pass `next_after` back to read on; an empty page means the caller is up to date.
///
/// The one list whose `next_after` is never `null`: it is a feed, and the position of the last
/// notice read is where the caller picks up next time, when more have come.
pub async fn list_notices(ctx: &Context, call: &Call, body: ListNotices) -> Result<NoticePage, ApiError> {
    let ListNotices { after, limit } = body;
    let max = ctx.settings.calls.max_page_size;
    if limit.is_some_and(|l| l == 0 || l > max) {
        return Err(ApiError::validation(vec![govshare_runtime::Problem::new(
            "limit",
            "out_of_range",
            govshare_runtime::reply::Text::new(
                format!("limit 应在 1 到 {max} 之间"),
                format!("limit must be between 1 and {max}"),
            ),
        )]));
    }
    let limit = limit.unwrap_or(govshare_runtime::page::DEFAULT_LIMIT).clamp(1, max.max(1));
    let subject = OrgNotice::subject_for(&call.org);
    let stream = ctx.js.get_stream_no_info(<OrgNotice as EventPayload>::SERVICE.stream()).await.map_err(|e| {
        ApiError::with_text(
            ErrorCode::Unavailable,
            format!("通知流不可用：{e}"),
            format!("the notice stream is unavailable: {e}"),
        )
    })?;
    let mut next = after.unwrap_or(0) + 1;
    let mut notices = Vec::new();
    while (notices.len() as u64) < limit {
        let found = stream.raw_message_builder().sequence(next).next_by_subject(subject.clone()).send().await;
        let message = match found {
            Ok(m) => m,
            // No message on the subject at or after `next`: the caller is up to date.
            Err(e) if e.kind() == RawMessageErrorKind::NoMessageFound => break,
            Err(e) => {
                return Err(ApiError::with_text(
                    ErrorCode::Unavailable,
                    format!("读取通知失败：{e}"),
                    format!("reading the notices failed: {e}"),
                ));
            }
        };
        // Only the caller's own subject is ever asked for; the check costs nothing.
        if message.subject.as_str() != subject {
            break;
        }
        let event = Envelope::from_slice(&message.payload).ok().map(|e| serde_json::to_value(e).unwrap_or_default());
        notices.push(Notice { seq: message.sequence, event });
        next = message.sequence + 1;
    }
    Ok(NoticePage { notices, next_after: next - 1 })
}
