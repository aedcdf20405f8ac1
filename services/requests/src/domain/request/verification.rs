//! Verification (Art. 26): the requester asks the provider to check wrong or incomplete
//! data of its grant; the provider answers within 10 WD with a correction or its reason.

use govshare_runtime::{
    duty::{Closure, Term},
    events::requests::{VerificationAnswered, VerificationRequested},
    reply::Text,
};

use super::{Decision, Facts, Request, VERIFICATION_DAYS, close, not_now, only, open};
use crate::domain::RequestError;

pub(super) fn request(
    r: &Request,
    verification_id: String,
    items: Vec<String>,
    problem: String,
    f: &Facts,
) -> Result<Decision, RequestError> {
    only(r, f, "requester")?;
    if r.state.grant_in_force().is_none() {
        return Err(not_now(r, "只有授权生效期间才能申请校核", "data is verified while the grant is in force"));
    }
    let id = &r.id;
    let duty_id = format!("request-{id}-verify-{verification_id}");
    let duty = open(
        duty_id.clone(),
        26,
        &r.entry.provider,
        id,
        Text::new(
            format!("核查并答复共享数据 {id} 的校核申请：{problem}"),
            format!("verify and answer the correction request on grant {id}: {problem}"),
        ),
        Term::WorkingDays { days: VERIFICATION_DAYS, from: f.now },
    );
    let requested = VerificationRequested {
        request_id: id.clone(),
        verification_id,
        provider: r.entry.provider.clone(),
        items,
        problem,
        duty_id,
        at: f.now,
    };
    Ok(Decision::event(requested).with_duty(duty))
}

pub(super) fn answer(
    r: &Request,
    verification_id: String,
    correction: Option<(String, u64)>,
    reason: Option<String>,
    f: &Facts,
) -> Result<Decision, RequestError> {
    only(r, f, "provider")?;
    let v = r
        .state
        .grant()
        .and_then(|g| g.verifications.iter().find(|v| v.requested.verification_id == verification_id))
        .ok_or_else(|| RequestError::UnknownVerification(verification_id.clone()))?;
    if v.answered.is_some() {
        return Err(RequestError::VerificationAlreadyAnswered(verification_id));
    }
    let answered = VerificationAnswered {
        request_id: r.id.clone(),
        verification_id,
        requester: r.requester.clone(),
        corrected: correction.is_some(),
        content_hash: correction.as_ref().map(|c| c.0.clone()),
        record_count: correction.as_ref().map(|c| c.1),
        reason,
        at: f.now,
    };
    Ok(Decision::event(answered).with_duty(close(v.requested.duty_id.clone(), Closure::Fulfilled, "answered", f.now)))
}
