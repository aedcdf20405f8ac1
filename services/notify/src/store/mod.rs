//! The notify service's own database: its copy of the directory, and notifications.

pub mod entities;
mod m20261123_500001_create_notifications;

use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, sea_query::OnConflict};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut m = govshare_shared::store::shared_migrations();
        m.push(Box::new(m20261123_500001_create_notifications::Migration));
        m
    }
}

/// Records an organisation's administrators (and its name, when the event carries it).
pub async fn upsert_org(
    db: &impl ConnectionTrait,
    id: &str,
    name: Option<&str>,
    admins: &[String],
) -> Result<(), DbErr> {
    use entities::directory::{ActiveModel, Column, Entity};
    let row = ActiveModel {
        org_id: Set(id.to_owned()),
        name: Set(name.unwrap_or(id).to_owned()),
        administrators: Set(serde_json::to_string(admins).expect("strings serialize")),
    };
    let columns =
        if name.is_some() { vec![Column::Name, Column::Administrators] } else { vec![Column::Administrators] };
    Entity::insert(row)
        .on_conflict(OnConflict::column(Column::OrgId).update_columns(columns).to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The administrators of an organisation, or `None` if the directory has not heard of it.
pub async fn administrators(db: &impl ConnectionTrait, org: &str) -> Result<Option<Vec<String>>, DbErr> {
    Ok(entities::directory::Entity::find_by_id(org.to_owned())
        .one(db)
        .await?
        .map(|r| serde_json::from_str(&r.administrators).unwrap_or_default()))
}

/// Stores a notification once per (recipient, channel, event): a repeat inserts nothing.
/// Returns whether it was new.
pub async fn insert_once(db: &impl ConnectionTrait, row: entities::notification::ActiveModel) -> Result<bool, DbErr> {
    use entities::notification::{Column, Entity};
    let n = Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::Recipient, Column::Channel, Column::SourceEvent]).do_nothing().to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(n == 1)
}
