//! The reply (Arts 20-21): one supplement notice listing everything missing, the
//! supplement, an approval or a refusal signed off by the provider's sharing-office head,
//! and extensions granted by the same-level authority.

use chrono::{DateTime, Utc};
use govshare_runtime::{
    duty::{Closure, DutyMessage, ExtendDuty, PauseDuty, RestartDuty, ResumeDuty, Term},
    events::requests::{
        ExtensionDecided, ExtensionRequested, MissingItem, RequestApproved, RequestForm, RequestRefused,
        RequestSupplemented, SupplementRequested,
    },
    reply::Text,
};

use super::{
    DELIVERY_DAYS, Decision, Facts, MAX_EXTENSION_DAYS, Request, State, close, delivery_duty_id, not_now, only, open,
    reply_duty_id,
};
use crate::domain::RequestError;

/// The reply duty's title.
pub(super) fn title(r: &Request) -> Text {
    Text::new(
        format!("答复对《{}》的共享申请 {}", r.entry.name, r.id),
        format!("reply to request {} for \"{}\"", r.id, r.entry.name),
    )
}

fn signed_off(by: &str, f: &Facts) -> Result<(), RequestError> {
    if f.provider_office_heads.iter().any(|h| h == by) {
        Ok(())
    } else {
        Err(RequestError::NotSharingOfficeHead(by.to_owned()))
    }
}

/// An approval of `items`, and the delivery clock it opens (Art. 22).
pub(super) fn approval(
    r: &Request,
    items: Vec<String>,
    narrowing_reason: Option<String>,
    by: Option<String>,
    now: DateTime<Utc>,
) -> Decision {
    let approved = RequestApproved {
        request_id: r.id.clone(),
        provider: r.entry.provider.clone(),
        requester: r.requester.clone(),
        items,
        narrowing_reason,
        signed_off_by: by,
        at: now,
        delivery_duty_id: delivery_duty_id(&r.id),
    };
    let delivery = open(
        delivery_duty_id(&r.id),
        22,
        &r.entry.provider,
        &r.id,
        Text::new(
            format!("交付共享申请 {} 的数据《{}》", r.id, r.entry.name),
            format!("deliver the data of \"{}\" for request {}", r.entry.name, r.id),
        ),
        Term::WorkingDays { days: DELIVERY_DAYS, from: now },
    );
    Decision::event(approved).with_duty(delivery)
}

pub(super) fn ask_supplement(
    r: &Request,
    missing: Vec<MissingItem>,
    signed_off_by: String,
    f: &Facts,
) -> Result<Decision, RequestError> {
    only(r, f, "provider")?;
    signed_off(&signed_off_by, f)?;
    match r.state {
        State::Received { .. } if r.supplement_notice.is_some() => Err(RequestError::SecondSupplementNotice),
        State::Received { .. } => {
            Ok(Decision::event(SupplementRequested { request_id: r.id.clone(), missing, signed_off_by, at: f.now })
                .with_duty(PauseDuty {
                    duty_id: reply_duty_id(&r.id),
                    at: f.now,
                    reason: "supplement notice (一次性告知)".into(),
                }))
        }
        _ => Err(not_now(
            r,
            "只有待答复的申请才能发出补正通知",
            "only a request awaiting its reply can be sent a supplement notice",
        )),
    }
}

pub(super) fn supplement(r: &Request, form: RequestForm, f: &Facts) -> Result<Decision, RequestError> {
    only(r, f, "requester")?;
    if !matches!(r.state, State::AwaitingSupplement { .. }) {
        return Err(not_now(r, "未要求补正", "no supplement was asked for"));
    }
    // Art. 21: the reply clock restarts when the supplement arrives (a setting).
    let clock: DutyMessage = if f.supplement_restarts {
        RestartDuty { duty_id: reply_duty_id(&r.id), from: f.now, reason: "supplement received".into() }.into()
    } else {
        ResumeDuty { duty_id: reply_duty_id(&r.id), at: f.now }.into()
    };
    Ok(Decision::event(RequestSupplemented { request_id: r.id.clone(), form, at: f.now }).with_duty(clock))
}

pub(super) fn approve(
    r: &Request,
    items: Option<Vec<String>>,
    narrowing_reason: Option<String>,
    signed_off_by: String,
    f: &Facts,
) -> Result<Decision, RequestError> {
    only(r, f, "provider")?;
    if !matches!(r.state, State::Received { .. }) {
        return Err(not_now(r, "只有待答复的申请才能批准", "only a received request is approved"));
    }
    signed_off(&signed_off_by, f)?;
    let items = items.unwrap_or_else(|| r.form.items.clone());
    let extra: Vec<_> = items.iter().filter(|i| !r.form.items.contains(i)).cloned().collect();
    if !extra.is_empty() {
        return Err(RequestError::ItemsNotRequested(extra));
    }
    let narrowed = items.len() < r.form.items.len();
    let narrowing_reason = narrowing_reason.filter(|s| !s.trim().is_empty());
    if narrowed && narrowing_reason.is_none() {
        return Err(RequestError::NarrowingWithoutReason);
    }
    let mut d = approval(r, items, narrowing_reason, Some(signed_off_by), f.now);
    d.duties.insert(0, close(reply_duty_id(&r.id), Closure::Fulfilled, "approved", f.now));
    Ok(d)
}

pub(super) fn refuse(
    r: &Request,
    reason: String,
    incomplete: bool,
    signed_off_by: String,
    f: &Facts,
) -> Result<Decision, RequestError> {
    only(r, f, "provider")?;
    if incomplete {
        return Err(RequestError::RefusedForIncompleteness);
    }
    if !matches!(r.state, State::Received { .. }) {
        return Err(not_now(r, "只有待答复的申请才能拒绝", "only a received request is refused"));
    }
    signed_off(&signed_off_by, f)?;
    Ok(Decision::event(RequestRefused {
        request_id: r.id.clone(),
        provider: r.entry.provider.clone(),
        requester: r.requester.clone(),
        reason,
        legal_basis: None,
        signed_off_by: Some(signed_off_by),
        at: f.now,
    })
    .with_duty(close(reply_duty_id(&r.id), Closure::Fulfilled, "refused", f.now)))
}

pub(super) fn request_extension(
    r: &Request,
    working_days: u32,
    reason: String,
    f: &Facts,
) -> Result<Decision, RequestError> {
    only(r, f, "provider")?;
    if r.state.pending_extension().is_some() {
        return Err(RequestError::ExtensionPending);
    }
    if !matches!(r.state, State::Received { .. }) {
        return Err(not_now(r, "只能在答复期限内申请延期", "an extension is asked for while the reply is due"));
    }
    let left = MAX_EXTENSION_DAYS.saturating_sub(r.extended_days);
    if working_days == 0 || working_days > left {
        return Err(RequestError::ExtensionTooLong(left));
    }
    let authority = f.provider_authority.clone().ok_or(RequestError::NotYours("authority"))?;
    Ok(Decision::event(ExtensionRequested { request_id: r.id.clone(), working_days, reason, authority, at: f.now }))
}

pub(super) fn decide_extension(r: &Request, approved: bool, f: &Facts) -> Result<Decision, RequestError> {
    only(r, f, "authority")?;
    let Some(asked) = r.state.pending_extension() else {
        return Err(not_now(r, "没有待决定的延期申请", "no extension is pending"));
    };
    let decided = Decision::event(ExtensionDecided {
        request_id: r.id.clone(),
        requester: r.requester.clone(),
        approved,
        working_days: asked.working_days,
        decided_by: f.org.clone(),
        at: f.now,
    });
    Ok(if approved {
        decided.with_duty(ExtendDuty {
            duty_id: reply_duty_id(&r.id),
            working_days: asked.working_days,
            approved_by: f.org.clone(),
            reason: asked.reason.clone(),
        })
    } else {
        decided
    })
}
