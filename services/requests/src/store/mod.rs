//! The requests service's own database.
//!
//! Requests, disputes and return subscriptions are saved conditional on the revision their
//! command read ([`govshare_runtime::revision`]): of two commands on one record at once, the
//! second to commit changes nothing and is answered `conflict`.

pub mod disputes;
pub mod entities;
mod m20261123_200001_create_requests;
mod m20261123_200002_workflow;
mod m20261123_200003_returns;
mod m20261123_200004_disputes;
mod m20261203_200005_revisions;
pub mod returns;

use govshare_runtime::{
    events::{
        ShareType,
        catalog::{EntryPublished, Roles},
    },
    revision::{self, Read, SaveError},
};
use sea_orm::{
    ActiveValue::NotSet,
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, Set,
    sea_query::{ExprTrait, OnConflict},
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

use crate::domain::{EntryView, Request};

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut m = govshare_runtime::store::shared_migrations();
        m.push(Box::new(m20261123_200001_create_requests::Migration));
        m.push(Box::new(m20261123_200002_workflow::Migration));
        m.push(Box::new(m20261123_200003_returns::Migration));
        m.push(Box::new(m20261123_200004_disputes::Migration));
        m.push(Box::new(m20261203_200005_revisions::Migration));
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
    if let Some(view) = &row.view {
        return serde_json::from_str(view).map(Some).map_err(|e| DbErr::Custom(format!("stored entry view: {e}")));
    }
    Ok(Some(EntryView {
        share_type: parse_enum::<ShareType>(&row.share_type)?,
        entry_id: row.entry_id,
        version: row.version as u32,
        name: row.name,
        provider: row.provider,
        items: Vec::new(),
        share_methods: Vec::new(),
        not_shared_reason: None,
        legal_basis: None,
    }))
}

/// Keeps the read model at the newest published version.
pub async fn upsert_entry(db: &impl ConnectionTrait, published: &EntryPublished) -> Result<(), DbErr> {
    use entities::entry::{ActiveModel, Column, Entity};
    let e = &published.entry;
    let view = EntryView {
        entry_id: e.entry_id.clone(),
        version: e.version,
        name: e.name.clone(),
        provider: e.provider.clone(),
        share_type: e.share_type,
        items: e.items.iter().map(|i| i.name.clone()).collect(),
        share_methods: e.share_methods.clone(),
        not_shared_reason: e.not_shared_reason.clone(),
        legal_basis: e.legal_basis.clone(),
    };
    let row = ActiveModel {
        entry_id: Set(e.entry_id.clone()),
        version: Set(e.version as i32),
        name: Set(e.name.clone()),
        provider: Set(e.provider.clone()),
        share_type: Set(enum_str(e.share_type)),
        view: Set(Some(serde_json::to_string(&view).expect("views serialize"))),
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::EntryId)
                .update_columns([Column::Version, Column::Name, Column::Provider, Column::ShareType, Column::View])
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

/// A request and the grant it became.
pub async fn request(db: &impl ConnectionTrait, id: &str) -> Result<Option<Request>, DbErr> {
    Ok(request_at(db, id).await?.map(|(r, _)| r))
}

/// A request and the revision it was read at, for a command that will save it.
pub async fn request_at(db: &impl ConnectionTrait, id: &str) -> Result<Option<(Request, Read)>, DbErr> {
    let Some(row) = entities::request::Entity::find_by_id(id.to_owned()).one(db).await? else { return Ok(None) };
    match row.state {
        Some(state) => serde_json::from_str(&state)
            .map(|r| Some((r, Read::At(row.revision))))
            .map_err(|e| DbErr::Custom(format!("stored request: {e}"))),
        // Requests from before the workflow was stored (the thin flow) are not workable.
        None => Ok(None),
    }
}

/// evolve's result, written with its indexed columns, as read at `read` ([`Read::New`]: a
/// new request). A [`revision::Conflict`] when another command saved it meanwhile.
pub async fn save_request(db: &impl ConnectionTrait, r: &Request, read: Read) -> Result<(), SaveError> {
    use entities::request::{ActiveModel, Column, Entity};
    let row = ActiveModel {
        id: Set(r.id.clone()),
        entry_id: Set(r.entry.entry_id.clone()),
        requester: Set(r.requester.clone()),
        provider: Set(r.entry.provider.clone()),
        share_type: Set(enum_str(r.entry.share_type)),
        purpose: Set(Some(r.form.scenario.clone())),
        status: Set(r.status().name().to_owned()),
        submitted_at: Set(r.submitted_at),
        reply_duty_id: Set(crate::domain::reply_duty_id(&r.id)),
        state: Set(Some(serde_json::to_string(r).expect("requests serialize"))),
        revision: NotSet,
    };
    revision::save::<Entity>(db, "request", (&[Column::Id], Column::Revision), &r.id, row, read).await
}

/// The directory copy: one row per organisation.
pub async fn upsert_org(
    db: &impl ConnectionTrait,
    org_id: &str,
    place: Option<(&str, &str)>,
    roles: &Roles,
) -> Result<(), DbErr> {
    use entities::org::{ActiveModel, Column, Entity};
    let (kind, region) = place.unwrap_or(("department", ""));
    let row = ActiveModel {
        org_id: Set(org_id.to_owned()),
        kind: Set(kind.to_owned()),
        region: Set(region.to_owned()),
        roles: Set(serde_json::to_string(roles).expect("roles serialize")),
    };
    let columns = if place.is_some() { vec![Column::Kind, Column::Region, Column::Roles] } else { vec![Column::Roles] };
    Entity::insert(row)
        .on_conflict(OnConflict::column(Column::OrgId).update_columns(columns).to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

pub async fn roles(db: &impl ConnectionTrait, org_id: &str) -> Result<Roles, DbErr> {
    Ok(entities::org::Entity::find_by_id(org_id.to_owned())
        .one(db)
        .await?
        .and_then(|r| serde_json::from_str(&r.roles).ok())
        .unwrap_or_default())
}

/// The sharing authority at `org_id`'s own region (本级主管部门).
pub async fn same_level_authority(db: &impl ConnectionTrait, org_id: &str) -> Result<Option<String>, DbErr> {
    use entities::org::{Column, Entity};
    let Some(org) = Entity::find_by_id(org_id.to_owned()).one(db).await? else { return Ok(None) };
    if org.kind == "authority" {
        return Ok(Some(org.org_id));
    }
    Ok(Entity::find()
        .filter(Column::Kind.eq("authority"))
        .filter(Column::Region.eq(org.region))
        .order_by_asc(Column::OrgId)
        .one(db)
        .await?
        .map(|a| a.org_id))
}

pub async fn auto_approve(db: &impl ConnectionTrait, org_id: &str) -> Result<bool, DbErr> {
    Ok(entities::provider_setting::Entity::find_by_id(org_id.to_owned())
        .one(db)
        .await?
        .is_some_and(|s| s.auto_approve_unconditional))
}

pub async fn set_auto_approve(db: &impl ConnectionTrait, org_id: &str, on: bool) -> Result<(), DbErr> {
    use entities::provider_setting::{ActiveModel, Column, Entity};
    let row = ActiveModel { org_id: Set(org_id.to_owned()), auto_approve_unconditional: Set(on) };
    Entity::insert(row)
        .on_conflict(OnConflict::column(Column::OrgId).update_column(Column::AutoApproveUnconditional).to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The sharing authority registered at `region`, or at the nearest region above it that has
/// one (the tree may skip a level: Beijing's districts sit under 110000).
pub async fn authority_at_or_above(
    db: &impl ConnectionTrait,
    region: govshare_runtime::region::RegionCode,
) -> Result<Option<String>, DbErr> {
    use entities::org::{Column, Entity};
    for r in std::iter::once(region).chain(region.ancestors()) {
        let found = Entity::find()
            .filter(Column::Kind.eq("authority"))
            .filter(Column::Region.eq(r.to_string()))
            .order_by_asc(Column::OrgId)
            .one(db)
            .await?;
        if let Some(a) = found {
            return Ok(Some(a.org_id));
        }
    }
    Ok(None)
}
