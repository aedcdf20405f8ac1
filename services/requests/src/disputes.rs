//! Disputes (Art. 28): calls -> the typed call (`api::disputes`) -> decide
//! (`domain::disputes`) -> store + outbox, in one transaction. A step whose clock ran out
//! moves up by the same decision path ([`step_deadline_passed`]).

use chrono::{DateTime, Utc};
use govshare_contract::{
    api::disputes::{self as api, Call as DisputeCall},
    calls::{CallKind, CallSet},
};
use govshare_runtime::{ApiError, Context, EventMeta, Outgoing, Service, app::Call, bus::PLATFORM_ORG, revision::Read};
use sea_orm::{ConnectionTrait, DbErr};
use serde_json::Value;

use crate::{
    domain::disputes::{self as domain, Command, Dispute, Facts, OpenFacts, Party, Said},
    store::{self, disputes as db},
};

/// Whether `name` is a call of this module.
pub fn handles(name: &str) -> bool {
    DisputeCall::knows(CallKind::Command, name) || DisputeCall::knows(CallKind::Query, name)
}

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let answer = match call.parse::<DisputeCall>()? {
        DisputeCall::Open(body) => to_value(open(ctx, &call, body).await?),
        DisputeCall::Escalate(body) => {
            let cmd = Command::Escalate { reason: body.reason.into() };
            to_value(step(ctx, &call, body.dispute_id.as_str(), cmd).await?)
        }
        DisputeCall::Settle(body) => {
            let cmd = Command::Settle { outcome: body.outcome.into() };
            to_value(step(ctx, &call, body.dispute_id.as_str(), cmd).await?)
        }
        DisputeCall::Decide(body) => {
            let cmd = Command::Decide { decision: body.decision.into() };
            to_value(step(ctx, &call, body.dispute_id.as_str(), cmd).await?)
        }
        DisputeCall::Get(body) => to_value(view(visible(&ctx.db, &body.id, &call.org).await?.0)),
        DisputeCall::List(body) => to_value(list(ctx, &call, body).await?),
    };
    Ok(answer)
}

fn to_value(answer: impl serde::Serialize) -> Value {
    serde_json::to_value(answer).expect("answers serialize")
}

/// A party from the directory copy.
async fn party(db: &impl ConnectionTrait, org: &str) -> Result<Option<Party>, DbErr> {
    Ok(store::returns::place(db, org)
        .await?
        .and_then(|p| Some(Party { org: org.to_owned(), authority: p.authority, region: p.region? })))
}

/// The whole case, as `get_dispute` shows it (its stored shape).
fn view(d: Dispute) -> api::DisputeView {
    let s = domain::Stored::from(d);
    api::DisputeView {
        id: s.id,
        claimant: s.claimant,
        respondent: s.respondent,
        about: s.about,
        claim: s.claim,
        step: s.step,
        handled_by: s.handled_by,
        coordinator: s.coordinator,
        step_no: s.step_no,
        opened: s.opened,
        escalations: s.escalations,
        closed: s.closed,
    }
}

/// Where the case stands, as every command answers.
fn answer(d: &Dispute) -> api::DisputeAnswer {
    api::DisputeAnswer {
        dispute_id: d.id.clone(),
        step: d.step(),
        handled_by: d.handled_by.clone(),
        closed: d.is_closed(),
        duty_id: d.duty_id(),
    }
}

async fn open(ctx: &Context, call: &Call, body: api::OpenDispute) -> Result<api::DisputeAnswer, ApiError> {
    let tx = ctx.begin().await?;
    let claimant = party(&tx, &call.org).await?;
    let respondent = party(&tx, &body.respondent).await?;
    // Same region: its own authority; across levels or regions: the common superior one.
    let coordinator = match (&claimant, &respondent) {
        (Some(a), Some(b)) => store::authority_at_or_above(&tx, domain::common_region(a.region, b.region)).await?,
        _ => None,
    };
    let facts = OpenFacts {
        org: call.org.clone(),
        claimant,
        respondent,
        coordinator,
        step_days: ctx.settings.requests.dispute_step_working_days,
        now: ctx.clock.now(),
    };
    let cmd = domain::Open { respondent: body.respondent.into(), about: body.about.into(), claim: body.claim.into() };
    let (dispute, decision) = domain::open(uuid::Uuid::now_v7().to_string(), cmd, &facts)?;
    db::save_dispute(&tx, &dispute, Read::New).await?;
    ctx.commit(tx, &decision.outgoing(Service::Requests, &call.meta, facts.now)).await?;
    Ok(answer(&dispute))
}

async fn step(ctx: &Context, call: &Call, id: &str, cmd: Command) -> Result<api::DisputeAnswer, ApiError> {
    let tx = ctx.begin().await?;
    let (dispute, read) = visible(&tx, id, &call.org).await?;
    let facts = Facts {
        org: call.org.clone(),
        step_days: ctx.settings.requests.dispute_step_working_days,
        violation_id: uuid::Uuid::now_v7().to_string(),
        now: ctx.clock.now(),
    };
    let decision = domain::decide(&dispute, cmd, &facts)?;
    let next = decision.events.iter().fold(dispute, domain::evolve);
    db::save_dispute(&tx, &next, read).await?;
    ctx.commit(tx, &decision.outgoing(Service::Requests, &call.meta, facts.now)).await?;
    Ok(answer(&next))
}

/// A step's time ran out (its duty `duty_id` breached): the case moves up by itself; a
/// coordinator or government that lets its step pass without acting is in breach (Art. 41).
/// A breach of a step already left changes nothing.
pub async fn step_deadline_passed(
    db: &impl ConnectionTrait,
    dispute_id: &str,
    duty_id: &str,
    settings: &govshare_runtime::config::RequestSettings,
    meta: &EventMeta,
    now: DateTime<Utc>,
) -> Result<Vec<Outgoing>, DbErr> {
    let Some((d, read)) = db::dispute_at(db, dispute_id).await? else { return Ok(Vec::new()) };
    let facts = Facts {
        org: "deadlines".into(),
        step_days: settings.dispute_step_working_days,
        violation_id: uuid::Uuid::now_v7().to_string(),
        now,
    };
    let cmd = Command::StepDeadlinePassed { duty_id: duty_id.to_owned() };
    let decision = domain::decide(&d, cmd, &facts)
        .map_err(|e| DbErr::Custom(format!("dispute {dispute_id}: a passed deadline is always decided: {e}")))?;
    if decision.events.is_empty() && decision.duties.is_empty() {
        return Ok(Vec::new());
    }
    let next = decision.events.iter().fold(d, domain::evolve);
    if decision.events.iter().any(|e| matches!(e, Said::Escalated(_) | Said::Closed(_))) {
        db::save_dispute(db, &next, read).await.map_err(|e| DbErr::Custom(e.to_string()))?;
    }
    Ok(decision.outgoing(Service::Requests, meta, now))
}

/// The parties, the coordinating authority and the platform see a dispute.
async fn visible(db: &impl ConnectionTrait, id: &str, org: &str) -> Result<(Dispute, Read), ApiError> {
    match db::dispute_at(db, id).await? {
        Some((d, read))
            if [&d.claimant, &d.respondent, &d.coordinator].contains(&&org.to_owned()) || org == PLATFORM_ORG =>
        {
            Ok((d, read))
        }
        _ => Err(ApiError::not_found("dispute", id)),
    }
}

/// The disputes the caller is party to or handles, by id (UUIDv7: the order they were
/// opened), a page at a time.
async fn list(ctx: &Context, call: &Call, body: api::ListDisputes) -> Result<api::DisputeList, ApiError> {
    let limit = crate::returns::page_limit(body.limit, ctx.settings.calls.max_page_size)?;
    let mut rows = db::of(&ctx.db, &call.org, body.after.as_deref(), limit + 1).await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_after = if more { rows.last().map(|r| r.id.clone()) } else { None };
    let disputes = rows
        .into_iter()
        .map(|r| {
            let step = serde_json::from_value(Value::String(r.step.clone()))
                .map_err(|e| DbErr::Custom(format!("stored dispute step {}: {e}", r.step)))?;
            Ok(api::DisputeRow {
                id: r.id,
                claimant: r.claimant,
                respondent: r.respondent,
                handled_by: r.handled_by,
                step,
                closed: r.closed,
                opened_at: r.opened_at,
            })
        })
        .collect::<Result<_, DbErr>>()?;
    Ok(api::DisputeList { disputes, next_after })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(name: &str, body: Value) -> Vec<(String, String)> {
        let err = govshare_runtime::calls::parse::<DisputeCall>(CallKind::Command, name, &body).unwrap_err();
        let mut found: Vec<_> = err.problems.into_iter().map(|p| (p.field, p.code)).collect();
        found.sort();
        found
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        expected.iter().map(|(a, b)| ((*a).to_owned(), (*b).to_owned())).collect()
    }

    #[test]
    fn the_six_calls_of_a_dispute_are_this_modules() {
        for name in
            ["open_dispute", "escalate_dispute", "settle_dispute", "decide_dispute", "get_dispute", "list_disputes"]
        {
            assert!(handles(name), "{name}");
        }
        assert!(!handles("subscribe_return") && !handles("submit_request"));
    }

    #[test]
    fn a_field_the_call_does_not_have_is_refused() {
        // Given an escalation that also names who should coordinate
        let body = serde_json::json!({"version": 1, "dispute_id": "d1", "reason": "协商未果", "coordinator": "x"});
        // Then the call is refused, naming the field
        assert_eq!(problems("escalate_dispute", body), pairs(&[("coordinator", "unknown_field")]));
    }

    #[test]
    fn every_problem_of_a_body_comes_at_once() {
        // Given an opening with a respondent that is no organisation id, a blank claim and no
        // `about`
        let body = serde_json::json!({"version": 1, "respondent": "gz.gongan", "claim": "  "});
        // Then each is named where it is
        assert_eq!(
            problems("open_dispute", body),
            pairs(&[("about", "required"), ("claim", "required"), ("respondent", "invalid")])
        );
        let long = serde_json::json!({"version": 1, "dispute_id": "d1", "decision": "x".repeat(4001)});
        assert_eq!(problems("decide_dispute", long), pairs(&[("decision", "too_long")]));
    }
}
