//! Catalog events -> read model; queries on it.

use chrono::{DateTime, Utc};
use govshare_shared::{
    ApiError, Context, Envelope, Outgoing,
    app::Call,
    async_trait,
    bus::CallKind,
    events::catalog::EntryPublished,
    inbox::{self, EventHandler, HandleError},
};
use sea_orm::{ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};

use crate::store::{self, entities::entry};

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

#[tracing::instrument(skip_all, fields(call = %call.name, org = %call.org))]
pub async fn call(ctx: &Context, call: Call) -> Result<Value, ApiError> {
    match (call.kind, call.name.as_str()) {
        (CallKind::Query, "list_entries") => {
            let mut f = call.fields;
            let provider = f.optional_str("provider");
            f.finish()?;
            let mut q = entry::Entity::find().order_by_asc(entry::Column::EntryId);
            if let Some(p) = provider {
                q = q.filter(entry::Column::Provider.eq(p));
            }
            Ok(json!({"entries": q.all(&ctx.db).await?}))
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
