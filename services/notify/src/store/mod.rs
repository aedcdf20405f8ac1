//! The notify service's own database: its copy of the directory, the parties of each request,
//! and notifications. Preferences are saved conditional on the revision read
//! ([`govshare_runtime::revision`]).

pub mod entities;
mod m20261123_500001_create_notifications;
mod m20261123_500002_directory_places_and_roles;
mod m20261124_500003_request_parties;
mod m20261124_500004_channels;
mod m20261203_500005_preference_revisions;

use govshare_runtime::{
    events::{
        OrgKind,
        catalog::{OrganisationRegistered, Roles},
    },
    region::RegionCode,
    revision::{self, Read, SaveError},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, sea_query::OnConflict,
};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

use crate::domain::{Org, Parties, Place};

pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        let mut m = govshare_runtime::store::shared_migrations();
        m.push(Box::new(m20261123_500001_create_notifications::Migration));
        m.push(Box::new(m20261123_500002_directory_places_and_roles::Migration));
        m.push(Box::new(m20261124_500003_request_parties::Migration));
        m.push(Box::new(m20261124_500004_channels::Migration));
        m.push(Box::new(m20261203_500005_preference_revisions::Migration));
        m
    }
}

/// Records a newly registered organisation: its name, place and all its roles. (A repeat
/// overwrites: the catalog registers an organisation once, so a repeat is a replay.)
pub async fn record_org(db: &impl ConnectionTrait, e: &OrganisationRegistered, place: Place) -> Result<(), DbErr> {
    use entities::directory::{ActiveModel, Column, Entity};
    let row = ActiveModel {
        org_id: Set(e.org_id.clone()),
        name: Set(e.name.clone()),
        kind: Set(Some(enum_str(place.kind))),
        region: Set(Some(place.region.to_string())),
        ..roles_row(&e.roles)
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::OrgId)
                .update_columns([
                    Column::Name,
                    Column::Kind,
                    Column::Region,
                    Column::Administrators,
                    Column::Head,
                    Column::SharingOffice,
                    Column::SharingOfficeHead,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Replaces an organisation's roles, keeping its name and place.
pub async fn record_roles(db: &impl ConnectionTrait, org_id: &str, roles: &Roles) -> Result<(), DbErr> {
    use entities::directory::{ActiveModel, Column, Entity};
    // Not heard of yet (cannot happen in stream order): known by its id until registered.
    let row = ActiveModel {
        org_id: Set(org_id.to_owned()),
        name: Set(org_id.to_owned()),
        kind: Set(None),
        region: Set(None),
        ..roles_row(roles)
    };
    Entity::insert(row)
        .on_conflict(
            OnConflict::column(Column::OrgId)
                .update_columns([
                    Column::Administrators,
                    Column::Head,
                    Column::SharingOffice,
                    Column::SharingOfficeHead,
                ])
                .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

fn roles_row(roles: &Roles) -> entities::directory::ActiveModel {
    let list = |l: &Vec<String>| Set(serde_json::to_string(l).expect("strings serialize"));
    entities::directory::ActiveModel {
        administrators: list(&roles.administrators),
        head: list(&roles.head),
        sharing_office: list(&roles.sharing_office),
        sharing_office_head: list(&roles.sharing_office_head),
        ..Default::default()
    }
}

/// An organisation as the directory copy has it, or `None` if it has not heard of it.
pub async fn org(db: &impl ConnectionTrait, id: &str) -> Result<Option<Org>, DbErr> {
    entities::directory::Entity::find_by_id(id.to_owned()).one(db).await?.map(to_org).transpose()
}

/// The authorities registered at any of `regions`.
pub async fn authorities_at(db: &impl ConnectionTrait, regions: &[RegionCode]) -> Result<Vec<Org>, DbErr> {
    use entities::directory::{Column, Entity};
    if regions.is_empty() {
        return Ok(Vec::new());
    }
    Entity::find()
        .filter(Column::Kind.eq(enum_str(OrgKind::Authority)))
        .filter(Column::Region.is_in(regions.iter().map(|r| r.to_string())))
        .order_by_asc(Column::OrgId)
        .all(db)
        .await?
        .into_iter()
        .map(to_org)
        .collect()
}

fn to_org(row: entities::directory::Model) -> Result<Org, DbErr> {
    let list = |what: &str, raw: &str| -> Result<Vec<String>, DbErr> {
        serde_json::from_str(raw).map_err(|e| corrupt(what, e))
    };
    let place = match (row.kind, row.region) {
        (Some(kind), Some(region)) => Some(Place {
            kind: serde_json::from_value(serde_json::Value::String(kind)).map_err(|e| corrupt("kind", e))?,
            region: RegionCode::parse(&region).map_err(|e| corrupt("region", e.en))?,
        }),
        _ => None,
    };
    Ok(Org {
        roles: Roles {
            administrators: list("administrators", &row.administrators)?,
            head: list("head", &row.head)?,
            sharing_office: list("sharing_office", &row.sharing_office)?,
            sharing_office_head: list("sharing_office_head", &row.sharing_office_head)?,
        },
        id: row.org_id,
        name: row.name,
        place,
    })
}

fn enum_str<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(format!("stored {what}: {e}"))
}

/// Records who the parties of a request are. A repeat changes nothing: a request's parties
/// never change.
pub async fn record_request(db: &impl ConnectionTrait, request_id: &str, parties: &Parties) -> Result<(), DbErr> {
    use entities::request_parties::{ActiveModel, Column, Entity};
    let row = ActiveModel {
        request_id: Set(request_id.to_owned()),
        requester: Set(parties.requester.clone()),
        provider: Set(parties.provider.clone()),
    };
    Entity::insert(row)
        .on_conflict(OnConflict::column(Column::RequestId).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// The parties of a request, or `None` if notify has not heard it submitted.
pub async fn request_parties(db: &impl ConnectionTrait, request_id: &str) -> Result<Option<Parties>, DbErr> {
    let row = entities::request_parties::Entity::find_by_id(request_id.to_owned()).one(db).await?;
    Ok(row.map(|r| Parties { requester: r.requester, provider: r.provider }))
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

/// How `account` of `org` wants to hear; `None`: the inbox only.
pub async fn preference(
    db: &impl ConnectionTrait,
    org: &str,
    account: &str,
) -> Result<Option<entities::preference::Model>, DbErr> {
    entities::preference::Entity::find_by_id((org.to_owned(), account.to_owned())).one(db).await
}

/// An account's preferences and the revision they were read at ([`Read::New`]: none yet),
/// for a change that will save them.
pub async fn preference_at(
    db: &impl ConnectionTrait,
    org: &str,
    account: &str,
) -> Result<(Option<entities::preference::Model>, Read), DbErr> {
    let p = preference(db, org, account).await?;
    let read = p.as_ref().map_or(Read::New, |p| Read::At(p.revision));
    Ok((p, read))
}

/// Writes an account's preferences as read at `read`; a [`revision::Conflict`] when another
/// change (or a first setting) was saved meanwhile, so no change is silently written over.
pub async fn set_preference(
    db: &impl ConnectionTrait,
    p: entities::preference::Model,
    read: Read,
) -> Result<(), SaveError> {
    use entities::preference::{ActiveModel, Column, Entity};
    let id = format!("{}/{}", p.org, p.account);
    let mut row: ActiveModel = p.into();
    row.revision = sea_orm::ActiveValue::NotSet;
    revision::save::<Entity>(db, "preferences", (&[Column::Org, Column::Account], Column::Revision), &id, row, read)
        .await
}

pub async fn webhook(db: &impl ConnectionTrait, org: &str) -> Result<Option<entities::webhook::Model>, DbErr> {
    entities::webhook::Entity::find_by_id(org.to_owned()).one(db).await
}

/// Records that `org` was sent its bus message about `source_event`; `false` if it was before.
pub async fn org_message_once(db: &impl ConnectionTrait, org: &str, source_event: &str) -> Result<bool, DbErr> {
    use entities::org_message::{ActiveModel, Column, Entity};
    let row = ActiveModel { org: Set(org.to_owned()), source_event: Set(source_event.to_owned()) };
    let n = Entity::insert(row)
        .on_conflict(OnConflict::columns([Column::Org, Column::SourceEvent]).do_nothing().to_owned())
        .exec_without_returning(db)
        .await?;
    Ok(n == 1)
}

/// Queues a delivery once per channel, target and event; `false` if it was queued before.
pub async fn enqueue(db: &impl ConnectionTrait, d: entities::delivery::Model) -> Result<bool, DbErr> {
    use entities::delivery::{ActiveModel, Column, Entity};
    let row: ActiveModel = d.into();
    let n = Entity::insert(row)
        .on_conflict(
            OnConflict::columns([Column::Channel, Column::Target, Column::SourceEvent]).do_nothing().to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(n == 1)
}
