//! The recall service's own database.
//!
//! A recall is saved conditional on the revision its command read
//! ([`govshare_runtime::revision`]): of two receipts at once, the second to commit changes
//! nothing and is answered `conflict`, instead of writing over the first.

pub mod entities;
mod m20261123_400001_create_entries;
mod m20261123_400002_recalls;
mod m20261203_400003_revisions;

use govshare_runtime::{
    events::catalog::EntryPublished,
    revision::{self, Read, SaveError},
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ConnectionTrait, DbErr, EntityTrait, IntoActiveModel,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut m = govshare_runtime::store::shared_migrations();
        m.push(Box::new(m20261123_400001_create_entries::Migration));
        m.push(Box::new(m20261123_400002_recalls::Migration));
        m.push(Box::new(m20261203_400003_revisions::Migration));
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
                derived_from: Set(serde_json::to_string(&e.derived_from).expect("strings serialize")),
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
            row.derived_from = Set(serde_json::to_string(&e.derived_from).expect("strings serialize"));
            row.update(db).await?;
        }
    }
    Ok(())
}

/// A delivery: the grant holds `version` of `entry_id` from now on.
pub async fn record_delivery(
    db: &impl ConnectionTrait,
    request_id: &str,
    entry_id: &str,
    holder: &str,
    version: u32,
) -> Result<(), DbErr> {
    use entities::grant::{ActiveModel, Entity};
    let existing = Entity::find_by_id(request_id.to_owned()).one(db).await?;
    let mut versions: std::collections::BTreeSet<u32> =
        existing.as_ref().and_then(|g| serde_json::from_str(&g.versions).ok()).unwrap_or_default();
    versions.insert(version);
    let versions = serde_json::to_string(&versions).expect("numbers serialize");
    match existing {
        Some(row) => {
            let mut row = row.into_active_model();
            row.versions = Set(versions);
            row.update(db).await?;
        }
        None => {
            ActiveModel {
                request_id: Set(request_id.to_owned()),
                entry_id: Set(entry_id.to_owned()),
                holder: Set(holder.to_owned()),
                versions: Set(versions),
                ended: Set(false),
            }
            .insert(db)
            .await?;
        }
    }
    Ok(())
}

/// Every grant that received data, and the lineage: what [`crate::domain::recall::holders`]
/// walks. (Loaded whole: a recall is rare; see the benchmark for 100,000 holders.)
pub async fn holders_graph(
    db: &impl ConnectionTrait,
) -> Result<(Vec<crate::domain::recall::Grant>, crate::domain::recall::Lineage), DbErr> {
    let grants = entities::grant::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|g| crate::domain::recall::Grant {
            versions: serde_json::from_str(&g.versions).unwrap_or_default(),
            request_id: g.request_id,
            entry_id: g.entry_id,
            holder: g.holder,
        })
        .collect();
    let mut lineage = crate::domain::recall::Lineage::default();
    for e in entities::entry::Entity::find().all(db).await? {
        let from: Vec<String> = serde_json::from_str(&e.derived_from).unwrap_or_default();
        lineage.add(&e.entry_id, &e.provider, &from);
    }
    Ok((grants, lineage))
}

pub async fn recall(db: &impl ConnectionTrait, id: &str) -> Result<Option<crate::domain::recall::Recall>, DbErr> {
    Ok(recall_at(db, id).await?.map(|(r, _)| r))
}

/// A recall and the revision it was read at, for a command that will save it.
pub async fn recall_at(
    db: &impl ConnectionTrait,
    id: &str,
) -> Result<Option<(crate::domain::recall::Recall, Read)>, DbErr> {
    let Some(row) = entities::recall::Entity::find_by_id(id.to_owned()).one(db).await? else { return Ok(None) };
    let r = serde_json::from_str(&row.state).map_err(|e| DbErr::Custom(format!("stored recall: {e}")))?;
    Ok(Some((r, Read::At(row.revision))))
}

/// Writes a recall as read at `read` ([`Read::New`]: a new one); a [`revision::Conflict`]
/// when another command saved it meanwhile (or took its id).
pub async fn save_recall(
    db: &impl ConnectionTrait,
    r: &crate::domain::recall::Recall,
    read: Read,
) -> Result<(), SaveError> {
    use entities::recall::{ActiveModel, Column, Entity};
    let row = ActiveModel {
        id: Set(r.id.clone()),
        entry_id: Set(r.entry_id.clone()),
        provider: Set(r.provider.clone()),
        completed: Set(r.is_complete()),
        started_at: Set(r.started_at),
        state: Set(serde_json::to_string(r).expect("recalls serialize")),
        revision: NotSet,
    };
    revision::save::<Entity>(db, "recall", (&[Column::Id], Column::Revision), &r.id, row, read).await
}
