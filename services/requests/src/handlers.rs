//! Calls and events -> parse -> decide -> store + outbox, in one transaction.

use chrono::{DateTime, Utc};
use govshare_contract::{
    api::{
        self,
        requests::{self as calls, Answered, Call as RequestCall, RecordId},
    },
    calls::CallSet,
    envelope::EventSet,
};
use govshare_runtime::{
    ApiError, Context, Envelope, EventMeta, Outgoing, Problem, Service,
    app::Call,
    async_trait,
    bus::PLATFORM_ORG,
    config::CallSettings,
    duty::{DutyBreached, DutyMessage},
    envelope::Decoded,
    events::{
        catalog::{EntryPublished, EntryWithdrawn, OrganisationRegistered, RolesChanged},
        requests::{GrantEnd, UsageRecorded},
    },
    inbox::{EventHandler, HandleError},
    page::{self, Page},
    reply::Text,
    revision::Read,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::Value;

use crate::{
    domain::{self, Command, Decision, Event, Facts, Request, RequestError},
    store::{self, entities},
};

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    // The service's three aggregates each have their set; a call goes to the one that has it.
    let (kind, name) = (call.kind, call.name.as_str());
    if api::returns::Call::knows(kind, name) {
        return crate::returns::call(ctx, call).await;
    }
    if api::disputes::Call::knows(kind, name) {
        return crate::disputes::call(ctx, call).await;
    }
    let org = call.org.clone();
    let answer = match call.parse::<RequestCall>()? {
        RequestCall::SubmitRequest(body) => json(submit_request(ctx, &call, body).await?),
        RequestCall::SetAutoApprove(body) => json(set_auto_approve(ctx, &org, body.enabled).await?),
        RequestCall::RecordUsage(body) => json(record_usage(ctx, &call, body).await?),
        RequestCall::ExplainDelay(body) => json(explain_delay(ctx, &call, body).await?),
        RequestCall::GetRequest(body) => json(get_request(ctx, &org, &body.id).await?),
        RequestCall::ListRequests(body) => json(list_requests(ctx, &org, body).await?),
        RequestCall::ListUsage(body) => json(list_usage(ctx, &org, body).await?),
        other => {
            let (id, cmd) = command_of(other, ctx)?;
            json(command(ctx, &call, &id, cmd).await?)
        }
    };
    Ok(answer)
}

fn json(answer: impl serde::Serialize) -> Value {
    serde_json::to_value(answer).expect("answers serialize")
}

/// The command on an existing request a call names, and the request's id.
fn command_of(call: RequestCall, ctx: &Context) -> Result<(RecordId, Command), ApiError> {
    use RequestCall as C;
    Ok(match call {
        C::AskSupplement(b) => {
            let missing = b.missing();
            (b.request_id, Command::AskSupplement { missing, signed_off_by: b.signed_off_by.into() })
        }
        C::Supplement(b) => {
            let form = b.form();
            (b.request_id, Command::Supplement { form })
        }
        C::ApproveRequest(b) => (
            b.request_id,
            Command::Approve {
                items: b.items.map(|items| items.into_iter().map(String::from).collect()),
                narrowing_reason: b.narrowing_reason.map(String::from),
                signed_off_by: b.signed_off_by.into(),
            },
        ),
        C::RefuseRequest(b) => (
            b.request_id,
            Command::Refuse {
                reason: b.reason.into(),
                incomplete: b.ground.as_deref() == Some("incomplete"),
                signed_off_by: b.signed_off_by.into(),
            },
        ),
        C::RequestExtension(b) => {
            (b.request_id, Command::RequestExtension { working_days: b.working_days.get(), reason: b.reason.into() })
        }
        C::DecideExtension(b) => (b.request_id, Command::DecideExtension { approved: b.approved }),
        C::Deliver(b) => (
            b.request_id,
            Command::Deliver {
                method: b.method,
                entry_version: b.entry_version,
                content_hash: b.content_hash.into(),
                record_count: b.record_count,
            },
        ),
        C::SuspendGrant(b) => (
            b.request_id,
            Command::Suspend {
                reason: b.reason.into(),
                fix_days: b.fix_working_days.map_or(ctx.settings.requests.suspension_fix_working_days, |d| d.get()),
            },
        ),
        C::ResumeGrant(b) => (b.request_id, Command::Resume { note: b.note.into() }),
        C::TerminateGrant(b) => {
            (b.request_id, Command::Terminate { reason: b.reason.into(), negotiation: b.negotiation.map(String::from) })
        }
        C::ChangeGrant(b) => (
            b.request_id,
            Command::Change {
                change: b.change.into(),
                reason: b.reason.into(),
                negotiation: b.negotiation.map(String::from),
            },
        ),
        C::EndGrant(b) => (b.request_id, Command::End { end: b.end.into(), reason: b.reason.into() }),
        C::RequestVerification(b) => (
            b.request_id,
            Command::RequestVerification {
                verification_id: uuid::Uuid::now_v7().to_string(),
                items: b.items.into_iter().map(String::from).collect(),
                problem: b.problem.into(),
            },
        ),
        C::AnswerVerification(b) => {
            // Art. 26: an answer without a correction says why (a rule across two fields).
            if b.correction.is_none() && b.reason.is_none() {
                return Err(ApiError::validation(vec![Problem::new(
                    "reason",
                    "required",
                    Text::new(
                        "未更正的须说明理由（第二十六条）",
                        "an answer without a correction needs its reason (Art. 26)",
                    ),
                )]));
            }
            (
                b.request_id,
                Command::AnswerVerification {
                    verification_id: b.verification_id.into(),
                    correction: b.correction.map(|c| (c.content_hash.into(), c.record_count)),
                    reason: b.reason.map(String::from),
                },
            )
        }
        C::SubmitRequest(_)
        | C::SetAutoApprove(_)
        | C::RecordUsage(_)
        | C::ExplainDelay(_)
        | C::GetRequest(_)
        | C::ListRequests(_)
        | C::ListUsage(_) => unreachable!("answered by their own handlers"),
    })
}

/// The facts `decide` needs about the provider of `entry_provider`, for `org` at `now`.
async fn facts(ctx: &Context, tx: &DatabaseTransaction, org: &str, provider: &str) -> Result<Facts, ApiError> {
    Ok(Facts {
        org: org.to_owned(),
        now: ctx.clock.now(),
        provider_office_heads: store::roles(tx, provider).await?.sharing_office_head,
        provider_authority: store::same_level_authority(tx, provider).await?,
        auto_approve: store::auto_approve(tx, provider).await?,
        extended_grant_in_force: false,
        supplement_restarts: ctx.settings.requests.supplement_restarts_clock,
        violation_id: uuid::Uuid::now_v7().to_string(),
    })
}

/// The answer to a command: where the request stands, the events it caused (their
/// CloudEvents types) and the duties it opened, and for a verification request its id.
fn answer(r: &Request, d: &Decision, out: &[Outgoing]) -> Answered {
    let events = out
        .iter()
        .filter(|o| !o.envelope.event_type.starts_with("govshare.duty."))
        .map(|o| o.envelope.event_type.clone())
        .collect();
    let opened: Vec<_> = d
        .duties
        .iter()
        .filter_map(|m| if let DutyMessage::Open(o) = m { Some(o.duty.duty_id.clone()) } else { None })
        .collect();
    // Only a duty that was opened is named (a not-shared entry is refused at once and an
    // automatic approval owes no reply: neither opens a reply clock).
    let reply_duty = domain::reply_duty_id(&r.id);
    let verification_id = d.events.iter().find_map(|e| match e {
        Event::VerificationRequested(v) => Some(v.verification_id.clone()),
        _ => None,
    });
    Answered {
        request_id: r.id.clone(),
        status: r.status(),
        events,
        reply_duty_id: opened.contains(&reply_duty).then_some(reply_duty),
        opened_duties: opened,
        verification_id,
    }
}

/// Saves the request as decided and records the decision in the outbox, in one transaction.
async fn commit(
    ctx: &Context,
    tx: DatabaseTransaction,
    next: &Request,
    read: Read,
    decision: &Decision,
    meta: &EventMeta,
    now: DateTime<Utc>,
) -> Result<Answered, ApiError> {
    store::save_request(&tx, next, read).await?;
    let out = decision.outgoing(Service::Requests, meta, now);
    ctx.commit(tx, &out).await?;
    Ok(answer(next, decision, &out))
}

async fn submit_request(ctx: &Context, call: &Call, body: calls::SubmitRequest) -> Result<Answered, ApiError> {
    let form = body.form();
    let extends = body.extends.map(Into::into);
    let tx = ctx.begin().await?;
    let Some(entry) = store::entry(&tx, &body.entry_id).await? else {
        let unknown = RequestError::UnknownEntry(body.entry_id.to_string());
        return Err(ApiError::validation(vec![Problem::new("entry_id", "unknown", unknown.text())]));
    };
    // Every problem at once: the form against the entry and the office.
    let heads = store::roles(&tx, &call.org).await?.sharing_office_head;
    let rules = domain::UsageRules::new(ctx.clock.now(), ctx.settings.requests.max_usage_period_days);
    let problems = domain::check_form(&form, &entry, &heads, &rules);
    if !problems.is_empty() {
        return Err(ApiError::validation(problems));
    }
    let mut facts = facts(ctx, &tx, &call.org, &entry.provider).await?;
    if let Some(e) = &extends {
        let grant = store::request(&tx, &domain::extended_grant(e)).await?;
        facts.extended_grant_in_force =
            grant.is_some_and(|g| g.requester == call.org && g.state.grant_in_force().is_some());
    }
    let id = uuid::Uuid::now_v7().to_string();
    let (request, decision) = domain::decide_submit(id, &entry, form, extends, &facts)?;
    commit(ctx, tx, &request, Read::New, &decision, &call.meta, facts.now).await
}

async fn command(ctx: &Context, call: &Call, id: &str, cmd: Command) -> Result<Answered, ApiError> {
    let tx = ctx.begin().await?;
    let (request, read) = load_visible(&tx, id, &call.org).await?;
    let facts = facts(ctx, &tx, &call.org, &request.entry.provider).await?;
    if let Command::Supplement { form } = &cmd {
        let heads = store::roles(&tx, &call.org).await?.sharing_office_head;
        let rules = domain::UsageRules::new(facts.now, ctx.settings.requests.max_usage_period_days);
        let problems = domain::check_form(form, &request.entry, &heads, &rules);
        if !problems.is_empty() {
            return Err(ApiError::validation(problems));
        }
    }
    let decision = domain::decide(&request, cmd, &facts)?;
    let next = decision.events.iter().fold(request, domain::evolve);
    commit(ctx, tx, &next, read, &decision, &call.meta, facts.now).await
}

/// Art. 39: the provider's recorded reason for a late reply or delivery; kept, not announced.
async fn explain_delay(ctx: &Context, call: &Call, body: calls::ExplainDelay) -> Result<Answered, ApiError> {
    let tx = ctx.begin().await?;
    let (request, read) = load_visible(&tx, &body.request_id, &call.org).await?;
    let facts = facts(ctx, &tx, &call.org, &request.entry.provider).await?;
    let reason = domain::explain_delay(&request, body.duty, body.reason.into(), &facts)?;
    commit(ctx, tx, &request.note_delay(reason), read, &Decision::none(), &call.meta, facts.now).await
}

/// A request the caller may see: its parties, the provider's same-level authority, the
/// platform; and the revision it was read at.
async fn load_visible(tx: &DatabaseTransaction, id: &str, org: &str) -> Result<(Request, Read), ApiError> {
    let request = store::request_at(tx, id).await?;
    match request {
        Some((r, read)) if may_see(tx, &r, org).await? => Ok((r, read)),
        _ => Err(ApiError::not_found("request", id)),
    }
}

async fn may_see(db: &impl sea_orm::ConnectionTrait, r: &Request, org: &str) -> Result<bool, ApiError> {
    Ok(org == r.requester
        || org == r.entry.provider
        || org == PLATFORM_ORG
        || store::same_level_authority(db, &r.entry.provider).await?.as_deref() == Some(org))
}

async fn set_auto_approve(ctx: &Context, org: &str, enabled: bool) -> Result<calls::AutoApprove, ApiError> {
    let tx = ctx.begin().await?;
    store::set_auto_approve(&tx, org, enabled).await?;
    ctx.commit(tx, &[]).await?;
    Ok(calls::AutoApprove { org: org.to_owned(), auto_approve_unconditional: enabled })
}

/// Art. 29: the requester records how it used the data; kept at least three years.
async fn record_usage(
    ctx: &Context,
    call: &Call,
    body: calls::RecordUsage,
) -> Result<calls::UsageRecordedAnswer, ApiError> {
    let tx = ctx.begin().await?;
    let (request, _) = load_visible(&tx, &body.request_id, &call.org).await?;
    if request.requester != call.org {
        return Err(RequestError::NotYours("requester").into());
    }
    if request.state.grant().is_none() {
        return Err(RequestError::NotNow {
            state: request.status(),
            why_zh: "尚未交付数据",
            why: "no data was delivered",
        }
        .into());
    }
    let now = ctx.clock.now();
    let keep_until = now + chrono::Months::new(36);
    let recorded = UsageRecorded {
        request_id: request.id.clone(),
        record_id: uuid::Uuid::now_v7().to_string(),
        scenario: body.scenario.into(),
        process: body.process.into(),
        outcome: body.outcome.into(),
        storage: body.storage.into(),
        destruction: body.destruction.map(String::from),
        at: now,
    };
    entities::usage_record::ActiveModel {
        id: Set(recorded.record_id.clone()),
        request_id: Set(request.id),
        recorded_by: Set(call.org.clone()),
        at: Set(now),
        keep_until: Set(keep_until),
        body: Set(serde_json::to_string(&recorded).expect("records serialize")),
    }
    .insert(&tx)
    .await?;
    let out = vec![Outgoing::event(&recorded, &call.meta, now)];
    ctx.commit(tx, &out).await?;
    Ok(calls::UsageRecordedAnswer { record_id: recorded.record_id, keep_until })
}

/// A page the caller asked for: its size within `calls.max_page_size`, and the keys of the
/// cursor it starts after (`parts` of them), each a problem on its field.
fn page(
    after: Option<&str>,
    limit: Option<u64>,
    settings: &CallSettings,
    parts: usize,
) -> Result<(Page, Option<Vec<String>>), ApiError> {
    let page = Page::new(after, limit, settings, parts)?;
    let keys = page.after().map(<[String]>::to_vec);
    Ok((page, keys))
}

/// A grant's usage records, in the order of their time (`at`, then id), a page at a time.
async fn list_usage(ctx: &Context, org: &str, body: calls::ListUsage) -> Result<calls::UsagePage, ApiError> {
    let (page, after) = page(body.after.as_deref(), body.limit, &ctx.settings.calls, 2)?;
    let id = body.request_id.as_str();
    load_visible(&ctx.db.begin().await?, id, org).await?;
    use entities::usage_record::{Column, Entity};
    let mut q = Entity::find().filter(Column::RequestId.eq(id));
    if let Some([at, row]) = after.as_deref() {
        let at = DateTime::parse_from_rfc3339(at).map_err(|_| page::bad_cursor())?.with_timezone(&Utc);
        q = q.filter(page::keyset(vec![(Column::At, at.into()), (Column::Id, row.clone().into())], false));
    }
    let rows = q.order_by_asc(Column::At).order_by_asc(Column::Id).limit(page.fetch()).all(&ctx.db).await?;
    let answer = page.answer(
        "records",
        rows,
        |r| vec![r.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true), r.id.clone()],
        |r| {
            let mut v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
            v["keep_until"] = serde_json::json!(r.keep_until);
            v
        },
    );
    serde_json::from_value(answer).map_err(|e| ApiError::unavailable(format!("stored usage record: {e}")))
}

async fn get_request(ctx: &Context, org: &str, id: &str) -> Result<api::requests::RequestRecord, ApiError> {
    let (r, _) = load_visible(&ctx.db.begin().await?, id, org).await?;
    Ok(r.into())
}

/// The requests the caller is a party to, by id (UUIDv7: the order they came in), a page at a time.
async fn list_requests(ctx: &Context, org: &str, body: calls::Paging) -> Result<calls::RequestPage, ApiError> {
    let (page, after) = page(body.after.as_deref(), body.limit, &ctx.settings.calls, 1)?;
    use entities::request::Column;
    let mut q = entities::request::Entity::find()
        .filter(Condition::any().add(Column::Requester.eq(org)).add(Column::Provider.eq(org)));
    if let Some([after]) = after.as_deref() {
        q = q.filter(Column::Id.gt(after));
    }
    let rows = q.order_by_asc(Column::Id).limit(page.fetch()).all(&ctx.db).await?;
    let answer = page.answer(
        "requests",
        rows,
        |r| vec![r.id.clone()],
        |r| {
            serde_json::json!(calls::RequestSummary {
                id: r.id,
                entry_id: r.entry_id,
                requester: r.requester,
                provider: r.provider,
                share_type: r.share_type,
                status: r.status,
                submitted_at: r.submitted_at,
            })
        },
    );
    serde_json::from_value(answer).map_err(ApiError::unavailable)
}

govshare_contract::events! {
    /// What the catalog consumer of the requests service handles.
    pub enum CatalogConsumed {
        EntryPublished(EntryPublished),
        EntryWithdrawn(EntryWithdrawn),
        OrganisationRegistered(OrganisationRegistered),
        RolesChanged(RolesChanged),
    }
}

/// Keeps the catalog read model and the directory copy.
pub struct CatalogEvents;

#[async_trait]
impl EventHandler for CatalogEvents {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        _now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        match CatalogConsumed::decode(event) {
            Decoded::Event(CatalogConsumed::EntryPublished(e)) => store::upsert_entry(tx, &e).await?,
            Decoded::Event(CatalogConsumed::EntryWithdrawn(e)) => store::remove_entry(tx, &e.entry.entry_id).await?,
            Decoded::Event(CatalogConsumed::OrganisationRegistered(e)) => {
                let kind =
                    serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
                store::upsert_org(tx, &e.org_id, Some((&kind, &e.region)), &e.roles).await?
            }
            Decoded::Event(CatalogConsumed::RolesChanged(e)) => {
                store::upsert_org(tx, &e.org_id, None, &e.roles).await?
            }
            Decoded::Other => {}
            Decoded::Refused(why) => return Err(HandleError::Permanent(why)),
        }
        Ok(Vec::new())
    }
}

govshare_contract::events! {
    /// What the deadlines consumer of the requests service handles.
    pub enum DeadlinesConsumed {
        Breached(DutyBreached),
    }
}

/// What the requests service does when one of its duties is breached: the usage period's
/// clock ending the grant (Art. 27), a dispute step moving up by itself (Art. 28), and the
/// violations the breach reveals (Arts 39-41).
pub struct DeadlineEvents {
    pub settings: govshare_runtime::config::RequestSettings,
}

#[async_trait]
impl EventHandler for DeadlineEvents {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        let b = match DeadlinesConsumed::decode(event) {
            Decoded::Event(DeadlinesConsumed::Breached(b)) => b,
            Decoded::Other => return Ok(Vec::new()),
            Decoded::Refused(why) => return Err(HandleError::Permanent(why)),
        };
        let meta = govshare_runtime::telemetry::caused_by(event);
        let id = &b.duty.about.id;
        let facts = Facts { org: "deadlines".into(), now, violation_id: event.id.to_string(), ..Facts::default() };
        let violation = |article, kind, text| {
            Decision::event(domain::violation(
                &facts,
                article,
                &b.duty.holder,
                kind,
                id,
                Some(b.duty.duty_id.clone()),
                text,
            ))
        };
        let decision = match b.duty.about.kind.as_str() {
            "dispute" => {
                return Ok(
                    crate::disputes::step_deadline_passed(tx, id, &b.duty.duty_id, &self.settings, &meta, now).await?
                );
            }
            // Arts 27, 40: a destruction receipt not sent in time (recall's order after a
            // grant ended, or a provider's recall).
            "recall" => violation(
                40,
                "no_disposal",
                Text::new(
                    format!("持有方未按期销毁召回或共享结束的数据并提交回执（{}）", b.duty.duty_id),
                    format!(
                        "the holder did not destroy recalled or ended-grant data and send its receipt in time ({})",
                        b.duty.duty_id
                    ),
                ),
            ),
            // Art. 24: a return cycle not delivered in time (the violation id is the breach's
            // event id, so a redelivered breach cannot announce it twice).
            "return_subscription" => violation(
                39,
                "missed_return",
                Text::new(
                    format!("上级部门未按周期回流数据（{}）", b.duty.duty_id),
                    format!("the upper-level department missed a return cycle ({})", b.duty.duty_id),
                ),
            ),
            "request" => {
                let Some((request, read)) = store::request_at(tx, id).await? else { return Ok(Vec::new()) };
                let decision = if b.duty.duty_id == domain::usage_duty_id(id) {
                    if request.state.grant_in_force().is_none() {
                        return Ok(Vec::new());
                    }
                    let cmd = Command::End { end: GrantEnd::UsagePeriodEnded, reason: "usage period ended".into() };
                    domain::decide(&request, cmd, &Facts { org: request.requester.clone(), ..facts.clone() })
                        .map_err(|e| HandleError::Permanent(format!("ending grant {id}: {e}")))?
                } else {
                    Decision {
                        events: domain::violation_for_breach(&request, &b.duty.duty_id, &facts).into_iter().collect(),
                        duties: Vec::new(),
                    }
                };
                let next = decision.events.iter().fold(request, domain::evolve);
                store::save_request(tx, &next, read).await?;
                decision
            }
            _ => return Ok(Vec::new()),
        };
        Ok(decision.outgoing(Service::Requests, &meta, now))
    }
}
