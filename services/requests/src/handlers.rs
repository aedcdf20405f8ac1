//! Calls and events -> parse -> decide -> store + outbox, in one transaction.

use chrono::{DateTime, Utc};
use govshare_runtime::{
    ApiError, Context, Envelope, EventMeta, Outgoing, Problem, Service,
    app::Call,
    async_trait,
    bus::{CallKind, PLATFORM_ORG},
    duty::DutyBreached,
    events::{
        catalog::{EntryPublished, EntryWithdrawn, OrganisationRegistered, RolesChanged},
        requests::{Extends, GrantEnd, UsageRecorded},
    },
    inbox::{self, EventHandler, HandleError},
    page::{self, Page},
    reply::Text,
    revision::Read,
    validate::Fields,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::{Value, json};

use crate::{
    domain::{self, Command, Decision, DutyMsg, Event, Facts, Request, RequestError, Status},
    store::{self, entities},
};

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    match (call.kind, call.name.as_str()) {
        (CallKind::Command, "submit_request") => submit_request(ctx, call).await,
        (CallKind::Command, "set_auto_approve") => set_auto_approve(ctx, call).await,
        (CallKind::Command, "record_usage") => record_usage(ctx, call).await,
        (CallKind::Command, name) if COMMANDS.contains(&name) => command(ctx, call).await,
        (CallKind::Query, "get_request") => get_request(ctx, call).await,
        (CallKind::Query, "list_requests") => list_requests(ctx, call).await,
        (CallKind::Query, "list_usage") => list_usage(ctx, call).await,
        (_, name) if crate::returns::handles(name) => crate::returns::call(ctx, call).await,
        (_, name) if crate::disputes::handles(name) => crate::disputes::call(ctx, call).await,
        _ => Err(call.unknown()),
    }
}

/// Commands on an existing request, by `request_id`.
const COMMANDS: [&str; 15] = [
    "explain_delay",
    "ask_supplement",
    "supplement",
    "approve_request",
    "refuse_request",
    "request_extension",
    "decide_extension",
    "deliver",
    "suspend_grant",
    "resume_grant",
    "terminate_grant",
    "change_grant",
    "end_grant",
    "request_verification",
    "answer_verification",
];

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

/// The events and duty messages of a decision, for the outbox.
fn outgoing(d: &Decision, meta: &EventMeta, now: DateTime<Utc>) -> Vec<Outgoing> {
    let mut out: Vec<Outgoing> = d
        .events
        .iter()
        .filter_map(|e| {
            Some(match e {
                Event::Submitted(e) => Outgoing::event(e, meta, now),
                Event::SupplementRequested(e) => Outgoing::event(e, meta, now),
                Event::Supplemented(e) => Outgoing::event(e, meta, now),
                Event::Approved(e) => Outgoing::event(e, meta, now),
                Event::Refused(e) => Outgoing::event(e, meta, now),
                Event::ExtensionRequested(e) => Outgoing::event(e, meta, now),
                Event::ExtensionDecided(e) => Outgoing::event(e, meta, now),
                Event::Delivered(e) => Outgoing::event(e, meta, now),
                Event::Suspended(e) => Outgoing::event(e, meta, now),
                Event::Resumed(e) => Outgoing::event(e, meta, now),
                Event::Ended(e) => Outgoing::event(e, meta, now),
                Event::Changed(e) => Outgoing::event(e, meta, now),
                Event::VerificationRequested(e) => Outgoing::event(e, meta, now),
                Event::VerificationAnswered(e) => Outgoing::event(e, meta, now),
                Event::Violation(e) => Outgoing::event(e, meta, now),
                Event::DelayExplained { .. } => return None,
            })
        })
        .collect();
    out.extend(d.duties.iter().map(|m| match m {
        DutyMsg::Open(x) => Outgoing::duty(x, Service::Requests, meta, now),
        DutyMsg::Pause(x) => Outgoing::duty(x, Service::Requests, meta, now),
        DutyMsg::Restart(x) => Outgoing::duty(x, Service::Requests, meta, now),
        DutyMsg::Resume(x) => Outgoing::duty(x, Service::Requests, meta, now),
        DutyMsg::Extend(x) => Outgoing::duty(x, Service::Requests, meta, now),
        DutyMsg::Close(x) => Outgoing::duty(x, Service::Requests, meta, now),
    }));
    out
}

/// The answer to a command: where the request stands, the events it caused (their
/// CloudEvents types) and the duties it opened, and for a verification request its id.
fn answer(r: &Request, d: &Decision, out: &[Outgoing]) -> Value {
    let events: Vec<_> = out
        .iter()
        .filter(|o| !o.envelope.event_type.starts_with("govshare.duty."))
        .map(|o| o.envelope.event_type.clone())
        .collect();
    let opened: Vec<_> = d
        .duties
        .iter()
        .filter_map(|m| if let DutyMsg::Open(o) = m { Some(o.duty.duty_id.clone()) } else { None })
        .collect();
    let mut v = json!({"request_id": r.id, "status": r.status.name(), "events": events, "opened_duties": opened});
    // Only a duty that was opened is named (a not-shared entry is refused at once and an
    // automatic approval owes no reply: neither opens a reply clock).
    let reply_duty = domain::reply_duty_id(&r.id);
    if opened.contains(&reply_duty) {
        v["reply_duty_id"] = json!(reply_duty);
    }
    if let Some(Event::VerificationRequested(e)) =
        d.events.iter().find(|e| matches!(e, Event::VerificationRequested(_)))
    {
        v["verification_id"] = json!(e.verification_id);
    }
    v
}

async fn submit_request(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let entry_id = f.required_str("entry_id");
    let extends: Option<Extends> = f.optional("extends");
    let form = domain::parse_form(&mut f);
    let tx = ctx.begin().await?;
    let entry = match &entry_id {
        Some(id) => store::entry(&tx, id).await?,
        None => None,
    };
    if let (Some(id), None) = (&entry_id, &entry) {
        f.problem(Problem::new("entry_id", "unknown", RequestError::UnknownEntry(id.clone()).text()));
    }
    // Every problem at once: the form's own, then the form against the entry and the office.
    if let (Some(form), Some(entry)) = (&form, &entry) {
        let heads = store::roles(&tx, &call.org).await?.sharing_office_head;
        let rules = domain::UsageRules::new(ctx.clock.now(), ctx.settings.requests.max_usage_period_days);
        for p in domain::check_form(form, entry, &heads, &rules) {
            f.problem(p);
        }
    }
    f.finish()?;
    let (form, entry) = (form.expect("checked"), entry.expect("checked"));
    let mut facts = facts(ctx, &tx, &call.org, &entry.provider).await?;
    if let Some(e) = &extends {
        let grant = store::request(&tx, &domain::extended_grant(e)).await?;
        facts.extended_grant_in_force =
            grant.is_some_and(|g| g.requester == call.org && matches!(g.status, Status::Active | Status::Suspended));
    }
    let id = uuid::Uuid::now_v7().to_string();
    let (request, decision) = domain::decide_submit(id, &entry, form, extends, &facts)?;
    store::save_request(&tx, &request, Read::New).await?;
    let out = outgoing(&decision, &call.meta, facts.now);
    ctx.commit(tx, &out).await?;
    Ok(answer(&request, &decision, &out))
}

/// Reads the command named by the call from its fields; every problem at once.
fn parse_command(name: &str, f: &mut Fields, ctx: &Context) -> Option<Command> {
    Some(match name {
        "ask_supplement" => {
            let missing = domain::parse_missing(f);
            let signed_off_by = f.required_str("signed_off_by");
            Command::AskSupplement { missing: missing?, signed_off_by: signed_off_by? }
        }
        "supplement" => Command::Supplement { form: domain::parse_form(f)? },
        "approve_request" => {
            let items = f.optional("items");
            let narrowing_reason = f.optional_str("narrowing_reason");
            Command::Approve { items, narrowing_reason, signed_off_by: f.required_str("signed_off_by")? }
        }
        "refuse_request" => {
            let reason = f.required_str("reason");
            let ground = f.optional_str("ground");
            let signed_off_by = f.required_str("signed_off_by");
            Command::Refuse {
                reason: reason?,
                incomplete: ground.as_deref() == Some("incomplete"),
                signed_off_by: signed_off_by?,
            }
        }
        "request_extension" => {
            let working_days = f.required("working_days");
            let reason = f.required_str("reason");
            Command::RequestExtension { working_days: working_days?, reason: reason? }
        }
        "decide_extension" => Command::DecideExtension { approved: f.required("approved")? },
        "deliver" => {
            let method = f.required("method");
            let entry_version = f.required("entry_version");
            let content_hash = f.required_str("content_hash");
            let record_count = f.required("record_count");
            Command::Deliver {
                method: method?,
                entry_version: entry_version?,
                content_hash: content_hash?,
                record_count: record_count?,
            }
        }
        "suspend_grant" => {
            let reason = f.required_str("reason");
            let fix_days = f.optional("fix_working_days").unwrap_or(ctx.settings.requests.suspension_fix_working_days);
            Command::Suspend { reason: reason?, fix_days }
        }
        "resume_grant" => Command::Resume { note: f.required_str("note")? },
        "terminate_grant" => {
            let reason = f.required_str("reason");
            Command::Terminate { reason: reason?, negotiation: f.optional_str("negotiation") }
        }
        "change_grant" => {
            let change = f.required_str("change");
            let reason = f.required_str("reason");
            Command::Change { change: change?, reason: reason?, negotiation: f.optional_str("negotiation") }
        }
        "explain_delay" => {
            let duty = f.required_str("duty");
            let reason = f.required_str("reason");
            let duty = duty?;
            if duty != "reply" && duty != "delivery" {
                f.problem(Problem::invalid("duty", "应为 reply 或 delivery", "expected reply or delivery"));
                return None;
            }
            Command::ExplainDelay { duty, reason: reason? }
        }
        "end_grant" => {
            let end: Option<GrantEnd> = f.required("end");
            let reason = f.required_str("reason");
            let end = end?;
            if matches!(end, GrantEnd::UsagePeriodEnded | GrantEnd::Terminated) {
                f.problem(Problem::invalid(
                    "end",
                    "应为 purpose_achieved、purpose_impossible 或 no_longer_needed",
                    "expected purpose_achieved, purpose_impossible or no_longer_needed",
                ));
                return None;
            }
            Command::End { end, reason: reason? }
        }
        "request_verification" => {
            let items = f.required("items");
            let problem = f.required_str("problem");
            Command::RequestVerification {
                verification_id: uuid::Uuid::now_v7().to_string(),
                items: items?,
                problem: problem?,
            }
        }
        "answer_verification" => {
            let verification_id = f.required_str("verification_id");
            let correction: Option<Correction> = f.optional("correction");
            let reason = f.optional_str("reason");
            if correction.is_none() && reason.is_none() {
                f.problem(Problem::new(
                    "reason",
                    "required",
                    govshare_runtime::reply::Text::new(
                        "未更正的须说明理由（第二十六条）",
                        "an answer without a correction needs its reason (Art. 26)",
                    ),
                ));
            }
            Command::AnswerVerification {
                verification_id: verification_id?,
                correction: correction.map(|c| (c.content_hash, c.record_count)),
                reason,
            }
        }
        _ => return None,
    })
}

/// A correction: the corrected data's new version.
#[derive(serde::Deserialize)]
struct Correction {
    content_hash: String,
    record_count: u64,
}

async fn command(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("request_id");
    let cmd = parse_command(&call.name, &mut f, ctx);
    f.finish()?;
    let (id, cmd) = (id.expect("checked"), cmd.expect("checked"));
    let tx = ctx.begin().await?;
    let (request, read) = load_visible(&tx, &id, &call.org).await?;
    let facts = facts(ctx, &tx, &call.org, &request.entry.provider).await?;
    let mut supplemented_problems = Vec::new();
    if let Command::Supplement { form } = &cmd {
        let heads = store::roles(&tx, &call.org).await?.sharing_office_head;
        let rules = domain::UsageRules::new(facts.now, ctx.settings.requests.max_usage_period_days);
        supplemented_problems = domain::check_form(form, &request.entry, &heads, &rules);
    }
    if !supplemented_problems.is_empty() {
        return Err(ApiError::validation(supplemented_problems));
    }
    let decision = domain::decide(&request, cmd, &facts)?;
    let next = decision.events.iter().fold(request, domain::evolve);
    store::save_request(&tx, &next, read).await?;
    let out = outgoing(&decision, &call.meta, facts.now);
    ctx.commit(tx, &out).await?;
    Ok(answer(&next, &decision, &out))
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

async fn set_auto_approve(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let enabled: Option<bool> = f.required("enabled");
    f.finish()?;
    let tx = ctx.begin().await?;
    store::set_auto_approve(&tx, &call.org, enabled.expect("checked")).await?;
    ctx.commit(tx, &[]).await?;
    Ok(json!({"org": call.org, "auto_approve_unconditional": enabled}))
}

/// Art. 29: the requester records how it used the data; kept at least three years.
async fn record_usage(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("request_id");
    let scenario = f.required_str("scenario");
    let process = f.required_str("process");
    let outcome = f.required_str("outcome");
    let storage = f.required_str("storage");
    let destruction = f.optional_str("destruction");
    f.finish()?;
    let id = id.expect("checked");
    let tx = ctx.begin().await?;
    let (request, _) = load_visible(&tx, &id, &call.org).await?;
    if request.requester != call.org {
        return Err(RequestError::NotYours("requester").into());
    }
    if request.delivered.is_none() {
        return Err(RequestError::NotNow {
            state: request.status,
            why_zh: "尚未交付数据",
            why: "no data was delivered",
        }
        .into());
    }
    let now = ctx.clock.now();
    let recorded = UsageRecorded {
        request_id: id.clone(),
        record_id: uuid::Uuid::now_v7().to_string(),
        scenario: scenario.expect("checked"),
        process: process.expect("checked"),
        outcome: outcome.expect("checked"),
        storage: storage.expect("checked"),
        destruction,
        at: now,
    };
    entities::usage_record::ActiveModel {
        id: Set(recorded.record_id.clone()),
        request_id: Set(id),
        recorded_by: Set(call.org.clone()),
        at: Set(now),
        keep_until: Set(now + chrono::Months::new(36)),
        body: Set(serde_json::to_string(&recorded).expect("records serialize")),
    }
    .insert(&tx)
    .await?;
    let out = vec![Outgoing::event(&recorded, &call.meta, now)];
    ctx.commit(tx, &out).await?;
    Ok(json!({"record_id": recorded.record_id, "keep_until": now + chrono::Months::new(36)}))
}

/// A grant's usage records, in the order of their time (`at`, then id), a page at a time.
async fn list_usage(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("request_id");
    let page = Page::read(&mut f, &ctx.settings.calls, 2);
    f.finish()?;
    let id = id.expect("checked");
    load_visible(&ctx.db.begin().await?, &id, &call.org).await?;
    use entities::usage_record::{Column, Entity};
    let mut q = Entity::find().filter(Column::RequestId.eq(&id));
    if let Some([at, row]) = page.after() {
        let at = DateTime::parse_from_rfc3339(at).map_err(|_| page::bad_cursor())?.with_timezone(&Utc);
        q = q.filter(page::keyset(vec![(Column::At, at.into()), (Column::Id, row.clone().into())], false));
    }
    let rows = q.order_by_asc(Column::At).order_by_asc(Column::Id).limit(page.fetch()).all(&ctx.db).await?;
    Ok(page.answer(
        "records",
        rows,
        |r| vec![r.at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true), r.id.clone()],
        |r| {
            let mut v: Value = serde_json::from_str(&r.body).unwrap_or(Value::Null);
            v["keep_until"] = json!(r.keep_until);
            v
        },
    ))
}

async fn get_request(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("id");
    f.finish()?;
    let id = id.expect("checked");
    let (r, _) = load_visible(&ctx.db.begin().await?, &id, &call.org).await?;
    Ok(json!(r))
}

/// The requests the caller is a party to, by id (UUIDv7: the order they came in), a page at a time.
async fn list_requests(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let page = Page::read(&mut f, &ctx.settings.calls, 1);
    f.finish()?;
    use entities::request::Column;
    let mut q = entities::request::Entity::find()
        .filter(Condition::any().add(Column::Requester.eq(&call.org)).add(Column::Provider.eq(&call.org)));
    if let Some(after) = page.after_id() {
        q = q.filter(Column::Id.gt(after));
    }
    let rows = q.order_by_asc(Column::Id).limit(page.fetch()).all(&ctx.db).await?;
    Ok(page.answer(
        "requests",
        rows,
        |r| vec![r.id.clone()],
        |r| {
            json!({"id": r.id, "entry_id": r.entry_id, "requester": r.requester, "provider": r.provider,
                   "share_type": r.share_type, "status": r.status, "submitted_at": r.submitted_at})
        },
    ))
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
        if let Some(e) = inbox::decode_if::<EntryPublished>(event)? {
            store::upsert_entry(tx, &e).await?;
        } else if let Some(e) = inbox::decode_if::<EntryWithdrawn>(event)? {
            store::remove_entry(tx, &e.entry.entry_id).await?;
        } else if let Some(e) = inbox::decode_if::<OrganisationRegistered>(event)? {
            let kind =
                serde_json::to_value(e.kind).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
            store::upsert_org(tx, &e.org_id, Some((&kind, &e.region)), &e.roles).await?;
        } else if let Some(e) = inbox::decode_if::<RolesChanged>(event)? {
            store::upsert_org(tx, &e.org_id, None, &e.roles).await?;
        }
        Ok(Vec::new())
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
        let Some(b) = inbox::decode_if::<DutyBreached>(event)? else { return Ok(Vec::new()) };
        let meta = govshare_runtime::telemetry::caused_by(event);
        let id = &b.duty.about.id;
        let facts = Facts { org: "deadlines".into(), now, violation_id: event.id.to_string(), ..Facts::default() };
        match b.duty.about.kind.as_str() {
            "dispute" => {
                Ok(crate::disputes::step_deadline_passed(tx, id, &b.duty.duty_id, &self.settings, &meta, now).await?)
            }
            // Arts 27, 40: a destruction receipt not sent in time (recall's order after a
            // grant ended, or a provider's recall).
            "recall" => {
                let v = domain::violation(
                    &facts,
                    40,
                    &b.duty.holder,
                    "no_disposal",
                    id,
                    Some(b.duty.duty_id.clone()),
                    Text::new(
                        format!("持有方未按期销毁召回或共享结束的数据并提交回执（{}）", b.duty.duty_id),
                        format!(
                            "the holder did not destroy recalled or ended-grant data and send its receipt in time ({})",
                            b.duty.duty_id
                        ),
                    ),
                );
                Ok(outgoing(&Decision { events: vec![v], duties: Vec::new() }, &meta, now))
            }
            // Art. 24: a return cycle not delivered in time (the violation id is the breach's
            // event id, so a redelivered breach cannot announce it twice).
            "return_subscription" => {
                let v = domain::violation(
                    &facts,
                    39,
                    &b.duty.holder,
                    "missed_return",
                    id,
                    Some(b.duty.duty_id.clone()),
                    Text::new(
                        format!("上级部门未按周期回流数据（{}）", b.duty.duty_id),
                        format!("the upper-level department missed a return cycle ({})", b.duty.duty_id),
                    ),
                );
                Ok(outgoing(&Decision { events: vec![v], duties: Vec::new() }, &meta, now))
            }
            "request" => {
                let Some((request, read)) = store::request_at(tx, id).await? else { return Ok(Vec::new()) };
                let decision = if b.duty.duty_id == domain::usage_duty_id(id) {
                    if !matches!(request.status, Status::Active | Status::Suspended) {
                        return Ok(Vec::new());
                    }
                    let cmd = Command::End { end: GrantEnd::UsagePeriodEnded, reason: "usage period ended".into() };
                    domain::decide(&request, cmd, &Facts { org: request.requester.clone(), ..facts })
                        .map_err(|e| HandleError::Permanent(format!("ending grant {id}: {e}")))?
                } else {
                    let events = domain::violation_for_breach(&request, &b.duty.duty_id, &facts).into_iter().collect();
                    Decision { events, duties: Vec::new() }
                };
                let next = decision.events.iter().fold(request, domain::evolve);
                store::save_request(tx, &next, read).await?;
                Ok(outgoing(&decision, &meta, now))
            }
            _ => Ok(Vec::new()),
        }
    }
}
