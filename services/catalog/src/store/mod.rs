//! The catalog's own database: loading, reading and writing, and migrations.
//!
//! Entries and organisations are saved conditional on the revision their command read
//! ([`govshare_runtime::revision`]): of two commands on one record at once, the second to
//! commit changes nothing and is answered `conflict`.

pub mod entities;
mod m20261123_100001_create_catalog;
mod m20261123_100002_search;
mod m20261123_100003_data_refreshes;
mod m20261201_100004_bus_keys;
mod m20261203_100005_revisions;
mod m20261204_100006_search_postings;
pub mod search;

use govshare_runtime::{
    Envelope,
    events::{
        OrgKind,
        catalog::{BusKeyAdded, BusKeyRevoked, DataRefreshed, OrganisationRegistered, RolesChanged, SourceDesignated},
    },
    revision::{self, Read, SaveError},
};
use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::OnConflict,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

pub use search::{bigrams, search_keys};

use crate::domain::{Level, Organisation, RegionCode, Regions, bus_keys::BusKey, entry::Entry};

/// The catalog's migrations, shared outbox and inbox first.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut m = govshare_runtime::store::shared_migrations();
        m.push(Box::new(m20261123_100001_create_catalog::Migration));
        m.push(Box::new(m20261123_100002_search::Migration));
        m.push(Box::new(m20261123_100003_data_refreshes::Migration));
        m.push(Box::new(m20261201_100004_bus_keys::Migration));
        m.push(Box::new(m20261203_100005_revisions::Migration));
        m.push(Box::new(m20261204_100006_search_postings::Migration));
        m
    }
}

fn enum_str<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("stored {what}: {e}"))
}

/// Brings the region table up to the data file: new codes are added, newly retired ones
/// marked, and a retired code is never made active again (it may not be reused).
pub async fn load_regions(db: &impl ConnectionTrait, regions: &Regions) -> Result<(), DbErr> {
    use entities::region::{ActiveModel, Column, Entity};
    let stored: std::collections::HashMap<String, entities::region::Model> =
        Entity::find().all(db).await?.into_iter().map(|r| (r.code.clone(), r)).collect();
    let mut rows = Vec::new();
    for r in regions.iter() {
        let code = r.code.to_string();
        let retired_in = match (stored.get(&code).map(|m| m.retired_in), r.retired_in) {
            (Some(Some(year)), None) => {
                tracing::warn!(%code, "the region file lists a retired code as active; it stays retired");
                Some(year)
            }
            (_, year) => year.map(i32::from),
        };
        let level = match r.code.level() {
            Level::National => "national",
            Level::Province => "province",
            Level::City => "city",
            Level::County => "county",
        };
        let row = entities::region::Model {
            code,
            name: r.name.clone(),
            level: level.into(),
            parent: regions.parent(r.code).unwrap_or(RegionCode::NATIONAL).to_string(),
            retired_in,
            dataset_version: regions.version.clone(),
        };
        // Only what changed is written: a start with the same table writes nothing.
        if stored.get(&row.code) != Some(&row) {
            rows.push(ActiveModel::from(row));
        }
    }
    for chunk in rows.chunks(200) {
        Entity::insert_many(chunk.to_vec())
            .on_conflict(
                OnConflict::column(Column::Code)
                    .update_columns([
                        Column::Name,
                        Column::Level,
                        Column::Parent,
                        Column::RetiredIn,
                        Column::DatasetVersion,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

fn to_org(row: entities::organisation::Model) -> Result<Organisation, DbErr> {
    Ok(Organisation {
        region: RegionCode::parse(&row.region).map_err(|e| corrupt("region", e.en))?,
        kind: serde_json::from_value(serde_json::Value::String(row.kind)).map_err(|e| corrupt("kind", e))?,
        roles: serde_json::from_str(&row.roles).map_err(|e| corrupt("roles", e))?,
        id: row.id,
        name: row.name,
    })
}

pub async fn organisation(db: &impl ConnectionTrait, id: &str) -> Result<Option<Organisation>, DbErr> {
    entities::organisation::Entity::find_by_id(id.to_owned()).one(db).await?.map(to_org).transpose()
}

/// An organisation and the revision it was read at, for a command that will save it.
pub async fn organisation_at(db: &impl ConnectionTrait, id: &str) -> Result<Option<(Organisation, Read)>, DbErr> {
    let Some(row) = entities::organisation::Entity::find_by_id(id.to_owned()).one(db).await? else { return Ok(None) };
    let read = Read::At(row.revision);
    Ok(Some((to_org(row)?, read)))
}

/// The sharing authority of exactly `region`.
pub async fn authority_of(db: &impl ConnectionTrait, region: RegionCode) -> Result<Option<Organisation>, DbErr> {
    use entities::organisation::{Column, Entity};
    Entity::find()
        .filter(Column::Region.eq(region.to_string()))
        .filter(Column::Kind.eq(enum_str(OrgKind::Authority)))
        .one(db)
        .await?
        .map(to_org)
        .transpose()
}

/// A new organisation; a [`revision::Conflict`] if its id was registered meanwhile.
pub async fn insert_organisation(db: &impl ConnectionTrait, e: &OrganisationRegistered) -> Result<(), SaveError> {
    use entities::organisation::{ActiveModel, Column, Entity};
    let row = ActiveModel {
        id: Set(e.org_id.clone()),
        name: Set(e.name.clone()),
        kind: Set(enum_str(e.kind)),
        region: Set(e.region.clone()),
        roles: Set(serde_json::to_string(&e.roles).expect("roles serialize")),
        revision: NotSet,
    };
    revision::save::<Entity>(db, "organisation", (&[Column::Id], Column::Revision), &e.org_id, row, Read::New).await
}

/// An organisation's new roles, as read at `read`; a [`revision::Conflict`] if they (or the
/// organisation) changed meanwhile.
pub async fn set_roles(db: &impl ConnectionTrait, e: &RolesChanged, read: Read) -> Result<(), SaveError> {
    use entities::organisation::{ActiveModel, Column, Entity};
    let row = ActiveModel {
        id: Set(e.org_id.clone()),
        roles: Set(serde_json::to_string(&e.roles).expect("roles serialize")),
        ..Default::default()
    };
    revision::save::<Entity>(db, "organisation", (&[Column::Id], Column::Revision), &e.org_id, row, read).await
}

/// An organisation, its row locked until the transaction ends (`FOR UPDATE` on PostgreSQL;
/// SQLite has one writer at a time): commands on one organisation's bus keys are taken one
/// after the other, so two concurrent adds cannot both pass the bound on active keys.
pub async fn organisation_for_update(db: &impl ConnectionTrait, id: &str) -> Result<Option<Organisation>, DbErr> {
    entities::organisation::Entity::find_by_id(id.to_owned()).lock_exclusive().one(db).await?.map(to_org).transpose()
}

/// Every key an organisation has had, revoked ones included, by public key.
pub async fn bus_keys(db: &impl ConnectionTrait, org_id: &str) -> Result<Vec<BusKey>, DbErr> {
    use entities::bus_key::{Column, Entity};
    let rows = Entity::find().filter(Column::OrgId.eq(org_id)).order_by_asc(Column::PublicKey).all(db).await?;
    Ok(rows.into_iter().map(|r| BusKey { revoked: r.revoked_at.is_some(), public_key: r.public_key }).collect())
}

/// Does an organisation other than `org_id` hold (or has it held) `public_key`?
pub async fn bus_key_held_elsewhere(db: &impl ConnectionTrait, org_id: &str, public_key: &str) -> Result<bool, DbErr> {
    use entities::bus_key::{Column, Entity};
    let row = Entity::find().filter(Column::PublicKey.eq(public_key)).filter(Column::OrgId.ne(org_id)).one(db).await?;
    Ok(row.is_some())
}

pub async fn insert_bus_key(db: &impl ConnectionTrait, e: &BusKeyAdded) -> Result<(), DbErr> {
    entities::bus_key::Entity::insert(entities::bus_key::ActiveModel {
        org_id: Set(e.org_id.clone()),
        public_key: Set(e.public_key.clone()),
        added_by: Set(e.added_by.clone()),
        added_at: Set(e.at),
        revoked_by: Set(None),
        revoked_at: Set(None),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

pub async fn revoke_bus_key(db: &impl ConnectionTrait, e: &BusKeyRevoked) -> Result<(), DbErr> {
    use entities::bus_key::{Column, Entity};
    use sea_orm::sea_query::Expr;
    Entity::update_many()
        .col_expr(Column::RevokedBy, Expr::value(e.revoked_by.clone()))
        .col_expr(Column::RevokedAt, Expr::value(e.at))
        .filter(Column::OrgId.eq(&e.org_id))
        .filter(Column::PublicKey.eq(&e.public_key))
        .filter(Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(())
}

/// The active public keys of one organisation, by public key.
pub async fn active_bus_keys(db: &impl ConnectionTrait, org_id: &str) -> Result<Vec<String>, DbErr> {
    Ok(bus_keys(db, org_id).await?.into_iter().filter(|k| !k.revoked).map(|k| k.public_key).collect())
}

/// Every registered organisation with its active public keys (possibly none, sorted), by id.
pub async fn bus_identities(db: &impl ConnectionTrait) -> Result<Vec<(Organisation, Vec<String>)>, DbErr> {
    use entities::{bus_key, organisation};
    let orgs = organisation::Entity::find().order_by_asc(organisation::Column::Id).all(db).await?;
    let mut keys: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    let active = bus_key::Entity::find()
        .filter(bus_key::Column::RevokedAt.is_null())
        .order_by_asc(bus_key::Column::OrgId)
        .order_by_asc(bus_key::Column::PublicKey)
        .all(db)
        .await?;
    for k in active {
        keys.entry(k.org_id).or_default().push(k.public_key);
    }
    orgs.into_iter()
        .map(|row| {
            let held = keys.remove(&row.id).unwrap_or_default();
            to_org(row).map(|o| (o, held))
        })
        .collect()
}

pub async fn entry(db: &impl ConnectionTrait, id: &str) -> Result<Option<Entry>, DbErr> {
    Ok(entry_at(db, id).await?.map(|(e, _)| e))
}

/// An entry and the revision it was read at, for a command that will save it.
pub async fn entry_at(db: &impl ConnectionTrait, id: &str) -> Result<Option<(Entry, Read)>, DbErr> {
    let Some(row) = entities::entry::Entity::find_by_id(id.to_owned()).one(db).await? else { return Ok(None) };
    let entry = serde_json::from_str(&row.state).map_err(|e| corrupt("entry", e))?;
    Ok(Some((entry, Read::At(row.revision))))
}

/// The entry that holds `code`, if any.
pub async fn entry_id_by_code(db: &impl ConnectionTrait, code: &str) -> Result<Option<String>, DbErr> {
    use entities::entry::{Column, Entity};
    Ok(Entity::find().filter(Column::Code.eq(code)).one(db).await?.map(|r| r.id))
}

/// Which of `ids` are catalog entries.
pub async fn known_entries(db: &impl ConnectionTrait, ids: &[String]) -> Result<Vec<String>, DbErr> {
    use entities::entry::{Column, Entity};
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Entity::find().filter(Column::Id.is_in(ids.to_vec())).all(db).await?.into_iter().map(|r| r.id).collect())
}

/// evolve's result, written: the aggregate, the published version's search columns and its
/// postings ([`search`]), as read at `read` ([`Read::New`]: a new entry). A
/// [`revision::Conflict`] when another command saved it meanwhile (or took its id).
pub async fn save_entry(db: &impl ConnectionTrait, e: &Entry, read: Read) -> Result<(), SaveError> {
    use entities::entry::{ActiveModel, Column, Entity};
    let latest = e.latest();
    let shown = e.published().unwrap_or(latest);
    // Lower-cased name and summary: matched by text searches, and what the keys are made of.
    let search_text = format!("{}\n{}", shown.name, shown.summary).to_lowercase();
    let row = ActiveModel {
        id: Set(e.id.clone()),
        code: Set(latest.code()),
        provider: Set(e.provider.clone()),
        region: Set(latest.region.clone()),
        status: Set(e.status().to_owned()),
        name: Set(shown.name.clone()),
        summary: Set(shown.summary.clone()),
        share_type: Set(enum_str(shown.share_type)),
        classification: Set(shown.classification.clone()),
        search_text: Set(search_text.clone()),
        published_version: Set(e.published().map(|p| p.version as i32)),
        // Stamped by `mark_published` (kept apart so a later draft does not move it); a
        // finished update of a published entry clears it until then.
        published_at: if read == Read::New || (e.working().is_none() && e.published().is_some()) {
            Set(None)
        } else {
            NotSet
        },
        state: Set(serde_json::to_string(e).expect("entries serialize")),
        revision: NotSet,
    };
    revision::save::<Entity>(db, "entry", (&[Column::Id], Column::Revision), &e.id, row, read).await?;
    let listed = e.published().filter(|_| !e.is_withdrawn());
    // Listed: the published version is the one shown.
    let keys = listed.map(|p| search_keys(&p.classification, &search_text)).unwrap_or_default();
    Ok(search::file_entry(db, &e.id, &latest.code(), keys).await?)
}

/// Stamps the publication time (kept apart so a later draft does not move it).
pub async fn mark_published(
    db: &impl ConnectionTrait,
    id: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<(), DbErr> {
    use entities::entry::{Column, Entity};
    Entity::update_many()
        .col_expr(Column::PublishedAt, sea_orm::sea_query::Expr::value(at))
        .filter(Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

pub async fn record_history(db: &impl ConnectionTrait, entry_id: &str, env: &Envelope) -> Result<(), DbErr> {
    entities::history::Entity::insert(entities::history::ActiveModel {
        event_id: Set(env.id.to_string()),
        entry_id: Set(entry_id.to_owned()),
        event_type: Set(env.event_type.clone()),
        data: Set(env.data.to_string()),
        at: Set(env.time),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Records a refresh, keyed by the id of the event that announced it.
pub async fn insert_refresh(
    db: &impl ConnectionTrait,
    env: &Envelope,
    e: &DataRefreshed,
    recorded_by: &str,
) -> Result<(), DbErr> {
    entities::refresh::Entity::insert(entities::refresh::ActiveModel {
        refresh_id: Set(env.id.to_string()),
        entry_id: Set(e.entry_id.clone()),
        version: Set(e.version as i32),
        refreshed_at: Set(e.refreshed_at),
        note: Set(e.note.clone()),
        recorded_by: Set(recorded_by.to_owned()),
        recorded_at: Set(env.time),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// An entry's refreshes, newest first, at most `limit`.
pub async fn refreshes(
    db: &impl ConnectionTrait,
    entry_id: &str,
    limit: u64,
) -> Result<Vec<entities::refresh::Model>, DbErr> {
    use entities::refresh::{Column, Entity};
    Entity::find()
        .filter(Column::EntryId.eq(entry_id))
        .order_by_desc(Column::RefreshedAt)
        .order_by_desc(Column::RefreshId)
        .limit(limit)
        .all(db)
        .await
}

pub async fn upsert_source(db: &impl ConnectionTrait, e: &SourceDesignated) -> Result<(), DbErr> {
    use entities::source::{ActiveModel, Column, Entity};
    Entity::insert(ActiveModel {
        id: Set(e.designation_id.clone()),
        region: Set(e.region.clone()),
        item: Set(e.item.clone()),
        department: Set(e.department.clone()),
        designated_by: Set(e.designated_by.clone()),
        at: Set(e.at),
    })
    .on_conflict(
        OnConflict::columns([Column::Region, Column::Item])
            .update_columns([Column::Id, Column::Department, Column::DesignatedBy, Column::At])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}
