//! Events -> recipients -> notifications (once each), the directory copy, the parties of each
//! request, and the inbox calls.

use chrono::{DateTime, Utc};
use govshare_runtime::{
    ApiError, Context, Envelope, EventMeta, Outgoing,
    app::Call,
    async_trait,
    duty::{
        CalendarNextYearMissing, DutyBreached, DutyEscalated, DutyReminded, DutyUnschedulable, EscalationStep,
        OverdueDigest,
    },
    envelope::{Decoded, EventSet},
    events::{
        OrgKind,
        catalog::{BusKeyAdded, BusKeyRevoked, OrganisationRegistered, RolesChanged},
        notify::{NotificationStored, OrgNotice},
        recall::DestructionOrdered,
        requests::{
            DataDelivered, ExtensionDecided, ExtensionRequested, GrantChanged, GrantEnded, GrantResumed,
            GrantSuspended, RequestApproved, RequestRefused, RequestSubmitted, SupplementRequested,
            VerificationAnswered, VerificationRequested,
        },
        violations::ViolationDetected,
    },
    inbox::{EventHandler, HandleError},
    page::Page,
    region::RegionCode,
    reply::{Lang, Text},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Expr,
};
use serde_json::{Value, json};

use govshare_contract::{api::notify as api, types::OrgId};
use govshare_runtime::config::CallSettings;

use crate::{
    channels::{
        self,
        policy::{Host, WebhookPolicy},
        sealed::SecretKey,
    },
    domain::{Cast, DutyNotice, Message, Org, Parties, Place, Recipient, RequestNotice, recipients},
    store::{self, entities::notification},
};

govshare_contract::events! {
    /// What the directory consumer handles (the catalog's events).
    pub enum FromCatalog {
        OrganisationRegistered(OrganisationRegistered),
        RolesChanged(RolesChanged),
        BusKeyAdded(BusKeyAdded),
        BusKeyRevoked(BusKeyRevoked),
    }
}

govshare_contract::events! {
    /// The deadlines events someone must hear of.
    pub enum FromDeadlines {
        CalendarNextYearMissing(CalendarNextYearMissing),
        Reminded(DutyReminded),
        Breached(DutyBreached),
        Escalated(DutyEscalated),
        Unschedulable(DutyUnschedulable),
        Digest(OverdueDigest),
    }
}

govshare_contract::events! {
    /// The requests events notify keeps (submissions: the parties) or tells someone of.
    pub enum FromRequests {
        Submitted(RequestSubmitted),
        Violation(ViolationDetected),
        SupplementRequested(SupplementRequested),
        ExtensionRequested(ExtensionRequested),
        ExtensionDecided(ExtensionDecided),
        Approved(RequestApproved),
        Refused(RequestRefused),
        Delivered(DataDelivered),
        Suspended(GrantSuspended),
        Resumed(GrantResumed),
        Ended(GrantEnded),
        Changed(GrantChanged),
        VerificationRequested(VerificationRequested),
        VerificationAnswered(VerificationAnswered),
    }
}

govshare_contract::events! {
    /// The recall events a holder must hear of.
    pub enum FromRecall {
        DestructionOrdered(DestructionOrdered),
    }
}

/// Keeps the directory copy: each organisation's place and roles.
pub struct Directory;

#[async_trait]
impl EventHandler for Directory {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        match FromCatalog::decode(event) {
            Decoded::Event(FromCatalog::OrganisationRegistered(e)) => {
                // The catalog validated the code; one it could not have sent is a broken event.
                let region = RegionCode::parse(&e.region).map_err(|t| {
                    HandleError::Permanent(format!("organisation {} has region {:?}: {}", e.org_id, e.region, t.en))
                })?;
                store::record_org(tx, &e, Place { kind: e.kind, region }).await?;
                Ok(Vec::new())
            }
            Decoded::Event(FromCatalog::RolesChanged(e)) => roles_changed(tx, event, now, e).await,
            Decoded::Event(FromCatalog::BusKeyAdded(e)) => {
                let org = known_org(tx, &e.org_id).await?;
                let by = name_of(tx, &e.added_by).await?;
                let message = Message::BusKeyAdded { org: org.name.clone(), public_key: e.public_key, by };
                notify(tx, &About::event(event), now, recipients::administrators(&org), &message).await
            }
            Decoded::Event(FromCatalog::BusKeyRevoked(e)) => {
                let org = known_org(tx, &e.org_id).await?;
                let by = name_of(tx, &e.revoked_by).await?;
                let message = Message::BusKeyRevoked { org: org.name.clone(), public_key: e.public_key, by };
                notify(tx, &About::event(event), now, recipients::administrators(&org), &message).await
            }
            Decoded::Other => Ok(Vec::new()),
            Decoded::Refused(why) => Err(HandleError::Permanent(why)),
        }
    }
}

/// Records an organisation's new roles and tells its administrators, those it had and those it
/// has now (someone who took the role away must not be the only one to hear of it).
async fn roles_changed(
    tx: &DatabaseTransaction,
    event: &Envelope,
    now: DateTime<Utc>,
    e: RolesChanged,
) -> Result<Vec<Outgoing>, HandleError> {
    let before = store::org(tx, &e.org_id).await?;
    store::record_roles(tx, &e.org_id, &e.roles).await?;
    let Some(after) = store::org(tx, &e.org_id).await? else { return Ok(Vec::new()) };
    // Events written before `changed_by` carry the acting organisation in the envelope.
    let by = if e.changed_by.is_empty() { event.actingorg.clone() } else { e.changed_by.clone() };
    let by = name_of(tx, &by).await?;
    let who = recipients::each_once([
        before.as_ref().map(recipients::administrators).unwrap_or_default(),
        recipients::administrators(&after),
    ]);
    let r = &e.roles;
    let message = Message::RolesChanged {
        org: after.name.clone(),
        by,
        administrators: r.administrators.clone(),
        head: r.head.clone(),
        sharing_office_head: r.sharing_office_head.clone(),
        sharing_office: r.sharing_office.clone(),
    };
    notify(tx, &About::event(event), now, who, &message).await
}

/// How a message names an acting organisation: `name (id)` as the directory has it, or the id.
async fn name_of(db: &impl sea_orm::ConnectionTrait, id: &str) -> Result<String, sea_orm::DbErr> {
    Ok(match store::org(db, id).await? {
        Some(o) if o.name != o.id => format!("{} ({id})", o.name),
        _ => id.to_owned(),
    })
}

/// Tells the right people of every deadlines event that needs a person: reminders, breaches,
/// escalations, unschedulable duties and digests (see [`domain::recipients`]). Each recipient
/// gets one notification per event, however often the event is delivered.
pub struct DutyEvents;

#[async_trait]
impl EventHandler for DutyEvents {
    fn wants(&self, event: &Envelope) -> bool {
        FromDeadlines::concerns(&event.event_type)
    }

    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        let notice = match FromDeadlines::decode(event) {
            Decoded::Event(FromDeadlines::CalendarNextYearMissing(e)) => {
                // Only the platform operators can add a calendar year.
                let platform = govshare_runtime::bus::PLATFORM_ORG;
                let operators = vec![Recipient::new(platform, platform)];
                let message = Message::CalendarNextYearMissing { year: e.year, duties_waiting: e.duties_waiting };
                return notify(tx, &About::event(event), now, operators, &message).await;
            }
            Decoded::Event(FromDeadlines::Reminded(e)) => DutyNotice::Reminded(e),
            Decoded::Event(FromDeadlines::Breached(e)) => DutyNotice::Breached(e),
            Decoded::Event(FromDeadlines::Escalated(e)) => DutyNotice::Escalated(e),
            Decoded::Event(FromDeadlines::Unschedulable(e)) => DutyNotice::Unschedulable(e),
            Decoded::Event(FromDeadlines::Digest(e)) => DutyNotice::Digest(e),
            // `duty.scheduled`, for one, is nobody's to hear of (and passed by: `wants`).
            Decoded::Other => return Ok(Vec::new()),
            Decoded::Refused(why) => return Err(HandleError::Permanent(why)),
        };
        let Some(holder) = store::org(tx, notice.holder()).await? else {
            // The directory copy may lag the catalog: retry until the holder is known.
            return Err(HandleError::Transient(format!("holder {} not in the directory yet", notice.holder())));
        };
        let authorities = store::authorities_at(tx, &notice.authority_regions(&holder)).await?;
        notify(tx, &About::event(event), now, notice.recipients(&holder, &authorities), &notice.message(&holder)).await
    }
}

/// What a notification is about: an event (its id and type), or a command that changed how an
/// organisation hears (a fresh id, and `govshare.cmd.notify.<command>` as the type).
struct About {
    id: String,
    event_type: String,
    meta: EventMeta,
}

impl About {
    fn event(event: &Envelope) -> Self {
        Self {
            id: event.id.to_string(),
            event_type: event.event_type.clone(),
            meta: govshare_runtime::telemetry::caused_by(event),
        }
    }

    fn command(call: &Call) -> Self {
        Self {
            id: uuid::Uuid::now_v7().to_string(),
            event_type: format!("govshare.cmd.notify.{}", call.name),
            meta: call.meta.clone(),
        }
    }
}

tokio::task_local! {
    /// `notify.max_recipients_per_event` for the event or call handled on this task, set by
    /// [`Bounded`] and the service's `call` ([`with_max_recipients`]). Scoped, not global: the
    /// handlers' many callers of [`notify`] need not carry it.
    static MAX_RECIPIENTS: usize;
}

/// Runs `work` with `max` as the fan-out bound of every notification it stores.
pub async fn with_max_recipients<F: std::future::Future>(max: usize, work: F) -> F::Output {
    MAX_RECIPIENTS.scope(max, work).await
}

/// An event handler whose notifications are bounded by `max` recipients per organisation.
pub struct Bounded<H> {
    pub inner: H,
    pub max: usize,
}

#[async_trait]
impl<H: EventHandler> EventHandler for Bounded<H> {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        with_max_recipients(self.max, self.inner.handle(tx, event, now)).await
    }

    fn wants(&self, event: &Envelope) -> bool {
        self.inner.wants(event)
    }
}

/// Stores `message` for each of `recipients`, once per recipient, channel and `event` (a
/// repeated delivery stores nothing), and announces each new one; then queues the other
/// channels in the same transaction: an email to each recipient who asked for one (only
/// digests, for those who prefer them), one bus message per organisation for its own
/// systems, and one webhook call per organisation that registered an endpoint.
async fn notify(
    tx: &DatabaseTransaction,
    about: &About,
    now: DateTime<Utc>,
    recipients: Vec<Recipient>,
    message: &Message,
) -> Result<Vec<Outgoing>, HandleError> {
    let stored_message = serde_json::to_string(message).expect("messages serialize");
    let meta = about.meta.clone();
    let source = about.id.clone();
    let text = Text::new(message.render(Lang::ZhCn), message.render(Lang::En));
    let mut out = Vec::new();
    let mut orgs = std::collections::BTreeSet::new();
    // More people of one organisation than the bound: one notification to the organisation
    // itself, counting them (`for_recipients` beside the message), and no email per person.
    let max = MAX_RECIPIENTS
        .try_with(|m| *m)
        .unwrap_or(govshare_runtime::config::NotifySettings::default().max_recipients_per_event);
    for (recipient, stands_for) in crate::domain::recipients::bounded(recipients, max) {
        let id = uuid::Uuid::now_v7().to_string();
        let stored_message = match stands_for {
            None => stored_message.clone(),
            Some(n) => {
                tracing::warn!(org = %recipient.org, recipients = n, max, about = %source, "fan-out bounded: one notification to the organisation");
                let mut v: Value = serde_json::from_str(&stored_message).expect("messages serialize");
                v["for_recipients"] = json!(n);
                v.to_string()
            }
        };
        let row = notification::ActiveModel {
            id: Set(id.clone()),
            recipient: Set(recipient.account.clone()),
            org: Set(recipient.org.clone()),
            channel: Set("inbox".into()),
            source_event: Set(source.clone()),
            message: Set(stored_message),
            created_at: Set(now),
            read_at: Set(None),
        };
        if !store::insert_once(tx, row).await? {
            continue;
        }
        orgs.insert(recipient.org.clone());
        let preference = match stands_for {
            None => store::preference(tx, &recipient.org, &recipient.account).await?,
            Some(_) => None,
        };
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
            about_type: about.event_type.clone(),
            text: text.clone(),
            message: serde_json::to_value(message).expect("messages serialize"),
        };
        let mut o = Outgoing::event(&notice, &meta, now);
        o.subject = OrgNotice::subject_for(&org);
        if store::webhook(tx, &org).await?.is_some() {
            // Standard Webhooks payload: type, timestamp, data.
            let body = serde_json::json!({"type": about.event_type, "timestamp": now, "data": notice}).to_string();
            let delivery = channels::queued("webhook", &org, &org, &source, about.event_type.clone(), body, now);
            store::enqueue(tx, delivery).await?;
        }
        out.push(o);
    }
    Ok(out)
}

/// Tells the parties of a request what they must know: a supplement notice, an extension
/// asked or decided, the reply, the delivery, what happens to the grant, verification (see
/// [`RequestNotice::recipients`]). Records each request's parties when it is submitted, for the
/// later events that do not name both. Each recipient gets one notification per event.
pub struct RequestEvents;

#[async_trait]
impl EventHandler for RequestEvents {
    fn wants(&self, event: &Envelope) -> bool {
        FromRequests::concerns(&event.event_type)
    }

    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        use RequestNotice as N;
        let notice = match FromRequests::decode(event) {
            Decoded::Event(FromRequests::Submitted(e)) => {
                // Nobody is told: the provider's reply duty reminds it.
                let parties = Parties { requester: e.requester, provider: e.provider };
                store::record_request(tx, &e.request_id, &parties).await?;
                return Ok(Vec::new());
            }
            Decoded::Event(FromRequests::Violation(v)) => return violation(tx, event, now, v).await,
            Decoded::Event(FromRequests::SupplementRequested(e)) => N::SupplementRequested(e),
            Decoded::Event(FromRequests::ExtensionRequested(e)) => N::ExtensionRequested(e),
            Decoded::Event(FromRequests::ExtensionDecided(e)) => N::ExtensionDecided(e),
            Decoded::Event(FromRequests::Approved(e)) => N::Approved(e),
            Decoded::Event(FromRequests::Refused(e)) => N::Refused(e),
            Decoded::Event(FromRequests::Delivered(e)) => N::Delivered(e),
            Decoded::Event(FromRequests::Suspended(e)) => N::Suspended(e),
            Decoded::Event(FromRequests::Resumed(e)) => N::Resumed(e),
            Decoded::Event(FromRequests::Ended(e)) => N::Ended(e),
            Decoded::Event(FromRequests::Changed(e)) => N::Changed(e),
            Decoded::Event(FromRequests::VerificationRequested(e)) => N::VerificationRequested(e),
            Decoded::Event(FromRequests::VerificationAnswered(e)) => N::VerificationAnswered(e),
            // `request.supplemented` and `grant.usage_recorded`, for two, are nobody's to hear of.
            Decoded::Other => return Ok(Vec::new()),
            Decoded::Refused(why) => return Err(HandleError::Permanent(why)),
        };
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
        notify(tx, &About::event(event), now, notice.recipients(&cast), &notice.message(&cast)).await
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
    notify(tx, &About::event(event), now, who, &message).await
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
        let e = match FromRecall::decode(event) {
            Decoded::Event(FromRecall::DestructionOrdered(e)) => e,
            Decoded::Other => return Ok(Vec::new()),
            Decoded::Refused(why) => return Err(HandleError::Permanent(why)),
        };
        let holder = known_org(tx, &e.holder).await?;
        let who = crate::domain::recipients::administrators_and_sharing_office(&holder);
        let message =
            Message::DestructionOrdered { entry_id: e.entry_id, scope: e.scope, reason: e.reason, due_at: e.due_at };
        notify(tx, &About::event(event), now, who, &message).await
    }
}

/// The organisation as the directory copy has it; one it has not heard of yet is retried.
async fn known_org(tx: &DatabaseTransaction, id: &str) -> Result<Org, HandleError> {
    store::org(tx, id)
        .await?
        .ok_or_else(|| HandleError::Transient(format!("organisation {id} not in the directory yet")))
}

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    match call.parse::<api::Call>()? {
        api::Call::ListInbox(body) => list_inbox(ctx, &call, body).await,
        api::Call::MarkRead(body) => Ok(answer(mark_read(ctx, &call, body).await?)),
        api::Call::SetPreferences(body) => Ok(answer(set_preferences(ctx, &call, body).await?)),
        api::Call::GetPreferences(body) => {
            let p = store::preference(&ctx.db, &call.org, &body.account).await?;
            Ok(answer(p.map(preferences_of)))
        }
        api::Call::RegisterWebhook(body) => Ok(answer(register_webhook(ctx, &call, body).await?)),
        api::Call::RemoveWebhook(body) => Ok(answer(remove_webhook(ctx, &call, body).await?)),
        api::Call::ListDeliveries(body) => list_deliveries(ctx, &call, body).await,
        api::Call::ListNotices(body) => Ok(answer(crate::notices::list_notices(ctx, &call, body).await?)),
    }
}

/// The JSON of an answer.
fn answer<T: serde::Serialize>(t: T) -> Value {
    serde_json::to_value(t).expect("answers serialize")
}

/// A page of a list, as asked for by `after` and `limit` (see `govshare_runtime::page`).
fn page(after: Option<&api::Cursor>, limit: Option<u64>, settings: &CallSettings) -> Result<Page, ApiError> {
    Page::new(after.map(|a| a.as_str()), limit, settings, 1)
}

/// The channels a stored preference names (a JSON list).
fn channels_of(m: &store::entities::preference::Model) -> Vec<api::Channel> {
    serde_json::from_str(&m.channels).unwrap_or_default()
}

fn preferences_of(m: store::entities::preference::Model) -> api::Preferences {
    api::Preferences {
        channels: channels_of(&m),
        lang: if m.lang == "en" { Lang::En } else { Lang::ZhCn },
        org: m.org,
        account: m.account,
        email: m.email,
        digest: m.digest,
    }
}

/// An organisation sets how one of its accounts hears: channels (`inbox` always, `email`),
/// the address, digests instead of single duty notices, the language. Only its own accounts:
/// the rows are keyed by the acting organisation, so `platform` (or anyone) changes only its
/// own. A change of address or channels is announced to the organisation's administrators, and
/// to the old address when it was receiving email (issue 12).
async fn set_preferences(ctx: &Context, call: &Call, body: api::SetPreferences) -> Result<api::Preferences, ApiError> {
    let about = About::command(call);
    own_org_only(body.org.as_ref(), &call.org)?;
    let email = body.email.map(String::from);
    if let Some(e) = email.as_deref().filter(|e| e.parse::<lettre::Address>().is_err()) {
        return Err(ApiError::validation(vec![govshare_runtime::Problem::invalid(
            "email",
            format!("邮箱地址无效：{e}"),
            format!("not an email address: {e}"),
        )]));
    }
    let account = String::from(body.account);
    let channels = body.channels.map(|c| c.into_vec());
    let tx = ctx.begin().await?;
    let (old, read) = store::preference_at(&tx, &call.org, &account).await?;
    let wants_email = channels.as_ref().is_some_and(|c| c.contains(&api::Channel::Email));
    let email = email.or(old.as_ref().and_then(|o| o.email.clone()));
    if wants_email && email.is_none() {
        return Err(ApiError::validation(vec![govshare_runtime::Problem::required("email")]));
    }
    let channels = channels.unwrap_or_else(|| old.as_ref().map_or_else(|| vec![api::Channel::Inbox], channels_of));
    let lang = body.lang.map(|l| if l == Lang::En { "en" } else { "zh-CN" });
    let p = store::entities::preference::Model {
        org: call.org.clone(),
        account,
        email,
        channels: serde_json::to_string(&channels).expect("channels serialize"),
        digest: body.digest.or(old.as_ref().map(|o| o.digest)).unwrap_or(false),
        lang: lang.map(str::to_owned).or(old.as_ref().map(|o| o.lang.clone())).unwrap_or_else(|| "zh-CN".into()),
        revision: 0, // the save moves it on from `read`
    };
    store::set_preference(&tx, p.clone(), read).await?;
    let (email_before, channels_before) =
        old.as_ref().map_or((None, vec![api::Channel::Inbox]), |o| (o.email.clone(), channels_of(o)));
    let mut out = Vec::new();
    if email_before != p.email || channels_before != channels_of(&p) {
        let names = |c: &[api::Channel]| -> Vec<String> {
            c.iter().map(|c| if *c == api::Channel::Email { "email" } else { "inbox" }.to_owned()).collect()
        };
        let message = Message::PreferencesChanged {
            account: p.account.clone(),
            by: name_of(&tx, &call.org).await?,
            email_before: email_before.clone(),
            email_after: p.email.clone(),
            channels_before: names(&channels_before),
            channels_after: names(&channels_of(&p)),
        };
        out = announce(&tx, &about, &call.org, &message, ctx.clock.now()).await?;
        // The old address hears of the move too: a person whose address was taken over must
        // learn it somewhere the new owner does not read.
        let old_address =
            email_before.filter(|e| channels_before.contains(&api::Channel::Email) && Some(e) != p.email.as_ref());
        if let Some(address) = old_address {
            let lang = if old.as_ref().is_some_and(|o| o.lang == "en") { Lang::En } else { Lang::ZhCn };
            let body = message.render(lang);
            let subject = channels::subject_of(&body);
            let now = ctx.clock.now();
            store::enqueue(&tx, channels::queued("email", &call.org, &address, &about.id, subject, body, now)).await?;
        }
    }
    ctx.commit(tx, &out).await?;
    Ok(preferences_of(p))
}

/// Refuses a call that names another organisation in an `org` field: an organisation changes
/// only its own accounts and webhook (issue 12), and says so rather than silently acting on its
/// own rows instead.
fn own_org_only(named: Option<&OrgId>, acting: &str) -> Result<(), ApiError> {
    match named {
        Some(other) if other.as_str() != acting => Err(ApiError::with_text(
            govshare_runtime::reply::ErrorCode::Forbidden,
            format!("{acting} 只能修改本单位的通知方式和回调地址，{other} 的须由其自行修改"),
            format!("{acting} may change only its own notification settings and webhook; {other} must change its own"),
        )),
        _ => Ok(()),
    }
}

/// Tells `org`'s administrators of a change to how it hears, on every channel.
async fn announce(
    tx: &DatabaseTransaction,
    about: &About,
    org: &str,
    message: &Message,
    now: DateTime<Utc>,
) -> Result<Vec<Outgoing>, ApiError> {
    let known = store::org(tx, org).await?;
    let org = known.unwrap_or_else(|| Org {
        id: org.to_owned(),
        name: org.to_owned(),
        place: None,
        roles: Default::default(),
    });
    notify(tx, about, now, recipients::administrators(&org), message).await.map_err(ApiError::unavailable)
}

/// An organisation's systems receive its notifications by HTTP POST, signed per Standard
/// Webhooks with the secret answered here once. The URL must pass the address policy
/// ([`channels::policy`]) with its host resolved now; it is checked again at each send. The
/// secret is stored sealed under `notify.secret_key`; without that key nothing is registered.
/// The organisation's administrators are told.
async fn register_webhook(
    ctx: &Context,
    call: &Call,
    body: api::RegisterWebhook,
) -> Result<api::WebhookRegistered, ApiError> {
    let about = About::command(call);
    own_org_only(body.org.as_ref(), &call.org)?;
    let key = webhook_key(ctx)?;
    let url = String::from(body.url);
    let policy = WebhookPolicy::from_settings(&ctx.settings.notify).map_err(ApiError::unavailable)?;
    if let Err(refused) = check_webhook_url(&policy, &url).await {
        let why = refused.text();
        return Err(ApiError::validation(vec![govshare_runtime::Problem::invalid("url", why.zh, why.en)]));
    }
    let host = reqwest::Url::parse(&url).ok().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_default();
    let secret = channels::webhook::Secret::generate();
    let row = store::entities::webhook::ActiveModel {
        org: Set(call.org.clone()),
        url: Set(url),
        secret: Set(key.seal(&call.org, &secret.to_string())),
        created_at: Set(ctx.clock.now()),
    };
    let tx = ctx.begin().await?;
    store::entities::webhook::Entity::delete_by_id(call.org.clone()).exec(&tx).await?;
    store::entities::webhook::Entity::insert(row).exec_without_returning(&tx).await?;
    let message = Message::WebhookRegistered { host, by: name_of(&tx, &call.org).await? };
    let out = announce(&tx, &about, &call.org, &message, ctx.clock.now()).await?;
    ctx.commit(tx, &out).await?;
    Ok(api::WebhookRegistered {
        org: call.org.clone(),
        secret: secret.to_string(),
        note: "keep the secret: it is shown once; verify each call's webhook-signature with it".into(),
    })
}

/// The key webhook secrets are sealed with; without one, webhooks cannot be registered.
fn webhook_key(ctx: &Context) -> Result<SecretKey, ApiError> {
    let missing = || {
        ApiError::with_text(
            govshare_runtime::reply::ErrorCode::Unavailable,
            "平台未配置回调密钥加密密钥（notify.secret_key），暂不能登记回调地址；请联系平台运维人员，未做任何更改",
            "webhooks cannot be registered: the platform has no key to encrypt their secrets with (notify.secret_key); ask the platform operators; nothing was changed",
        )
    };
    match SecretKey::from_settings(&ctx.settings.notify) {
        Ok(Some(key)) => Ok(key),
        Ok(None) => Err(missing()),
        Err(e) => {
            tracing::error!(error = %e, "notify.secret_key unusable");
            Err(missing())
        }
    }
}

/// The URL and every address its host resolves to now, under `policy`.
async fn check_webhook_url(policy: &WebhookPolicy, url: &str) -> Result<(), channels::policy::Refusal> {
    let target = policy.check_url(url)?;
    if let Host::Name(name) = &target.host {
        let answers: Vec<_> = tokio::net::lookup_host((name.as_str(), target.port))
            .await
            .map_err(|_| channels::policy::Refusal::NoAddress)?
            .collect();
        policy.check_addresses(&answers)?;
    }
    Ok(())
}

/// The organisation stops receiving webhooks; its administrators are told.
async fn remove_webhook(ctx: &Context, call: &Call, body: api::RemoveWebhook) -> Result<api::WebhookRemoved, ApiError> {
    let about = About::command(call);
    own_org_only(body.org.as_ref(), &call.org)?;
    let tx = ctx.begin().await?;
    let n = store::entities::webhook::Entity::delete_by_id(call.org.clone()).exec(&tx).await?.rows_affected;
    let mut out = Vec::new();
    if n == 1 {
        let message = Message::WebhookRemoved { by: name_of(&tx, &call.org).await? };
        out = announce(&tx, &about, &call.org, &message, ctx.clock.now()).await?;
    }
    ctx.commit(tx, &out).await?;
    Ok(api::WebhookRemoved { removed: n == 1 })
}

/// The organisation's email and webhook deliveries, newest first (`state`: pending, sent, dead).
async fn list_deliveries(ctx: &Context, call: &Call, body: api::ListDeliveries) -> Result<Value, ApiError> {
    use store::entities::delivery::{Column, Entity};
    let page = page(body.after.as_ref(), body.limit, &ctx.settings.calls)?;
    let mut q = Entity::find().filter(Column::Org.eq(&call.org));
    if let Some(s) = body.state {
        q = q.filter(Column::State.eq(s.as_str()));
    }
    // Newest first, by id (UUIDv7: the order they were made).
    if let Some(after) = page.after_id() {
        q = q.filter(Column::Id.lt(after));
    }
    let rows = q.order_by_desc(Column::Id).limit(page.fetch()).all(&ctx.db).await?;
    Ok(page.answer(
        "deliveries",
        rows,
        |r| vec![r.id.clone()],
        |r| {
            json!(api::Delivery {
                id: r.id,
                channel: r.channel,
                org: r.org,
                target: r.target,
                source_event: r.source_event,
                subject: r.subject,
                body: r.body,
                attempts: r.attempts,
                next_attempt_at: r.next_attempt_at,
                state: r.state,
                last_error: r.last_error,
                created_at: r.created_at,
            })
        },
    ))
}

/// An organisation reads its own notifications, optionally one recipient's, oldest first (by
/// id, UUIDv7), a page at a time.
async fn list_inbox(ctx: &Context, call: &Call, body: api::ListInbox) -> Result<Value, ApiError> {
    let page = page(body.after.as_ref(), body.limit, &ctx.settings.calls)?;
    let mut q = notification::Entity::find().filter(notification::Column::Org.eq(&call.org));
    if let Some(r) = body.recipient {
        q = q.filter(notification::Column::Recipient.eq(r.as_str()));
    }
    if body.unread_only.unwrap_or(false) {
        q = q.filter(notification::Column::ReadAt.is_null());
    }
    if let Some(after) = page.after_id() {
        q = q.filter(notification::Column::Id.gt(after));
    }
    let rows = q.order_by_asc(notification::Column::Id).limit(page.fetch()).all(&ctx.db).await?;
    Ok(page.answer(
        "notifications",
        rows,
        |r| vec![r.id.clone()],
        |r| {
            let text = serde_json::from_str::<Message>(&r.message).map(|m| m.render(call.lang)).unwrap_or_default();
            // A notification standing for more people than one event notifies one by one.
            let stored: Value = serde_json::from_str(&r.message).unwrap_or_default();
            let for_recipients = stored["for_recipients"].as_u64();
            let message = match (for_recipients, call.lang) {
                (None, _) => text,
                (Some(n), Lang::ZhCn) => format!("（致本单位 {n} 位接收人）{text}"),
                (Some(n), Lang::En) => format!("(for the {n} recipients in this organisation) {text}"),
            };
            json!(api::Notification {
                id: r.id,
                recipient: r.recipient,
                org: r.org,
                channel: r.channel,
                source_event: r.source_event,
                message,
                created_at: r.created_at,
                read_at: r.read_at,
                for_recipients,
            })
        },
    ))
}

async fn mark_read(ctx: &Context, call: &Call, body: api::MarkRead) -> Result<api::MarkedRead, ApiError> {
    let id = String::from(body.id);
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
    Ok(api::MarkedRead { id, read: true })
}

#[cfg(test)]
mod tests {
    use govshare_contract::calls::CallKind;
    use govshare_runtime::{
        EventMeta,
        envelope::EventPayload,
        events::{notify::NotificationStored, recall::RecallCompleted},
    };
    use sea_orm::TransactionTrait;

    use super::*;

    fn problems(kind: CallKind, name: &str, body: Value) -> Vec<String> {
        let err = govshare_runtime::calls::parse::<api::Call>(kind, name, &body).unwrap_err();
        let mut found: Vec<String> = err.problems.iter().map(|p| format!("{}:{}", p.field, p.code)).collect();
        found.sort();
        found
    }

    #[test]
    fn preferences_with_an_unknown_field_and_bad_fields_are_refused_with_every_problem_at_once() {
        // given preferences without an account, with an unknown channel, a language notify does
        // not speak and a field no call has; when they are read; then every problem is named
        let body = json!({"version": 1, "channels": ["inbox", "sms"], "lang": "fr", "digest": "yes", "phone": "1"});
        assert_eq!(
            problems(CallKind::Command, "set_preferences", body),
            ["account:required", "channels[1]:invalid", "digest:invalid", "lang:invalid", "phone:unknown_field"]
        );
        let body = json!({"version": 1, "state": "lost", "limit": "ten"});
        assert_eq!(problems(CallKind::Query, "list_deliveries", body), ["limit:invalid", "state:invalid"]);
    }

    async fn handled(handler: &dyn EventHandler, event: &Envelope) -> Result<Vec<Outgoing>, HandleError> {
        let db = govshare_runtime::store::connect_and_migrate::<store::Migrator>("sqlite::memory:", 1).await.unwrap();
        let tx = db.begin().await.unwrap();
        handler.handle(&tx, event, Utc::now()).await
    }

    fn envelope_of(event_type: String) -> Envelope {
        let e = RecallCompleted { recall_id: "r1".into(), entry_id: "e1".into(), holders: 0, at: Utc::now() };
        let mut env = Envelope::new(uuid::Uuid::now_v7(), &e, &EventMeta::default(), Utc::now());
        env.event_type = event_type;
        env
    }

    #[tokio::test]
    async fn each_consumer_dead_letters_an_unknown_version_of_what_it_handles_and_ignores_the_rest() {
        let unknown = |t: String| envelope_of(t.replace(".v1", ".v2"));
        let cases: [(&dyn EventHandler, Envelope); 4] = [
            (&Directory, unknown(RolesChanged::event_type())),
            (&DutyEvents, unknown(DutyBreached::event_type())),
            (&RequestEvents, unknown(GrantEnded::event_type())),
            (&RecallEvents, unknown(DestructionOrdered::event_type())),
        ];
        for (handler, event) in cases {
            // given a kind it handles in a version this build does not know: refused, permanently
            assert!(matches!(handled(handler, &event).await, Err(HandleError::Permanent(_))), "{}", event.event_type);
            // given a kind it does not handle: nothing happens
            let other = envelope_of(NotificationStored::event_type());
            assert_eq!(handled(handler, &other).await.unwrap(), vec![]);
        }
    }
}
