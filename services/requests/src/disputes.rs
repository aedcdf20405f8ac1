//! Disputes (Art. 28): calls -> parse -> `domain::disputes` -> store + outbox.

use chrono::{DateTime, Utc};
use govshare_runtime::{
    ApiError, Context, ErrorCode, EventMeta, Outgoing, Problem, Service,
    app::Call,
    bus::{CallKind, PLATFORM_ORG},
    duty,
    events::{disputes::DisputeStep, violations::ViolationDetected},
    page::Page,
    reply::Text,
    revision::Read,
};
use sea_orm::{ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Value, json};

use crate::{
    domain::disputes::{self, Dispute, DisputeChange, DisputeError, Party},
    store::{self, entities},
};

const CALLS: [&str; 6] =
    ["open_dispute", "escalate_dispute", "settle_dispute", "decide_dispute", "get_dispute", "list_disputes"];

/// Whether `name` is a call of this module.
pub fn handles(name: &str) -> bool {
    CALLS.contains(&name)
}

impl From<DisputeError> for ApiError {
    fn from(err: DisputeError) -> Self {
        if err == DisputeError::WithItself {
            return ApiError::validation(vec![govshare_runtime::Problem::new(
                "respondent",
                "same_as_claimant",
                govshare_runtime::reply::Text::new("部门不能与自身发生争议", "a department has no dispute with itself"),
            )]);
        }
        let (code, zh) = match &err {
            DisputeError::WithItself => (ErrorCode::ValidationFailed, "部门不能与自身发生争议".to_owned()),
            DisputeError::NotYours(who) => (ErrorCode::Forbidden, format!("仅{}可执行此操作", who_zh(who))),
            DisputeError::Closed => (ErrorCode::NotAllowed, "争议已结案".to_owned()),
            DisputeError::LastStep => (ErrorCode::NotAllowed, "本级人民政府决定是最后一步，不能再上移".to_owned()),
            DisputeError::NotAtStep(_) => (ErrorCode::NotAllowed, "当前步骤不允许此操作".to_owned()),
        };
        ApiError::with_text(code, zh, err.to_string())
    }
}

fn who_zh(who: &str) -> &'static str {
    if who.contains("party") { "争议当事方" } else { "协调的主管部门" }
}

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    match (call.kind, call.name.as_str()) {
        (CallKind::Command, "open_dispute") => open(ctx, call).await,
        (CallKind::Command, "escalate_dispute" | "settle_dispute" | "decide_dispute") => step(ctx, call).await,
        (CallKind::Query, "get_dispute") => get(ctx, call).await,
        (CallKind::Query, "list_disputes") => list(ctx, call).await,
        _ => Err(call.unknown()),
    }
}

/// A party from the directory copy.
async fn party(db: &impl ConnectionTrait, org: &str) -> Result<Option<Party>, DbErr> {
    Ok(store::returns::place(db, org)
        .await?
        .and_then(|p| Some(Party { org: org.to_owned(), authority: p.authority, region: p.region? })))
}

fn outgoing(
    d: &Dispute,
    change: Option<&DisputeChange>,
    open: Option<&duty::OpenDuty>,
    meta: &EventMeta,
    now: DateTime<Utc>,
) -> Vec<Outgoing> {
    let mut out = Vec::new();
    match change {
        None => out.push(Outgoing::event(&d.opened, meta, now)),
        Some(DisputeChange::Escalated(e, close, next)) => {
            out.push(Outgoing::event(e, meta, now));
            out.push(Outgoing::duty(close, Service::Requests, meta, now));
            out.push(Outgoing::duty(next, Service::Requests, meta, now));
        }
        Some(DisputeChange::Closed(c, close)) => {
            out.push(Outgoing::event(c, meta, now));
            out.push(Outgoing::duty(close, Service::Requests, meta, now));
        }
    }
    if let Some(o) = open {
        out.push(Outgoing::duty(o, Service::Requests, meta, now));
    }
    out
}

fn answer(d: &Dispute) -> Value {
    json!({"dispute_id": d.id, "step": d.step, "handled_by": d.handled_by, "closed": d.closed.is_some(),
           "duty_id": disputes::step_duty_id(&d.id, d.step_no)})
}

async fn open(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let respondent = f.required_str("respondent");
    let about = f.required_str("about");
    let claim = f.required_str("claim");
    let tx = ctx.begin().await?;
    let claimant = party(&tx, &call.org).await?;
    if claimant.is_none() {
        f.problem(Problem::new(
            "org",
            "unknown",
            Text::new("申请方不在目录中", "the claimant is not in the directory"),
        ));
    }
    let other = match &respondent {
        Some(r) => party(&tx, r).await?,
        None => None,
    };
    if respondent.is_some() && other.is_none() {
        f.problem(Problem::new(
            "respondent",
            "unknown",
            Text::new("被申请方不在目录中", "the respondent is not in the directory"),
        ));
    }
    f.finish()?;
    let (claimant, respondent) = (claimant.expect("checked"), other.expect("checked"));
    // Same region: its own authority; across levels or regions: the common superior one.
    let region = disputes::common_region(claimant.region, respondent.region);
    let coordinator = store::authority_at_or_above(&tx, region).await?.ok_or_else(|| {
        ApiError::with_text(
            ErrorCode::NotAllowed,
            format!("{region} 及其上级均无登记的共享主管部门，无法协调"),
            format!("no sharing authority is registered at {region} or above to coordinate"),
        )
    })?;
    let now = ctx.clock.now();
    let id = uuid::Uuid::now_v7().to_string();
    let days = ctx.settings.requests.dispute_step_working_days;
    let (dispute, duty) = disputes::open_dispute(
        id,
        &claimant,
        &respondent,
        coordinator,
        about.expect("checked"),
        claim.expect("checked"),
        days,
        now,
    )?;
    store::save_dispute(&tx, &dispute, Read::New).await?;
    ctx.commit(tx, &outgoing(&dispute, None, Some(&duty), &call.meta, now)).await?;
    Ok(answer(&dispute))
}

async fn step(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("dispute_id");
    let text = match call.name.as_str() {
        "escalate_dispute" => f.required_str("reason"),
        "settle_dispute" => f.required_str("outcome"),
        _ => f.required_str("decision"),
    };
    f.finish()?;
    let (id, text) = (id.expect("checked"), text.expect("checked"));
    let tx = ctx.begin().await?;
    let (dispute, read) = visible(&tx, &id, &call.org).await?;
    let now = ctx.clock.now();
    let days = ctx.settings.requests.dispute_step_working_days;
    let change = match call.name.as_str() {
        "escalate_dispute" => disputes::escalate(&dispute, &call.org, false, text, days, now)?,
        "settle_dispute" if dispute.step == DisputeStep::Decision => {
            return Err(DisputeError::NotAtStep(DisputeStep::Decision).into());
        }
        "decide_dispute" if dispute.step != DisputeStep::Decision => {
            return Err(DisputeError::NotAtStep(dispute.step).into());
        }
        _ => disputes::close(&dispute, &call.org, text, now)?,
    };
    let next = disputes::evolve_dispute(dispute, &change);
    store::save_dispute(&tx, &next, read).await?;
    ctx.commit(tx, &outgoing(&next, Some(&change), None, &call.meta, now)).await?;
    Ok(answer(&next))
}

/// A step's time ran out (its duty breached): the case moves up by itself; a coordinator or
/// government that lets its step pass without acting is in breach (Art. 41).
pub async fn step_deadline_passed(
    db: &impl ConnectionTrait,
    dispute_id: &str,
    duty_id: &str,
    settings: &govshare_runtime::config::RequestSettings,
    meta: &EventMeta,
    now: DateTime<Utc>,
) -> Result<Vec<Outgoing>, DbErr> {
    let Some((d, read)) = store::dispute_at(db, dispute_id).await? else { return Ok(Vec::new()) };
    if d.closed.is_some() || duty_id != disputes::step_duty_id(&d.id, d.step_no) {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    if d.step != DisputeStep::Negotiation {
        let v = ViolationDetected {
            violation_id: uuid::Uuid::now_v7().to_string(),
            article: 41,
            party: d.handled_by.clone(),
            kind: "dispute_not_coordinated".into(),
            facts: Text::new(
                format!(
                    "主管部门未在期限内完成争议（{}）的{}",
                    d.id,
                    if d.step == DisputeStep::Decision { "决定报请" } else { "协调" }
                ),
                format!("the authority let the {:?} step of dispute {} pass without acting", d.step, d.id),
            ),
            about: d.id.clone(),
            duty_id: Some(duty_id.to_owned()),
            at: now,
        };
        out.push(Outgoing::event(&v, meta, now));
    }
    if d.step == DisputeStep::Decision {
        return Ok(out);
    }
    let reason = "the step's deadline passed".to_owned();
    let change = disputes::escalate(&d, "deadlines", true, reason, settings.dispute_step_working_days, now)
        .expect("an open dispute below the last step moves up");
    let next = disputes::evolve_dispute(d, &change);
    store::save_dispute(db, &next, read).await?;
    out.extend(outgoing(&next, Some(&change), None, meta, now));
    Ok(out)
}

/// The parties, the coordinating authority and the platform see a dispute.
async fn visible(db: &impl ConnectionTrait, id: &str, org: &str) -> Result<(Dispute, Read), ApiError> {
    match store::dispute_at(db, id).await? {
        Some((d, read))
            if [&d.claimant, &d.respondent, &d.coordinator].contains(&&org.to_owned()) || org == PLATFORM_ORG =>
        {
            Ok((d, read))
        }
        _ => Err(ApiError::not_found("dispute", id)),
    }
}

async fn get(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("id");
    let id = f.into_parsed(id)?;
    Ok(json!(visible(&ctx.db, &id, &call.org).await?.0))
}

/// The disputes the caller is party to or handles, by id (UUIDv7: the order they were
/// opened), a page at a time.
async fn list(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let page = Page::read(&mut f, &ctx.settings.calls, 1);
    f.finish()?;
    use entities::dispute::{Column, Entity};
    let org = &call.org;
    let mut q = Entity::find().filter(
        Condition::any().add(Column::Claimant.eq(org)).add(Column::Respondent.eq(org)).add(Column::HandledBy.eq(org)),
    );
    if let Some(after) = page.after_id() {
        q = q.filter(Column::Id.gt(after));
    }
    let rows = q.order_by_asc(Column::Id).limit(page.fetch()).all(&ctx.db).await?;
    Ok(page.answer(
        "disputes",
        rows,
        |r| vec![r.id.clone()],
        |r| {
            json!({"id": r.id, "claimant": r.claimant, "respondent": r.respondent, "handled_by": r.handled_by,
                        "step": r.step, "closed": r.closed, "opened_at": r.opened_at})
        },
    ))
}
