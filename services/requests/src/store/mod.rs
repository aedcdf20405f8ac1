//! The requests service's own database.

pub mod entities;
mod m20261123_200001_create_requests;

use govshare_shared::events::{ShareType, catalog::EntryPublished, requests::RequestSubmitted};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set,
    sea_query::{ExprTrait, OnConflict},
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

use crate::domain::EntryView;

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut m = govshare_shared::store::shared_migrations();
        m.push(Box::new(m20261123_200001_create_requests::Migration));
        m
    }
}

fn enum_str<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn parse_enum<T: serde::de::DeserializeOwned>(s: &str) -> Result<T, DbErr> {
    serde_json::from_value(serde_json::Value::String(s.to_owned()))
        .map_err(|e| DbErr::Custom(format!("stored {s}: {e}")))
}

pub async fn entry(db: &impl ConnectionTrait, id: &str) -> Result<Option<EntryView>, DbErr> {
    let Some(row) = entities::entry::Entity::find_by_id(id.to_owned()).one(db).await? else { return Ok(None) };
    Ok(Some(EntryView {
        share_type: parse_enum::<ShareType>(&row.share_type)?,
        entry_id: row.entry_id,
        name: row.name,
        provider: row.provider,
    }))
}

/// Keeps the read model at the newest published version.
pub async fn upsert_entry(db: &impl ConnectionTrait, published: &EntryPublished) -> Result<(), DbErr> {
    use entities::entry::{ActiveModel, Column, Entity};
    let e = &published.entry;
    let row = ActiveModel {
        entry_id: Set(e.entry_id.clone()),
        version: Set(e.version as i32),
        name: Set(e.name.clone()),
        provider: Set(e.provider.clone()),
        share_type: Set(enum_str(e.share_type)),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::EntryId)
                .update_columns([Column::Version, Column::Name, Column::Provider, Column::ShareType])
                .action_and_where(sea_orm::sea_query::Expr::col((Entity, Column::Version)).lt(e.version as i32))
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A withdrawn entry can no longer be requested.
pub async fn remove_entry(db: &impl ConnectionTrait, entry_id: &str) -> Result<(), DbErr> {
    entities::entry::Entity::delete_by_id(entry_id.to_owned()).exec(db).await?;
    Ok(())
}

pub async fn insert_request(
    db: &impl ConnectionTrait,
    e: &RequestSubmitted,
    purpose: Option<String>,
) -> Result<(), DbErr> {
    entities::request::ActiveModel {
        id: Set(e.request_id.clone()),
        entry_id: Set(e.entry_id.clone()),
        requester: Set(e.requester.clone()),
        provider: Set(e.provider.clone()),
        share_type: Set(enum_str(e.share_type)),
        purpose: Set(purpose),
        status: Set("submitted".into()),
        submitted_at: Set(e.submitted_at),
        reply_duty_id: Set(e.reply_duty_id.clone()),
    }
    .insert(db)
    .await?;
    Ok(())
}
