//! The recall service's own database.

pub mod entities;
mod m20261123_400001_create_entries;

use govshare_shared::events::catalog::EntryPublished;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut m = govshare_shared::store::shared_migrations();
        m.push(Box::new(m20261123_400001_create_entries::Migration));
        m
    }
}

/// evolve: keeps the newest published version of each entry.
pub async fn apply_published(db: &impl ConnectionTrait, published: &EntryPublished) -> Result<(), DbErr> {
    use entities::entry::{ActiveModel, Entity};
    let (e, published_at) = (&published.entry, published.published_at);
    let stored = Entity::find_by_id(e.entry_id.clone()).one(db).await?;
    if !crate::domain::supersedes(e.version, stored.as_ref().map(|s| s.version as u32)) {
        return Ok(());
    }
    match stored {
        None => {
            ActiveModel {
                entry_id: Set(e.entry_id.clone()),
                version: Set(e.version as i32),
                name: Set(e.name.clone()),
                provider: Set(e.provider.clone()),
                published_at: Set(published_at),
            }
            .insert(db)
            .await?;
        }
        Some(row) => {
            let mut row = row.into_active_model();
            row.version = Set(e.version as i32);
            row.name = Set(e.name.clone());
            row.provider = Set(e.provider.clone());
            row.published_at = Set(published_at);
            row.update(db).await?;
        }
    }
    Ok(())
}
