//! The recall service's own database.
//!
//! A recall is saved conditional on the revision its command read
//! ([`govshare_runtime::revision`]): of two receipts at once, the second to commit changes
//! nothing and is answered `conflict`, instead of writing over the first.

pub mod entities;
mod m20261123_400001_create_entries;
mod m20261123_400002_recalls;
mod m20261201_400004_issues;
mod m20261203_400003_revisions;

use chrono::{DateTime, Utc};
use govshare_runtime::{
    EventMeta,
    events::catalog::EntryPublished,
    revision::{self, Read, SaveError},
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, IntoActiveModel, QueryFilter, QuerySelect,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut m = govshare_runtime::store::shared_migrations();
        m.push(Box::new(m20261123_400001_create_entries::Migration));
        m.push(Box::new(m20261123_400002_recalls::Migration));
        m.push(Box::new(m20261203_400003_revisions::Migration));
        m.push(Box::new(m20261201_400004_issues::Migration));
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
/// walks. (Loaded whole, only the columns the walk reads: a recall is rare; see the benchmark
/// for 100,000 holders.)
pub async fn holders_graph(
    db: &impl ConnectionTrait,
) -> Result<(Vec<crate::domain::recall::Grant>, crate::domain::recall::Lineage), DbErr> {
    use entities::{entry, grant};
    let grants: Vec<(String, String, String, String)> = grant::Entity::find()
        .select_only()
        .columns([grant::Column::RequestId, grant::Column::EntryId, grant::Column::Holder, grant::Column::Versions])
        .into_tuple()
        .all(db)
        .await?;
    let grants = grants
        .into_iter()
        .map(|(request_id, entry_id, holder, versions)| crate::domain::recall::Grant {
            versions: serde_json::from_str(&versions).unwrap_or_default(),
            request_id,
            entry_id,
            holder,
        })
        .collect();
    let entries: Vec<(String, String, String)> = entry::Entity::find()
        .select_only()
        .columns([entry::Column::EntryId, entry::Column::Provider, entry::Column::DerivedFrom])
        .into_tuple()
        .all(db)
        .await?;
    let mut lineage = crate::domain::recall::Lineage::default();
    for (entry_id, provider, derived_from) in entries {
        let from: Vec<String> = serde_json::from_str(&derived_from).unwrap_or_default();
        lineage.add(&entry_id, &provider, &from);
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

/// Where issuing a recall's orders stands, as [`crate::issuer`] goes on with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub recall_id: String,
    /// Messages committed so far, of `total`.
    pub issued: usize,
    pub total: usize,
    pub receipt_days: u32,
    /// Of the command that started the recall: every message it issues carries it.
    pub meta: EventMeta,
}

impl Issue {
    fn of(row: entities::recall_issue::Model) -> Result<Self, DbErr> {
        Ok(Self {
            meta: serde_json::from_str(&row.meta).map_err(|e| DbErr::Custom(format!("stored issue meta: {e}")))?,
            recall_id: row.recall_id,
            issued: row.issued.max(0) as usize,
            total: row.total.max(0) as usize,
            receipt_days: row.receipt_days.max(0) as u32,
        })
    }
}

/// Records that `issue` has begun, held by its issuer until `lease_until`: in the transaction
/// that saves the recall, so a recall is never kept without its issue.
pub async fn open_issue(db: &impl ConnectionTrait, issue: &Issue, lease_until: DateTime<Utc>) -> Result<(), DbErr> {
    use entities::recall_issue::{ActiveModel, Entity};
    Entity::insert(ActiveModel {
        recall_id: Set(issue.recall_id.clone()),
        issued: Set(count(issue.issued)?),
        total: Set(count(issue.total)?),
        receipt_days: Set(issue.receipt_days as i32),
        meta: Set(serde_json::to_string(&issue.meta).expect("metas serialize")),
        lease_until: Set(lease_until),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

fn count(n: usize) -> Result<i32, DbErr> {
    i32::try_from(n).map_err(|_| DbErr::Custom(format!("{n} messages do not fit one recall")))
}

/// How many of recall `id`'s messages are in JetStream; `None` for a recall whose messages
/// went to the outbox in the transaction that started it (a grant's end, and recalls from
/// before issues).
pub async fn issued(db: &impl ConnectionTrait, id: &str) -> Result<Option<usize>, DbErr> {
    use entities::recall_issue::{Column, Entity};
    let issued: Option<i32> =
        Entity::find_by_id(id.to_owned()).select_only().column(Column::Issued).into_tuple().one(db).await?;
    Ok(issued.map(|n| n.max(0) as usize))
}

/// Moves recall `id`'s issue from `from` to `to` and holds it until `lease_until`, if it still
/// stands at `from`: `false` (nothing changed) when another issuer moved it meanwhile.
pub async fn advance_issue(
    db: &impl ConnectionTrait,
    id: &str,
    from: usize,
    to: usize,
    lease_until: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use entities::recall_issue::{Column, Entity};
    let moved = Entity::update_many()
        .col_expr(Column::Issued, sea_orm::sea_query::Expr::value(count(to)?))
        .col_expr(Column::LeaseUntil, sea_orm::sea_query::Expr::value(lease_until))
        .filter(Column::RecallId.eq(id))
        .filter(Column::Issued.eq(count(from)?))
        .exec(db)
        .await?;
    Ok(moved.rows_affected == 1)
}

/// The unfinished issues nobody holds at `now`: their issuer stopped (a crash, a failed
/// stretch) and someone must go on with them.
pub async fn stalled_issues(db: &impl ConnectionTrait, now: DateTime<Utc>) -> Result<Vec<Issue>, DbErr> {
    use entities::recall_issue::{Column, Entity};
    use sea_orm::sea_query::{Expr, ExprTrait};
    let rows = Entity::find()
        .filter(Expr::col(Column::Issued).lt(Expr::col(Column::Total)))
        .filter(Column::LeaseUntil.lt(now))
        .all(db)
        .await?;
    rows.into_iter().map(Issue::of).collect()
}
