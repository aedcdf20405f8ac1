//! Events -> recipients -> notifications (once each), the directory copy, the parties of each
//! request, and the inbox calls.

use chrono::{DateTime, Utc};
use govshare_shared::{
    ApiError, Context, Envelope, EventMeta, Outgoing,
    app::Call,
    async_trait,
    bus::CallKind,
    duty::{DutyBreached, DutyEscalated, DutyReminded, DutyUnschedulable, EscalationStep, OverdueDigest},
    events::{
        OrgKind,
        catalog::{OrganisationRegistered, RolesChanged},
        notify::{NotificationStored, OrgNotice},
        recall::DestructionOrdered,
        requests::{
            DataDelivered, ExtensionDecided, ExtensionRequested, GrantChanged, GrantEnded, GrantResumed,
            GrantSuspended, RequestApproved, RequestRefused, RequestSubmitted, SupplementRequested,
            VerificationAnswered, VerificationRequested,
        },
        violations::ViolationDetected,
    },
    inbox::{self, EventHandler, HandleError},
    region::RegionCode,
    reply::{Lang, Text},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use serde_json::{Value, json};

use crate::{
    channels,
    domain::{Cast, DutyNotice, Message, Org, Parties, Place, Recipient, RequestNotice},
    store::{self, entities::notification},
};

/// Keeps the directory copy: each organisation's place and roles.
pub struct Directory;

#[async_trait]
impl EventHandler for Directory {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        _now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        if let Some(e) = inbox::decode_if::<OrganisationRegistered>(event)? {
            // The catalog validated the code; one it could not have sent is a broken event.
            let region = RegionCode::parse(&e.region).map_err(|t| {
                HandleError::Permanent(format!("organisation {} has region {:?}: {}", e.org_id, e.region, t.en))
            })?;
            store::record_org(tx, &e, Place { kind: e.kind, region }).await?;
        } else if let Some(e) = inbox::decode_if::<RolesChanged>(event)? {
            store::record_roles(tx, &e.org_id, &e.roles).await?;
        }
        Ok(Vec::new())
    }
}

/// Tells the right people of every deadlines event that needs a person: reminders, breaches,
/// escalations, unschedulable duties and digests (see [`domain::recipients`]). Each recipient
/// gets one notification per event, however often the event is delivered.
pub struct DutyEvents;

#[async_trait]
impl EventHandler for DutyEvents {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        let Some(notice) = decode(event)? else { return Ok(Vec::new()) };
        let Some(holder) = store::org(tx, notice.holder()).await? else {
            // The directory copy may lag the catalog: retry until the holder is known.
            return Err(HandleError::Transient(format!("holder {} not in the directory yet", notice.holder())));
        };
        let authorities = store::authorities_at(tx, &notice.authority_regions(&holder)).await?;
        notify(tx, event, now, notice.recipients(&holder, &authorities), &notice.message(&holder)).await
    }
}

/// Stores `message` for each of `recipients`, once per recipient, channel and `event` (a
/// repeated delivery stores nothing), and announces each new one; then queues the other
/// channels in the same transaction: an email to each recipient who asked for one (only
/// digests, for those who prefer them), one bus message per organisation for its own
/// systems, and one webhook call per organisation that registered an endpoint.
async fn notify(
    tx: &DatabaseTransaction,
    event: &Envelope,
    now: DateTime<Utc>,
    recipients: Vec<Recipient>,
    message: &Message,
) -> Result<Vec<Outgoing>, HandleError> {
    let stored_message = serde_json::to_string(message).expect("messages serialize");
    let meta = EventMeta::caused_by(event);
    let source = event.id.to_string();
    let text = Text::new(message.render(Lang::ZhCn), message.render(Lang::En));
    let mut out = Vec::new();
    let mut orgs = std::collections::BTreeSet::new();
    for recipient in recipients {
        let id = uuid::Uuid::now_v7().to_string();
        let row = notification::ActiveModel {
            id: Set(id.clone()),
            recipient: Set(recipient.account.clone()),
            org: Set(recipient.org.clone()),
            channel: Set("inbox".into()),
            source_event: Set(source.clone()),
            message: Set(stored_message.clone()),
            created_at: Set(now),
            read_at: Set(None),
        };
        if !store::insert_once(tx, row).await? {
            continue;
        }
        orgs.insert(recipient.org.clone());
        let preference = store::preference(tx, &recipient.org, &recipient.account).await?;
        if let Some((address, lang)) = preference.as_ref().and_then(|p| channels::email_for(p, message.is_digest())) {
            let body = message.render(lang);
            let subject = channels::subject_of(&body);
            let delivery = channels::queued("email", &recipient.org, &address, &source, subject, body, now);
            store::enqueue(tx, delivery).await?;
        }
        let stored = NotificationStored {
            notification_id: id,
            recipient: recipient.account,
            org: recipient.org,
            about_event: source.clone(),
        };
        out.push(Outgoing::event(&stored, &meta, now));
    }
    for org in orgs {
        if !store::org_message_once(tx, &org, &source).await? {
            continue;
        }
        let notice = OrgNotice {
            org: org.clone(),
            about_event: source.clone(),
            about_type: event.event_type.clone(),
            text: text.clone(),
            message: serde_json::to_value(message).expect("messages serialize"),
        };
        let mut o = Outgoing::event(&notice, &meta, now);
        o.subject = OrgNotice::subject_for(&org);
        if store::webhook(tx, &org).await?.is_some() {
            // Standard Webhooks payload: type, timestamp, data.
            let body = serde_json::json!({"type": event.event_type, "timestamp": now, "data": notice}).to_string();
            let delivery = channels::queued("webhook", &org, &org, &source, event.event_type.clone(), body, now);
            store::enqueue(tx, delivery).await?;
        }
        out.push(o);
    }
    Ok(out)
}

/// The deadlines event in `event`, if it is one notify tells people of (`duty.scheduled`,
/// for one, is not).
fn decode(event: &Envelope) -> Result<Option<DutyNotice>, HandleError> {
    Ok(if let Some(e) = inbox::decode_if::<DutyReminded>(event)? {
        Some(DutyNotice::Reminded(e))
    } else if let Some(e) = inbox::decode_if::<DutyBreached>(event)? {
        Some(DutyNotice::Breached(e))
    } else if let Some(e) = inbox::decode_if::<DutyEscalated>(event)? {
        Some(DutyNotice::Escalated(e))
    } else if let Some(e) = inbox::decode_if::<DutyUnschedulable>(event)? {
        Some(DutyNotice::Unschedulable(e))
    } else {
        inbox::decode_if::<OverdueDigest>(event)?.map(DutyNotice::Digest)
    })
}

/// Tells the parties of a request what they must know: a supplement notice, an extension
/// asked or decided, the reply, the delivery, what happens to the grant, verification (see
/// [`RequestNotice::recipients`]). Records each request's parties when it is submitted, for the
/// later events that do not name both. Each recipient gets one notification per event.
pub struct RequestEvents;

#[async_trait]
impl EventHandler for RequestEvents {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        if let Some(e) = inbox::decode_if::<RequestSubmitted>(event)? {
            // Nobody is told: the provider's reply duty reminds it.
            let parties = Parties { requester: e.requester, provider: e.provider };
            store::record_request(tx, &e.request_id, &parties).await?;
            return Ok(Vec::new());
        }
        if let Some(v) = inbox::decode_if::<ViolationDetected>(event)? {
            return violation(tx, event, now, v).await;
        }
        let Some(notice) = decode_request(event)? else { return Ok(Vec::new()) };
        let parties = match notice.parties() {
            Some(p) => p,
            // Stream order brings the submission first; a retry covers its handler failing.
            None => store::request_parties(tx, notice.request_id())
                .await?
                .ok_or_else(|| HandleError::Transient(format!("request {} not known yet", notice.request_id())))?,
        };
        let other = match notice.other() {
            Some(id) => Some(known_org(tx, id).await?),
            None => None,
        };
        let cast = Cast {
            requester: known_org(tx, &parties.requester).await?,
            provider: known_org(tx, &parties.provider).await?,
            other,
        };
        notify(tx, event, now, notice.recipients(&cast), &notice.message(&cast)).await
    }
}

/// A violation (Arts 39-41): the organisation in breach (its administrators and sharing
/// office) and the authority over it: the same-level one for a department, the one above for
/// an authority (Art. 41).
async fn violation(
    tx: &DatabaseTransaction,
    event: &Envelope,
    now: DateTime<Utc>,
    v: ViolationDetected,
) -> Result<Vec<Outgoing>, HandleError> {
    use crate::domain::recipients;
    let party = known_org(tx, &v.party).await?;
    let step = match party.place {
        Some(Place { kind: OrgKind::Authority, .. }) => EscalationStep::SuperiorAuthority,
        _ => EscalationStep::SameLevelAuthority,
    };
    let authorities = store::authorities_at(tx, &recipients::authority_regions(step, &party)).await?;
    let mut who = recipients::administrators_and_sharing_office(&party);
    for r in recipients::escalated(step, &party, &authorities) {
        if !who.contains(&r) {
            who.push(r);
        }
    }
    let message = Message::Violation { article: v.article, party: party.name.clone(), kind: v.kind, facts: v.facts };
    notify(tx, event, now, who, &message).await
}

/// Tells each holder of recalled data that it must destroy it and send a receipt: its
/// administrators and sharing office.
pub struct RecallEvents;

#[async_trait]
impl EventHandler for RecallEvents {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        let Some(e) = inbox::decode_if::<DestructionOrdered>(event)? else { return Ok(Vec::new()) };
        let holder = known_org(tx, &e.holder).await?;
        let who = crate::domain::recipients::administrators_and_sharing_office(&holder);
        let message =
            Message::DestructionOrdered { entry_id: e.entry_id, scope: e.scope, reason: e.reason, due_at: e.due_at };
        notify(tx, event, now, who, &message).await
    }
}

/// The organisation as the directory copy has it; one it has not heard of yet is retried.
async fn known_org(tx: &DatabaseTransaction, id: &str) -> Result<Org, HandleError> {
    store::org(tx, id)
        .await?
        .ok_or_else(|| HandleError::Transient(format!("organisation {id} not in the directory yet")))
}

/// The requests event in `event`, if it is one a party must hear of (`request.supplemented`
/// and `grant.usage_recorded`, for two, are not).
fn decode_request(event: &Envelope) -> Result<Option<RequestNotice>, HandleError> {
    use RequestNotice as N;
    Ok(if let Some(e) = inbox::decode_if::<SupplementRequested>(event)? {
        Some(N::SupplementRequested(e))
    } else if let Some(e) = inbox::decode_if::<ExtensionRequested>(event)? {
        Some(N::ExtensionRequested(e))
    } else if let Some(e) = inbox::decode_if::<ExtensionDecided>(event)? {
        Some(N::ExtensionDecided(e))
    } else if let Some(e) = inbox::decode_if::<RequestApproved>(event)? {
        Some(N::Approved(e))
    } else if let Some(e) = inbox::decode_if::<RequestRefused>(event)? {
        Some(N::Refused(e))
    } else if let Some(e) = inbox::decode_if::<DataDelivered>(event)? {
        Some(N::Delivered(e))
    } else if let Some(e) = inbox::decode_if::<GrantSuspended>(event)? {
        Some(N::Suspended(e))
    } else if let Some(e) = inbox::decode_if::<GrantResumed>(event)? {
        Some(N::Resumed(e))
    } else if let Some(e) = inbox::decode_if::<GrantEnded>(event)? {
        Some(N::Ended(e))
    } else if let Some(e) = inbox::decode_if::<GrantChanged>(event)? {
        Some(N::Changed(e))
    } else if let Some(e) = inbox::decode_if::<VerificationRequested>(event)? {
        Some(N::VerificationRequested(e))
    } else {
        inbox::decode_if::<VerificationAnswered>(event)?.map(N::VerificationAnswered)
    })
}

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    match (call.kind, call.name.as_str()) {
        (CallKind::Query, "list_inbox") => list_inbox(ctx, call).await,
        (CallKind::Command, "mark_read") => mark_read(ctx, call).await,
        (CallKind::Command, "set_preferences") => set_preferences(ctx, call).await,
        (CallKind::Query, "get_preferences") => get_preferences(ctx, call).await,
        (CallKind::Command, "register_webhook") => register_webhook(ctx, call).await,
        (CallKind::Command, "remove_webhook") => remove_webhook(ctx, call).await,
        (CallKind::Query, "list_deliveries") => list_deliveries(ctx, call).await,
        _ => Err(call.unknown()),
    }
}

/// An organisation sets how one of its accounts hears: channels (`inbox` always, `email`),
/// the address, digests instead of single duty notices, the language.
async fn set_preferences(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let account = f.required_str("account");
    let email = f.optional_str("email");
    let channels: Option<Vec<String>> = f.optional("channels");
    let digest: Option<bool> = f.optional("digest");
    let lang = f.optional_str("lang");
    if let Some(bad) = channels.iter().flatten().find(|c| !["inbox", "email"].contains(&c.as_str())) {
        f.problem(govshare_shared::Problem::invalid(
            "channels",
            format!("未知渠道 {bad}"),
            format!("unknown channel {bad}"),
        ));
    }
    if let Some(e) = email.as_deref().filter(|e| e.parse::<lettre::Address>().is_err()) {
        f.problem(govshare_shared::Problem::invalid(
            "email",
            format!("邮箱地址无效：{e}"),
            format!("not an email address: {e}"),
        ));
    }
    if lang.as_deref().is_some_and(|l| l != "zh-CN" && l != "en") {
        f.problem(govshare_shared::Problem::invalid("lang", "应为 zh-CN 或 en", "expected zh-CN or en"));
    }
    f.finish()?;
    let account = account.expect("checked");
    let old = store::preference(&ctx.db, &call.org, &account).await?;
    let wants_email = channels.as_ref().is_some_and(|c| c.iter().any(|c| c == "email"));
    let email = email.or(old.as_ref().and_then(|o| o.email.clone()));
    if wants_email && email.is_none() {
        return Err(ApiError::validation(vec![govshare_shared::Problem::required("email")]));
    }
    let p = store::entities::preference::Model {
        org: call.org.clone(),
        account,
        email,
        channels: serde_json::to_string(&channels.unwrap_or_else(|| {
            old.as_ref()
                .and_then(|o| serde_json::from_str(&o.channels).ok())
                .unwrap_or_else(|| vec!["inbox".to_owned()])
        }))
        .expect("strings serialize"),
        digest: digest.or(old.as_ref().map(|o| o.digest)).unwrap_or(false),
        lang: lang.or(old.map(|o| o.lang)).unwrap_or_else(|| "zh-CN".into()),
    };
    let tx = ctx.begin().await?;
    store::set_preference(&tx, p.clone()).await?;
    ctx.commit(tx, &[]).await?;
    Ok(json!(p))
}

async fn get_preferences(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let account = f.required_str("account");
    f.finish()?;
    let p = store::preference(&ctx.db, &call.org, &account.expect("checked")).await?;
    Ok(json!(p))
}

/// An organisation's systems receive its notifications by HTTP POST, signed per Standard
/// Webhooks with the secret answered here once.
async fn register_webhook(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let url = f.required_str("url");
    if let Some(u) =
        url.as_deref().filter(|u| reqwest::Url::parse(u).map(|u| !u.scheme().starts_with("http")).unwrap_or(true))
    {
        f.problem(govshare_shared::Problem::invalid(
            "url",
            format!("不是 http(s) 地址：{u}"),
            format!("not an http(s) URL: {u}"),
        ));
    }
    f.finish()?;
    let secret = channels::webhook::Secret::generate();
    let row = store::entities::webhook::ActiveModel {
        org: Set(call.org.clone()),
        url: Set(url.expect("checked")),
        secret: Set(secret.to_string()),
        created_at: Set(ctx.clock.now()),
    };
    let tx = ctx.begin().await?;
    store::entities::webhook::Entity::delete_by_id(call.org.clone()).exec(&tx).await?;
    store::entities::webhook::Entity::insert(row).exec_without_returning(&tx).await?;
    ctx.commit(tx, &[]).await?;
    Ok(json!({"org": call.org, "secret": secret.to_string(),
              "note": "keep the secret: it is shown once; verify each call's webhook-signature with it"}))
}

async fn remove_webhook(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    call.fields.finish()?;
    let tx = ctx.begin().await?;
    let n = store::entities::webhook::Entity::delete_by_id(call.org.clone()).exec(&tx).await?.rows_affected;
    ctx.commit(tx, &[]).await?;
    Ok(json!({"removed": n == 1}))
}

/// The organisation's email and webhook deliveries, newest first (`state`: pending, sent, dead).
async fn list_deliveries(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    use store::entities::delivery::{Column, Entity};
    let mut f = call.fields;
    let state = f.optional_str("state");
    f.finish()?;
    let mut q = Entity::find().filter(Column::Org.eq(&call.org));
    if let Some(s) = state {
        q = q.filter(Column::State.eq(s));
    }
    let rows = q.order_by_desc(Column::CreatedAt).limit(200).all(&ctx.db).await?;
    Ok(json!({"deliveries": rows}))
}

/// An organisation reads its own notifications, optionally one recipient's.
async fn list_inbox(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let recipient = f.optional_str("recipient");
    let unread_only: Option<bool> = f.optional("unread_only");
    f.finish()?;
    let mut q = notification::Entity::find().filter(notification::Column::Org.eq(&call.org));
    if let Some(r) = recipient {
        q = q.filter(notification::Column::Recipient.eq(r));
    }
    if unread_only.unwrap_or(false) {
        q = q.filter(notification::Column::ReadAt.is_null());
    }
    let rows = q.order_by_asc(notification::Column::Id).all(&ctx.db).await?;
    let items: Vec<Value> = rows
        .into_iter()
        .map(|r| {
            let text = serde_json::from_str::<Message>(&r.message).map(|m| m.render(call.lang)).unwrap_or_default();
            json!({
                "id": r.id, "recipient": r.recipient, "org": r.org, "channel": r.channel,
                "source_event": r.source_event, "message": text, "created_at": r.created_at, "read_at": r.read_at,
            })
        })
        .collect();
    Ok(json!({"notifications": items}))
}

async fn mark_read(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("id");
    f.finish()?;
    let id = id.expect("checked");
    let res = notification::Entity::update_many()
        .col_expr(notification::Column::ReadAt, Expr::value(ctx.clock.now()))
        .filter(notification::Column::Id.eq(&id))
        .filter(notification::Column::Org.eq(&call.org))
        .filter(notification::Column::ReadAt.is_null())
        .exec(&ctx.db)
        .await?;
    if res.rows_affected == 0 {
        let exists = notification::Entity::find_by_id(id.clone())
            .filter(notification::Column::Org.eq(&call.org))
            .one(&ctx.db)
            .await?
            .is_some();
        if !exists {
            return Err(ApiError::not_found("notification", &id));
        }
    }
    Ok(json!({"id": id, "read": true}))
}
