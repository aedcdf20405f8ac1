//! Calls and events -> parse -> decide -> store + outbox, in one transaction.

use chrono::{DateTime, Utc};
use govshare_shared::{
    ApiError, Context, Envelope, Outgoing, Service,
    app::Call,
    async_trait,
    bus::CallKind,
    duty,
    events::catalog::{EntryPublished, EntryWithdrawn},
    inbox::{self, EventHandler, HandleError},
};
use sea_orm::{ColumnTrait, Condition, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::{
    domain::{self, SubmitRequest},
    store::{self, entities},
};

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    match (call.kind, call.name.as_str()) {
        (CallKind::Command, "submit_request") => submit_request(ctx, call).await,
        (CallKind::Query, "get_request") => get_request(ctx, call).await,
        (CallKind::Query, "list_requests") => list_requests(ctx, call).await,
        _ => Err(call.unknown()),
    }
}

async fn submit_request(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let entry_id = f.required_str("entry_id");
    let purpose = f.optional_str("purpose");
    f.finish()?;
    let cmd = SubmitRequest { entry_id: entry_id.expect("checked"), purpose };
    let purpose = cmd.purpose.clone();
    let now = ctx.clock.now();
    let tx = ctx.begin().await?;
    let entry = store::entry(&tx, &cmd.entry_id).await?;
    let (submitted, open) =
        domain::decide_submit(&call.org, entry.as_ref(), cmd, uuid::Uuid::now_v7().to_string(), now)?;
    store::insert_request(&tx, &submitted, purpose).await?;
    let outgoing =
        [Outgoing::event(&submitted, &call.meta, now), duty::message(&open, Service::Requests, &call.meta, now)];
    ctx.commit(tx, &outgoing).await?;
    Ok(json!({"request_id": submitted.request_id, "reply_duty_id": submitted.reply_duty_id}))
}

/// Who may read a request: its requester and its provider.
async fn get_request(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    let mut f = call.fields;
    let id = f.required_str("id");
    f.finish()?;
    let id = id.expect("checked");
    let row = entities::request::Entity::find_by_id(id.clone()).one(&ctx.db).await?;
    match row {
        Some(r) if r.requester == call.org || r.provider == call.org => Ok(json!(r)),
        _ => Err(ApiError::not_found("request", &id)),
    }
}

async fn list_requests(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    call.fields.finish()?;
    use entities::request::Column;
    let rows = entities::request::Entity::find()
        .filter(Condition::any().add(Column::Requester.eq(&call.org)).add(Column::Provider.eq(&call.org)))
        .order_by_asc(Column::Id)
        .all(&ctx.db)
        .await?;
    Ok(json!({"requests": rows}))
}

/// Keeps the catalog read model.
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
        }
        Ok(Vec::new())
    }
}
