//! Catalog and requests events -> read models; recalls, receipts and reports.

use chrono::{DateTime, Utc};
use govshare_runtime::{
    ApiError, Context, Envelope, ErrorCode, EventMeta, Outgoing, Problem, Service,
    app::Call,
    async_trait,
    bus::{CallKind, PLATFORM_ORG},
    duty::{About, CloseDuty, Closure, Duty, OpenDuty, Term},
    events::{
        catalog::EntryPublished,
        recall::{DestructionOrdered, DestructionReceipted, RecallCompleted, RecallStarted},
        requests::{DataDelivered, GrantEnded},
    },
    inbox::{self, EventHandler, HandleError},
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
    store::{self, entities::entry},
};

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
        if let Some(e) = inbox::decode_if::<EntryPublished>(event)? {
            store::apply_published(tx, &e).await?;
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
        if let Some(e) = inbox::decode_if::<DataDelivered>(event)? {
            store::record_delivery(tx, &e.request_id, &e.entry_id, &e.requester, e.entry_version).await?;
            return Ok(Vec::new());
        }
        let Some(e) = inbox::decode_if::<GrantEnded>(event)? else { return Ok(Vec::new()) };
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
        Ok(start(tx, id, &e.entry_id, &e.provider, scope, reason, self.receipt_days, &meta, now).await?)
    }
}

/// Starts a recall: resolves the holders, records it, and announces the orders with their
/// receipt duties.
#[allow(clippy::too_many_arguments)]
async fn start(
    db: &impl ConnectionTrait,
    id: String,
    entry_id: &str,
    provider: &str,
    scope: Scope,
    reason: String,
    receipt_days: u32,
    meta: &EventMeta,
    now: DateTime<Utc>,
) -> Result<Vec<Outgoing>, DbErr> {
    let (grants, lineage) = store::holders_graph(db).await?;
    let orders = recall::holders(entry_id, &scope, provider, &grants, &lineage);
    let r = Recall::start(id, entry_id, provider, scope, reason, orders, now);
    store::save_recall(db, &r, Read::New).await?;
    let mut out = vec![Outgoing::event(
        &RecallStarted {
            recall_id: r.id.clone(),
            entry_id: r.entry_id.clone(),
            provider: r.provider.clone(),
            scope: serde_json::to_value(&r.scope).expect("scopes serialize"),
            reason: r.reason.clone(),
            holders: r.orders.len(),
            at: now,
        },
        meta,
        now,
    )];
    let scope_text = r.scope.text();
    for o in &r.orders {
        let open = OpenDuty {
            duty: Duty {
                duty_id: o.duty_id.clone(),
                article: 29,
                holder: o.holder.clone(),
                about: About { kind: "recall".into(), id: r.id.clone() },
                title: Text::new(
                    format!("销毁召回数据并提交销毁回执（召回 {}）", r.id),
                    format!("destroy the recalled data and send the receipt (recall {})", r.id),
                ),
            },
            term: Term::WorkingDays { days: receipt_days, from: now },
            opened_by: Service::Recall,
        };
        out.push(Outgoing::duty(&open, Service::Recall, meta, now));
        let ordered = DestructionOrdered {
            recall_id: r.id.clone(),
            holder: o.holder.clone(),
            entry_id: r.entry_id.clone(),
            scope: scope_text.clone(),
            reason: r.reason.clone(),
            via: o.via.clone(),
            duty_id: o.duty_id.clone(),
            due_at: None,
            at: now,
        };
        out.push(Outgoing::event(&ordered, meta, now));
    }
    if r.completed_at.is_some() {
        let done = RecallCompleted { recall_id: r.id.clone(), entry_id: r.entry_id.clone(), holders: 0, at: now };
        out.push(Outgoing::event(&done, meta, now));
    }
    Ok(out)
}

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    match (call.kind, call.name.as_str()) {
        (CallKind::Command, "recall") => recall_data(ctx, call).await,
        (CallKind::Command, "submit_receipt") => submit_receipt(ctx, call).await,
        (CallKind::Query, "get_recall") => get_recall(ctx, call).await,
        (CallKind::Query, "list_recalls") => list_recalls(ctx, call).await,
        (CallKind::Query, "recall_report") => recall_report(ctx, call).await,
        (CallKind::Query, "list_entries") => {
            // The entries recall knows, by id, a page at a time.
            let mut f = call.fields;
            let provider = f.optional_str("provider");
            let page = Page::read(&mut f, &ctx.settings.calls, 1);
            f.finish()?;
            let mut q = entry::Entity::find().order_by_asc(entry::Column::EntryId).limit(page.fetch());
            if let Some(p) = provider {
                q = q.filter(entry::Column::Provider.eq(p));
            }
            if let Some(after) = page.after_id() {
                q = q.filter(entry::Column::EntryId.gt(after));
            }
            let rows = q.all(&ctx.db).await?;
            Ok(page.answer("entries", rows, |r| vec![r.entry_id.clone()], |r| json!(r)))
        }
        (CallKind::Query, "get_entry") => {
            let mut f = call.fields;
            let id = f.required_str("id");
            f.finish()?;
            let id = id.expect("checked");
            let row = entry::Entity::find_by_id(id.clone()).one(&ctx.db).await?;
            Ok(json!(row.ok_or_else(|| ApiError::not_found("entry", &id))?))
        }
        _ => Err(call.unknown()),
    }
}

/// A provider recalls an entry, a version or records.
async fn recall_data(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let entry_id = f.required_str("entry_id");
    let reason = f.required_str("reason");
    let scope: Option<Scope> = f.optional("scope");
    if let Some(Scope::Grant { .. }) = scope {
        f.problem(Problem::invalid("scope", "应为 entry、version 或 records", "expected entry, version or records"));
    }
    if let Some(Scope::Records { keys }) = &scope
        && keys.is_empty()
    {
        f.problem(Problem::required("scope.keys"));
    }
    let tx = ctx.begin().await?;
    let entry = match &entry_id {
        Some(id) => entry::Entity::find_by_id(id.clone()).one(&tx).await?,
        None => None,
    };
    if let (Some(id), None) = (&entry_id, &entry) {
        f.problem(Problem::new(
            "entry_id",
            "unknown",
            Text::new(format!("目录 {id} 未发布"), format!("entry {id} is not published")),
        ));
    }
    f.finish()?;
    let entry = entry.expect("checked");
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
    let scope = scope.unwrap_or(Scope::Entry);
    let out = start(
        &tx,
        id.clone(),
        &entry.entry_id,
        &entry.provider,
        scope,
        reason.expect("checked"),
        days,
        &call.meta,
        now,
    )
    .await?;
    ctx.commit(tx, &out).await?;
    let r = store::recall(&ctx.db, &id).await?.expect("just saved");
    Ok(summary(&r))
}

/// Most holders named in an answer; the rest are in `get_recall` and the report, by page.
const NAMED: usize = 100;

fn summary(r: &Recall) -> Value {
    let holders: Vec<_> = r.orders.iter().take(NAMED).map(|o| &o.holder).collect();
    json!({"recall_id": r.id, "entry_id": r.entry_id, "holder_count": r.orders.len(), "holders": holders,
           "complete": r.completed_at.is_some(), "outstanding": r.outstanding().len()})
}

/// A holder's destruction receipt: refused if it was never ordered, or sent twice.
async fn submit_receipt(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("recall_id");
    let scope = f.required_str("scope");
    let method = f.required_str("method");
    let destroyed_at: Option<DateTime<Utc>> = f.required_instant("destroyed_at");
    let operator = f.required_str("operator");
    let content_hash = f.required_str("content_hash");
    f.finish()?;
    let id = id.expect("checked");
    let receipt = Receipt {
        scope: scope.expect("checked"),
        method: method.expect("checked"),
        destroyed_at: destroyed_at.expect("checked"),
        operator: operator.expect("checked"),
        content_hash: content_hash.expect("checked"),
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
) -> Result<Result<Value, ApiError>, govshare_runtime::revision::Conflict> {
    let attempt = async {
        let now = ctx.clock.now();
        let tx = ctx.begin().await?;
        let (mut r, read) = store::recall_at(&tx, id).await?.ok_or_else(|| ApiError::not_found("recall", id))?;
        let completed = r.receive(org, receipt.clone()).map_err(|e| match e {
            ReceiptError::NotOrdered(ref org) => ApiError::with_text(
                ErrorCode::Forbidden,
                format!("{org} 未被要求在此次召回中销毁数据，回执不予接收"),
                e.to_string(),
            ),
            ReceiptError::AlreadyReceipted(ref org) => {
                ApiError::with_text(ErrorCode::Conflict, format!("{org} 已提交销毁回执"), e.to_string())
            }
        })?;
        match store::save_recall(&tx, &r, read).await {
            Err(govshare_runtime::revision::SaveError::Conflict(lost)) => return Ok(Err(lost)),
            other => other?,
        }
        let order = r.orders.iter().find(|o| o.holder == org).expect("received");
        let receipted = DestructionReceipted {
            recall_id: r.id.clone(),
            holder: org.to_owned(),
            scope: receipt.scope,
            method: receipt.method,
            destroyed_at: receipt.destroyed_at,
            operator: receipt.operator,
            content_hash: receipt.content_hash,
            at: now,
        };
        let close = CloseDuty {
            duty_id: order.duty_id.clone(),
            closure: Closure::Fulfilled,
            reason: "destruction receipt".into(),
            at: now,
        };
        let mut out = vec![Outgoing::event(&receipted, meta, now), Outgoing::duty(&close, Service::Recall, meta, now)];
        if completed {
            let done = RecallCompleted {
                recall_id: r.id.clone(),
                entry_id: r.entry_id.clone(),
                holders: r.orders.len(),
                at: now,
            };
            out.push(Outgoing::event(&done, meta, now));
        }
        ctx.commit(tx, &out).await?;
        Ok::<_, ApiError>(Ok(summary(&r)))
    };
    match attempt.await {
        Ok(Ok(answer)) => Ok(Ok(answer)),
        Ok(Err(lost)) => Err(lost),
        Err(refused) => Ok(Err(refused)),
    }
}

/// Orders (and report rows) in one answer; `offset` pages on.
const PAGE: usize = 1_000;

/// The provider, the platform and the holders of a recall see it.
fn may_see(r: &Recall, org: &str) -> bool {
    org == r.provider || org == PLATFORM_ORG || r.orders.iter().any(|o| o.holder == org)
}

async fn get_recall(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("id");
    f.finish()?;
    let id = id.expect("checked");
    let r = store::recall(&ctx.db, &id)
        .await?
        .filter(|r| may_see(r, &call.org))
        .ok_or_else(|| ApiError::not_found("recall", &id))?;
    let outstanding: Vec<Value> = r
        .outstanding()
        .iter()
        .map(|o| json!({"holder": o.holder, "since": o.ordered_at, "duty_id": o.duty_id}))
        .collect();
    let mut v = json!(r);
    v["outstanding"] = json!(outstanding);
    Ok(v)
}

/// The caller's recalls (the platform: all), newest first by id (UUIDv7: the order they
/// started), a page at a time.
async fn list_recalls(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let page = Page::read(&mut f, &ctx.settings.calls, 1);
    f.finish()?;
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
        |r| json!({"recall_id": r.id, "entry_id": r.entry_id, "completed": r.completed, "started_at": r.started_at}),
    ))
}

/// One line per holder: order, receipt, outstanding; as JSON rows or CSV text.
async fn recall_report(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("id");
    let format = f.optional_str("format").unwrap_or_else(|| "json".into());
    // A page of rows: a report of 100,000 holders does not fit one answer.
    let offset: usize = f.optional("offset").unwrap_or(0);
    let limit: usize = f.optional::<usize>("limit").unwrap_or(PAGE).min(PAGE);
    if format != "json" && format != "csv" {
        f.problem(Problem::invalid("format", "应为 json 或 csv", "expected json or csv"));
    }
    f.finish()?;
    let id = id.expect("checked");
    let r = store::recall(&ctx.db, &id)
        .await?
        .filter(|r| may_see(r, &call.org))
        .ok_or_else(|| ApiError::not_found("recall", &id))?;
    let rows: Vec<_> = recall::report(&r).into_iter().skip(offset).take(limit).collect();
    Ok(match format.as_str() {
        "csv" => json!({"recall_id": r.id, "format": "csv", "csv": recall::report_csv(&rows)}),
        _ => json!({"recall_id": r.id, "format": "json", "complete": r.completed_at.is_some(), "rows": rows}),
    })
}
