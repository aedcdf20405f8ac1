//! Events -> recipients -> notifications (once each), the directory copy, the parties of each
//! request, and the inbox calls.

use chrono::{DateTime, Utc};
use govshare_shared::{
    ApiError, Context, Envelope, EventMeta, Outgoing,
    app::Call,
    async_trait,
    bus::CallKind,
    duty::{DutyBreached, DutyEscalated, DutyReminded, DutyUnschedulable, OverdueDigest},
    events::{
        catalog::{OrganisationRegistered, RolesChanged},
        notify::NotificationStored,
        requests::{
            DataDelivered, ExtensionDecided, ExtensionRequested, GrantChanged, GrantEnded, GrantResumed,
            GrantSuspended, RequestApproved, RequestRefused, RequestSubmitted, SupplementRequested,
            VerificationAnswered, VerificationRequested,
        },
    },
    inbox::{self, EventHandler, HandleError},
    region::RegionCode,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, sea_query::Expr,
};
use serde_json::{Value, json};

use crate::{
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
/// repeated delivery stores nothing), and announces each new one.
async fn notify(
    tx: &DatabaseTransaction,
    event: &Envelope,
    now: DateTime<Utc>,
    recipients: Vec<Recipient>,
    message: &Message,
) -> Result<Vec<Outgoing>, HandleError> {
    let message = serde_json::to_string(message).expect("messages serialize");
    let meta = EventMeta::caused_by(event);
    let mut out = Vec::new();
    for recipient in recipients {
        let id = uuid::Uuid::now_v7().to_string();
        let row = notification::ActiveModel {
            id: Set(id.clone()),
            recipient: Set(recipient.account.clone()),
            org: Set(recipient.org.clone()),
            channel: Set("inbox".into()),
            source_event: Set(event.id.to_string()),
            message: Set(message.clone()),
            created_at: Set(now),
            read_at: Set(None),
        };
        if store::insert_once(tx, row).await? {
            let stored = NotificationStored {
                notification_id: id,
                recipient: recipient.account,
                org: recipient.org,
                about_event: event.id.to_string(),
            };
            out.push(Outgoing::event(&stored, &meta, now));
        }
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
        _ => Err(call.unknown()),
    }
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
