//! Catalog and requests events -> read models; recalls, receipts and reports.

use chrono::{DateTime, Utc};
use govshare_contract::{
    api::recall::{self as api, Call as RecallCall},
    envelope::{Decoded, EventSet},
};
use govshare_runtime::{
    ApiError, Context, Envelope, ErrorCode, EventMeta, Outgoing, Problem, Service,
    app::Call,
    async_trait,
    bus::PLATFORM_ORG,
    config::CallSettings,
    events::{
        catalog::EntryPublished,
        recall::Emitted,
        requests::{DataDelivered, GrantEnded},
    },
    inbox::{EventHandler, HandleError},
    outbox::Decision,
    page::Page,
    reply::Text,
    revision::Read,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::{Value, json};

use crate::{
    domain::recall::{self, Recall, Receipt, ReceiptError, Scope},
    issuer::{self, Issuer},
    store::{self, entities::entry},
};

govshare_contract::events! {
    /// What the catalog consumer handles.
    pub enum FromCatalog {
        EntryPublished(EntryPublished),
    }
}

govshare_contract::events! {
    /// What the requests consumer handles.
    pub enum FromRequests {
        DataDelivered(DataDelivered),
        GrantEnded(GrantEnded),
    }
}

/// Keeps the catalog read model.
pub struct CatalogEntries;

#[async_trait]
impl EventHandler for CatalogEntries {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        _now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        match FromCatalog::decode(event) {
            Decoded::Event(FromCatalog::EntryPublished(e)) => store::apply_published(tx, &e).await?,
            Decoded::Other => {}
            Decoded::Refused(why) => return Err(HandleError::Permanent(why)),
        }
        Ok(Vec::new())
    }
}

/// Keeps the grants that received data, and orders destruction when a grant ends.
pub struct RequestEvents {
    pub receipt_days: u32,
}

#[async_trait]
impl EventHandler for RequestEvents {
    async fn handle(
        &self,
        tx: &DatabaseTransaction,
        event: &Envelope,
        now: DateTime<Utc>,
    ) -> Result<Vec<Outgoing>, HandleError> {
        let e = match FromRequests::decode(event) {
            Decoded::Event(FromRequests::DataDelivered(e)) => {
                store::record_delivery(tx, &e.request_id, &e.entry_id, &e.requester, e.entry_version).await?;
                return Ok(Vec::new());
            }
            Decoded::Event(FromRequests::GrantEnded(e)) => e,
            Decoded::Other => return Ok(Vec::new()),
            Decoded::Refused(why) => return Err(HandleError::Permanent(why)),
        };
        // The grant's end orders destruction by itself (Art. 27: the data is disposed of as
        // the provider requires): one order, to the grant's holder. The recall id is the
        // event's, so a redelivered end cannot order twice.
        let scope = Scope::Grant { request_id: e.request_id.clone() };
        // The order's reason is read by the holder's people: in words, not internals.
        let reason = format!("共享授权结束：{}（{}）", e.end.text().zh, e.reason);
        let meta = govshare_runtime::telemetry::caused_by(event);
        let id = format!("end-{}", e.request_id);
        if store::recall(tx, &id).await?.is_some() {
            return Ok(Vec::new());
        }
        // One holder at most: issued whole, in the event's own transaction.
        let (r, decision) = started(tx, id, &e.entry_id, &e.provider, scope, reason, now).await?;
        let mut out = decision.outgoing(Service::Recall, &meta, now);
        let issue = recall::issue(&r, self.receipt_days, 0..recall::issue_len(&r));
        out.extend(issue.outgoing(Service::Recall, &meta, now));
        Ok(out)
    }
}

/// Starts a recall: resolves the holders and records it with an order for each; says it
/// started. Its orders are issued after ([`recall::issue`]).
async fn started(
    db: &impl ConnectionTrait,
    id: String,
    entry_id: &str,
    provider: &str,
    scope: Scope,
    reason: String,
    now: DateTime<Utc>,
) -> Result<(Recall, Decision<Emitted>), DbErr> {
    let (grants, lineage) = store::holders_graph(db).await?;
    let orders = recall::holders(entry_id, &scope, provider, &grants, &lineage);
    drop((grants, lineage));
    let start =
        recall::Start { id, entry_id: entry_id.to_owned(), provider: provider.to_owned(), scope, reason, orders };
    let (r, decision) = recall::start(start, now);
    store::save_recall(db, &r, Read::New).await?;
    Ok((r, decision))
}

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    match call.parse::<RecallCall>()? {
        RecallCall::Recall(body) => Ok(answer(recall_data(ctx, &call, body).await?)),
        RecallCall::SubmitReceipt(body) => Ok(answer(submit_receipt(ctx, &call, body).await?)),
        RecallCall::GetRecall(body) => Ok(answer(get_recall(ctx, &call, body).await?)),
        RecallCall::ListRecalls(body) => list_recalls(ctx, &call, body).await,
        RecallCall::RecallReport(body) => Ok(answer(recall_report(ctx, &call, body).await?)),
        RecallCall::ListEntries(body) => list_entries(ctx, body).await,
        RecallCall::GetEntry(api::ById { id }) => {
            let row = entry::Entity::find_by_id(id.to_string()).one(&ctx.db).await?;
            Ok(answer(entry_of(row.ok_or_else(|| ApiError::not_found("entry", &id))?)))
        }
    }
}

/// The JSON of an answer.
fn answer<T: serde::Serialize>(t: T) -> Value {
    serde_json::to_value(t).expect("answers serialize")
}

/// A page of a list, as asked for by `after` and `limit` (see `govshare_runtime::page`).
fn page(
    after: Option<&api::Cursor>,
    limit: Option<u64>,
    settings: &CallSettings,
    parts: usize,
) -> Result<Page, ApiError> {
    Page::new(after.map(|a| a.as_str()), limit, settings, parts)
}

fn entry_of(row: entry::Model) -> api::Entry {
    api::Entry {
        derived_from: serde_json::from_str(&row.derived_from).unwrap_or_default(),
        entry_id: row.entry_id,
        version: row.version,
        name: row.name,
        provider: row.provider,
        published_at: row.published_at,
    }
}

/// The entries recall knows, by id, a page at a time.
async fn list_entries(ctx: &Context, body: api::ListEntries) -> Result<Value, ApiError> {
    let page = page(body.after.as_ref(), body.limit, &ctx.settings.calls, 1)?;
    let mut q = entry::Entity::find().order_by_asc(entry::Column::EntryId).limit(page.fetch());
    if let Some(p) = body.provider {
        q = q.filter(entry::Column::Provider.eq(p.as_str()));
    }
    if let Some(after) = page.after_id() {
        q = q.filter(entry::Column::EntryId.gt(after));
    }
    let rows = q.all(&ctx.db).await?;
    Ok(page.answer("entries", rows, |r| vec![r.entry_id.clone()], |r| json!(entry_of(r))))
}

/// A provider recalls an entry, a version or records.
async fn recall_data(ctx: &Context, call: &Call, body: api::StartRecall) -> Result<api::RecallSummary, ApiError> {
    let tx = ctx.begin().await?;
    let Some(entry) = entry::Entity::find_by_id(body.entry_id.to_string()).one(&tx).await? else {
        let id = &body.entry_id;
        return Err(ApiError::validation(vec![Problem::new(
            "entry_id",
            "unknown",
            Text::new(format!("目录 {id} 未发布"), format!("entry {id} is not published")),
        )]));
    };
    if entry.provider != call.org {
        return Err(ApiError::with_text(
            ErrorCode::Forbidden,
            "仅提供部门可召回其数据",
            "only the provider recalls its data",
        ));
    }
    let now = ctx.clock.now();
    let id = uuid::Uuid::now_v7().to_string();
    let days = ctx.settings.recall.receipt_working_days;
    let scope = body.scope.map_or(Scope::Entry, Scope::from);
    let (r, decision) = started(&tx, id, &entry.entry_id, &entry.provider, scope, body.reason.into(), now).await?;
    let issue = issuer::new_issue(&r, days, &call.meta);
    store::open_issue(&tx, &issue, issuer::lease_until(now)).await?;
    ctx.commit(tx, &decision.outgoing(Service::Recall, &call.meta, now)).await?;
    drop(decision);
    // The recall stands from here: its orders go out a stretch at a time, and a stretch that
    // fails is left to the issuer's sweep (on any replica) once its lease runs out.
    if let Err(err) = Issuer::of(ctx).issue(&r, &issue, 0).await {
        tracing::warn!(recall_id = %r.id, error = %err, "issuing a recall stopped; the sweep goes on with it");
    }
    Ok(summary(&r))
}

/// Most holders named in an answer; the rest are in `get_recall` and the report, by page.
const NAMED: usize = 100;

fn summary(r: &Recall) -> api::RecallSummary {
    api::RecallSummary {
        recall_id: r.id.clone(),
        entry_id: r.entry_id.clone(),
        holder_count: r.orders.len(),
        holders: r.orders.iter().take(NAMED).map(|o| o.holder.clone()).collect(),
        complete: r.is_complete(),
        outstanding: r.outstanding().len(),
    }
}

/// A holder's destruction receipt: refused if it was never ordered, or sent twice.
async fn submit_receipt(ctx: &Context, call: &Call, body: api::SubmitReceipt) -> Result<api::RecallSummary, ApiError> {
    let id = body.recall_id.to_string();
    let receipt = Receipt {
        scope: body.scope.into(),
        method: body.method.into(),
        destroyed_at: body.destroyed_at.get(),
        operator: body.operator.into(),
        content_hash: body.content_hash.into(),
        received_at: ctx.clock.now(),
    };
    // Holders send their receipts independently, so two at once on one recall do not contend
    // for anything a holder would want to know about: the one that lost the race is taken
    // again once on the fresh recall (issue 13 item 1) rather than answered `conflict`.
    match receive(ctx, &call.org, &call.meta, &id, receipt.clone()).await {
        Ok(answer) => answer,
        Err(_) => match receive(ctx, &call.org, &call.meta, &id, receipt).await {
            Ok(answer) => answer,
            Err(lost) => Err(lost.into()),
        },
    }
}

/// One attempt at recording `org`'s receipt: `Err` when another receipt was saved between its
/// read and its write (nothing written), else the answer.
async fn receive(
    ctx: &Context,
    org: &str,
    meta: &EventMeta,
    id: &str,
    receipt: Receipt,
) -> Result<Result<api::RecallSummary, ApiError>, govshare_runtime::revision::Conflict> {
    let attempt = async {
        let now = ctx.clock.now();
        let tx = ctx.begin().await?;
        let (r, read) = store::recall_at(&tx, id).await?.ok_or_else(|| ApiError::not_found("recall", id))?;
        // How far its issue is out (read after the recall): a duty counted here is open.
        let issued = store::issued(&tx, id).await?.unwrap_or_else(|| recall::issue_len(&r));
        let decision = recall::receive(&r, org, receipt, issued).map_err(|e| match e {
            ReceiptError::NotOrdered(ref org) => ApiError::with_text(
                ErrorCode::Forbidden,
                format!("{org} 未被要求在此次召回中销毁数据，回执不予接收"),
                e.to_string(),
            ),
            ReceiptError::AlreadyReceipted(ref org) => {
                ApiError::with_text(ErrorCode::Conflict, format!("{org} 已提交销毁回执"), e.to_string())
            }
            ReceiptError::NotYetIssued(ref org) => ApiError::with_text(
                ErrorCode::Unavailable,
                format!("召回仍在下达中，{org} 的回执义务尚未开启，请稍后重试"),
                e.to_string(),
            ),
        })?;
        let r = decision.events.iter().fold(r, recall::evolve);
        match store::save_recall(&tx, &r, read).await {
            Err(govshare_runtime::revision::SaveError::Conflict(lost)) => return Ok(Err(lost)),
            other => other?,
        }
        ctx.commit(tx, &decision.outgoing(Service::Recall, meta, now)).await?;
        Ok::<_, ApiError>(Ok(summary(&r)))
    };
    match attempt.await {
        Ok(Ok(answer)) => Ok(Ok(answer)),
        Ok(Err(lost)) => Err(lost),
        Err(refused) => Ok(Err(refused)),
    }
}

/// Orders (and report rows) in one answer; `offset` pages on.
const PAGE: u64 = 1_000;

/// The provider, the platform and the holders of a recall see it.
fn may_see(r: &Recall, org: &str) -> bool {
    org == r.provider || org == PLATFORM_ORG || r.orders.iter().any(|o| o.holder == org)
}

/// The recall `id`, if `org` may see it.
async fn visible_recall(ctx: &Context, org: &str, id: &api::Id) -> Result<Recall, ApiError> {
    store::recall(&ctx.db, id).await?.filter(|r| may_see(r, org)).ok_or_else(|| ApiError::not_found("recall", id))
}

async fn get_recall(ctx: &Context, call: &Call, body: api::ById) -> Result<api::RecallView, ApiError> {
    let r = visible_recall(ctx, &call.org, &body.id).await?;
    let outstanding = r
        .outstanding()
        .iter()
        .map(|o| api::Outstanding { holder: o.holder.clone(), since: o.ordered_at, duty_id: o.duty_id.clone() })
        .collect();
    Ok(api::RecallView {
        completed_at: r.progress.completed_at(),
        orders: r
            .orders
            .into_iter()
            .map(|o| api::OrderView {
                holder: o.holder,
                via: o.via,
                duty_id: o.duty_id,
                ordered_at: o.ordered_at,
                receipt: o.receipt,
            })
            .collect(),
        outstanding,
        id: r.id,
        entry_id: r.entry_id,
        provider: r.provider,
        scope: r.scope,
        reason: r.reason,
        started_at: r.started_at,
    })
}

/// The caller's recalls (the platform: all), newest first by id (UUIDv7: the order they
/// started), a page at a time.
async fn list_recalls(ctx: &Context, call: &Call, body: api::ListRecalls) -> Result<Value, ApiError> {
    let page = page(body.after.as_ref(), body.limit, &ctx.settings.calls, 1)?;
    use store::entities::recall::{Column, Entity};
    let mut q = Entity::find().order_by_desc(Column::Id).limit(page.fetch());
    if call.org != PLATFORM_ORG {
        q = q.filter(Column::Provider.eq(&call.org));
    }
    if let Some(after) = page.after_id() {
        q = q.filter(Column::Id.lt(after));
    }
    let rows = q.all(&ctx.db).await?;
    Ok(page.answer(
        "recalls",
        rows,
        |r| vec![r.id.clone()],
        |r| {
            json!(api::RecallLine {
                recall_id: r.id,
                entry_id: r.entry_id,
                completed: r.completed,
                started_at: r.started_at
            })
        },
    ))
}

/// One line per holder: order, receipt, outstanding; as JSON rows or CSV text, a page at a
/// time (a report of 100,000 holders does not fit one answer).
async fn recall_report(
    ctx: &Context,
    call: &Call,
    body: api::RecallReportQuery,
) -> Result<api::RecallReport, ApiError> {
    let offset = body.offset.unwrap_or(0) as usize;
    let limit = body.limit.unwrap_or(PAGE).min(PAGE) as usize;
    let r = visible_recall(ctx, &call.org, &body.id).await?;
    let rows: Vec<_> = recall::report(&r).into_iter().skip(offset).take(limit).collect();
    Ok(match body.format {
        api::ReportFormat::Csv => api::RecallReport::Csv { recall_id: r.id, csv: recall::report_csv(&rows) },
        api::ReportFormat::Json => api::RecallReport::Json { complete: r.is_complete(), recall_id: r.id, rows },
    })
}

#[cfg(test)]
mod tests {
    use govshare_contract::calls::CallKind;
    use govshare_runtime::{envelope::EventPayload, events::recall::RecallCompleted};
    use sea_orm::TransactionTrait;

    use super::*;

    fn problems(kind: CallKind, name: &str, body: Value) -> Vec<String> {
        let err = govshare_runtime::calls::parse::<RecallCall>(kind, name, &body).unwrap_err();
        let mut found: Vec<String> = err.problems.iter().map(|p| format!("{}:{}", p.field, p.code)).collect();
        found.sort();
        found
    }

    #[test]
    fn a_receipt_with_an_unknown_field_and_bad_fields_is_refused_with_every_problem_at_once() {
        // given a receipt missing its operator, with a blank method, a date out of range and a
        // field no receipt has; when it is read; then every problem is named at its field
        let body = json!({"version": 1, "recall_id": "r1", "scope": "all", "method": "  ",
                          "destroyed_at": "1999-01-01T00:00:00Z", "content_hash": "sha256:x", "colour": "red"});
        assert_eq!(
            problems(CallKind::Command, "submit_receipt", body),
            ["colour:unknown_field", "destroyed_at:out_of_range", "method:required", "operator:required"]
        );
    }

    #[test]
    fn a_recall_of_a_grant_or_of_no_records_is_refused() {
        let grant =
            json!({"version": 1, "entry_id": "e1", "reason": "r", "scope": {"kind": "grant", "request_id": "q"}});
        assert!(!problems(CallKind::Command, "recall", grant).is_empty());
        let none = json!({"version": 1, "entry_id": "e1", "reason": "r", "scope": {"kind": "records", "keys": []}});
        assert_eq!(problems(CallKind::Command, "recall", none), ["scope.keys:too_few"]);
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
    async fn a_consumer_dead_letters_an_unknown_version_of_what_it_handles_and_ignores_the_rest() {
        let requests = RequestEvents { receipt_days: 5 };
        // given a grant's end in a version this build does not know: refused, permanently
        let v2 = envelope_of(GrantEnded::event_type().replace(".v1", ".v2"));
        assert!(matches!(handled(&requests, &v2).await, Err(HandleError::Permanent(_))));
        let v2 = envelope_of(EntryPublished::event_type().replace(".v1", ".v2"));
        assert!(matches!(handled(&CatalogEntries, &v2).await, Err(HandleError::Permanent(_))));
        // given a kind it does not handle: nothing happens
        let other = envelope_of(RecallCompleted::event_type());
        assert_eq!(handled(&requests, &other).await.unwrap(), vec![]);
        assert_eq!(handled(&CatalogEntries, &other).await.unwrap(), vec![]);
    }
}
