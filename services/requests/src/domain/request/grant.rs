//! Delivery (Art. 22) and the grant it starts (Arts 25, 27): suspended for misuse and
//! resumed once fixed, changed or terminated by the provider after negotiation, ended by the
//! requester or by its usage period running out.

use govshare_runtime::{
    duty::{Closure, Term},
    events::{
        catalog::ShareMethod,
        requests::{DataDelivered, GrantChanged, GrantEnd, GrantEnded, GrantResumed, GrantSuspended},
    },
    reply::Text,
};

use super::{
    Decision, Facts, Request, State, close, delivery_duty_id, end_of_day, not_now, only, open, usage_duty_id, violation,
};
use crate::domain::RequestError;

/// The provider, or failing that its same-level authority.
fn provider_or_authority(r: &Request, f: &Facts) -> Result<(), RequestError> {
    if only(r, f, "provider").is_err() {
        only(r, f, "authority")?;
    }
    Ok(())
}

pub(super) fn deliver(
    r: &Request,
    method: ShareMethod,
    entry_version: u32,
    content_hash: String,
    record_count: u64,
    f: &Facts,
) -> Result<Decision, RequestError> {
    only(r, f, "provider")?;
    if !matches!(r.state, State::Approved(_)) {
        return Err(not_now(r, "只有已批准的申请才能交付", "only an approved request is delivered"));
    }
    let id = &r.id;
    let delivered = DataDelivered {
        request_id: id.clone(),
        entry_id: r.entry.entry_id.clone(),
        entry_version,
        provider: r.entry.provider.clone(),
        requester: r.requester.clone(),
        method,
        content_hash,
        record_count,
        active_until: r.form.usage_until,
        at: f.now,
    };
    let usage = open(
        usage_duty_id(id),
        27,
        &r.requester,
        id,
        Text::new(
            format!("共享申请 {id} 的使用期限届满：按提供部门要求处置数据"),
            format!("the usage period of request {id} ends: dispose of the data as the provider requires"),
        ),
        // Art. 27: an end, not a deadline. Nobody is late for it: deadlines announces it
        // once (`expiry`) and never escalates it; what follows is the disposal.
        Term::Expires { at: end_of_day(r.form.usage_until) },
    );
    Ok(Decision::event(delivered)
        .with_duty(close(delivery_duty_id(id), Closure::Fulfilled, "delivered", f.now))
        .with_duty(usage))
}

pub(super) fn suspend(r: &Request, reason: String, fix_days: u32, f: &Facts) -> Result<Decision, RequestError> {
    provider_or_authority(r, f)?;
    let State::Active(grant) = &r.state else {
        return Err(not_now(r, "只有生效中的授权才能暂停", "only a grant in force is suspended"));
    };
    let id = &r.id;
    let fix_duty_id = format!("request-{id}-fix-{}", grant.suspensions + 1);
    let fix = open(
        fix_duty_id.clone(),
        27,
        &r.requester,
        id,
        Text::new(format!("整改被暂停的共享 {id}：{reason}"), format!("fix the suspended grant {id}: {reason}")),
        Term::WorkingDays { days: fix_days, from: f.now },
    );
    let suspended = GrantSuspended {
        request_id: id.clone(),
        requester: r.requester.clone(),
        by: f.org.clone(),
        reason,
        fix_duty_id,
        at: f.now,
    };
    Ok(Decision::event(suspended).with_duty(fix))
}

pub(super) fn resume(r: &Request, note: String, f: &Facts) -> Result<Decision, RequestError> {
    provider_or_authority(r, f)?;
    let State::Suspended(_, s) = &r.state else {
        return Err(not_now(r, "只有已暂停的授权才能恢复", "only a suspended grant is resumed"));
    };
    Ok(Decision::event(GrantResumed { request_id: r.id.clone(), by: f.org.clone(), note, at: f.now }).with_duty(close(
        s.fix_duty_id.clone(),
        Closure::Fulfilled,
        "fixed",
        f.now,
    )))
}

pub(super) fn terminate(
    r: &Request,
    reason: String,
    negotiation: Option<String>,
    f: &Facts,
) -> Result<Decision, RequestError> {
    provider_or_authority(r, f)?;
    // Art. 27: a suspended grant not fixed may be terminated; a grant in force is ended by
    // the provider only with a reason, after negotiating, filed with the authority. Ending
    // it without the negotiation is recorded, and is a violation (Art. 39: unilateral
    // termination): the system sees it rather than pretending it cannot happen.
    let negotiation = negotiation.filter(|n| !n.trim().is_empty());
    let unilateral = match r.state {
        State::Suspended(..) => false,
        State::Active(_) => negotiation.is_none(),
        _ => {
            return Err(not_now(
                r,
                "只有生效中或已暂停的授权才能终止",
                "only a grant in force or suspended is terminated",
            ));
        }
    };
    let d = end(r, GrantEnd::Terminated, reason.clone(), negotiation, f);
    Ok(if unilateral {
        d.with(violation(
            f,
            39,
            &r.entry.provider,
            "unilateral_termination",
            &r.id,
            None,
            Text::new(
                format!("提供部门未经协商单方面终止共享（{reason}）"),
                format!("the provider ended the grant without negotiating ({reason})"),
            ),
        ))
    } else {
        d
    })
}

pub(super) fn change(
    r: &Request,
    change: String,
    reason: String,
    negotiation: Option<String>,
    f: &Facts,
) -> Result<Decision, RequestError> {
    only(r, f, "provider")?;
    if r.state.grant_in_force().is_none() {
        return Err(not_now(r, "只有生效中的授权才能变更", "only a grant in force is changed"));
    }
    let filed_with = f.provider_authority.clone().ok_or(RequestError::NotYours("authority"))?;
    let negotiation = negotiation.filter(|n| !n.trim().is_empty());
    let unilateral = negotiation.is_none().then(|| {
        violation(
            f,
            39,
            &r.entry.provider,
            "unilateral_change",
            &r.id,
            None,
            Text::new(
                format!("提供部门未经协商单方面变更共享服务（{change}）"),
                format!("the provider changed the service without negotiating ({change})"),
            ),
        )
    });
    let mut d =
        Decision::event(GrantChanged { request_id: r.id.clone(), change, reason, negotiation, filed_with, at: f.now });
    d.events.extend(unilateral);
    Ok(d)
}

/// The requester ends its grant, or the usage period's clock ran out (sent by this service).
pub(super) fn end_by(r: &Request, how: GrantEnd, reason: String, f: &Facts) -> Result<Decision, RequestError> {
    match how {
        GrantEnd::UsagePeriodEnded => {}
        GrantEnd::Terminated => return Err(RequestError::NotYours("provider")),
        _ => only(r, f, "requester")?,
    }
    if r.state.grant_in_force().is_none() {
        return Err(not_now(r, "只有生效中的授权才能结束", "only a grant in force ends"));
    }
    Ok(end(r, how, reason, None, f))
}

fn end(r: &Request, how: GrantEnd, reason: String, negotiation: Option<String>, f: &Facts) -> Decision {
    let usage = close(
        usage_duty_id(&r.id),
        if how == GrantEnd::UsagePeriodEnded { Closure::Fulfilled } else { Closure::Cancelled },
        "grant ended",
        f.now,
    );
    // Arts 27, 40: the requester disposes of the data as the provider requires: the recall
    // service orders it from this grant's end (`grant.ended`) and clocks the receipt.
    let filed_with = negotiation.as_ref().and(f.provider_authority.clone());
    let ended = GrantEnded {
        request_id: r.id.clone(),
        entry_id: r.entry.entry_id.clone(),
        provider: r.entry.provider.clone(),
        requester: r.requester.clone(),
        end: how,
        reason,
        negotiation,
        filed_with,
        at: f.now,
    };
    let d = Decision::event(ended).with_duty(usage);
    match &r.state {
        State::Suspended(_, s) => d.with_duty(close(s.fix_duty_id.clone(), Closure::Cancelled, "grant ended", f.now)),
        _ => d,
    }
}
