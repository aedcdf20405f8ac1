//! The catalog's own database: entities, the queries the handlers need, and migrations.

pub mod entities;
mod m20261123_100001_create_directory;

use govshare_shared::events::{
    OrgKind,
    catalog::{EntryPublished, OrganisationRegistered},
};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

use crate::domain::{Organisation, RegionCode};

/// The catalog's migrations, shared outbox and inbox first.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut m = govshare_shared::store::shared_migrations();
        m.push(Box::new(m20261123_100001_create_directory::Migration));
        m
    }
}

pub async fn organisation(db: &impl ConnectionTrait, id: &str) -> Result<Option<Organisation>, DbErr> {
    let Some(row) = entities::organisation::Entity::find_by_id(id.to_owned()).one(db).await? else {
        return Ok(None);
    };
    Ok(Some(Organisation {
        region: RegionCode::parse(&row.region).map_err(|e| DbErr::Custom(format!("stored region: {}", e.en)))?,
        kind: serde_json::from_value(serde_json::Value::String(row.kind.clone()))
            .map_err(|e| DbErr::Custom(format!("stored kind: {e}")))?,
        administrators: serde_json::from_str(&row.administrators).unwrap_or_default(),
        id: row.id,
        name: row.name,
    }))
}

/// evolve: applies a registration to the store.
pub async fn insert_organisation(db: &impl ConnectionTrait, e: &OrganisationRegistered) -> Result<(), DbErr> {
    entities::organisation::ActiveModel {
        id: Set(e.org_id.clone()),
        name: Set(e.name.clone()),
        kind: Set(kind_name(e.kind).to_owned()),
        region: Set(e.region.clone()),
        administrators: Set(serde_json::to_string(&e.administrators).expect("strings serialize")),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// evolve: applies a publication to the store.
pub async fn insert_entry(db: &impl ConnectionTrait, e: &EntryPublished) -> Result<(), DbErr> {
    entities::entry::ActiveModel {
        id: Set(e.entry_id.clone()),
        version: Set(e.version as i32),
        name: Set(e.name.clone()),
        provider: Set(e.provider.clone()),
        share_type: Set(serde_json::to_value(e.share_type).expect("enum").as_str().unwrap_or_default().to_owned()),
        status: Set("published".into()),
        published_at: Set(Some(e.published_at)),
    }
    .insert(db)
    .await?;
    Ok(())
}

fn kind_name(kind: OrgKind) -> &'static str {
    match kind {
        OrgKind::Department => "department",
        OrgKind::Authority => "authority",
    }
}
