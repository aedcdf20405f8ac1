//! Downward return (Art. 24): the tables of subscriptions and their deliveries, and the
//! queries on them.

use govshare_runtime::revision::{self, Read, SaveError};
use govshare_runtime::{events::returns::ReturnDelivered, region::RegionCode};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use crate::domain::returns::{Place, Subscription};

pub mod subscription {
    //! One row per subscription: the columns it is found by, and its state as JSON.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "return_subscriptions")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub entry_id: String,
        pub provider: String,
        pub subscriber: String,
        pub region: String,
        /// Canonical: a frequency word or `cron:<six fields>`.
        pub schedule: String,
        /// `active` or `cancelled`.
        pub state: String,
        pub created_at: DateTimeUtc,
        /// JSON of [`crate::domain::returns::Subscription`].
        #[sea_orm(column_type = "Text")]
        pub body: String,
        /// Moves one on with every save; a save names the revision it read.
        pub revision: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod delivery {
    //! One row per delivery: appended, never changed.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel, serde::Serialize)]
    #[sea_orm(table_name = "return_deliveries")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub subscription_id: String,
        pub delivered_by: String,
        pub content_hash: String,
        pub record_count: i64,
        pub at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Where `org_id` sits in the directory copy; `None` when it is not there.
pub async fn place(db: &impl ConnectionTrait, org_id: &str) -> Result<Option<Place>, DbErr> {
    Ok(super::entities::org::Entity::find_by_id(org_id.to_owned())
        .one(db)
        .await?
        .map(|o| Place { authority: o.kind == "authority", region: RegionCode::parse(&o.region).ok() }))
}

pub async fn subscription(db: &impl ConnectionTrait, id: &str) -> Result<Option<Subscription>, DbErr> {
    Ok(subscription_at(db, id).await?.map(|(s, _)| s))
}

/// A subscription and the revision it was read at, for a command that will save it.
pub async fn subscription_at(db: &impl ConnectionTrait, id: &str) -> Result<Option<(Subscription, Read)>, DbErr> {
    let Some(row) = subscription::Entity::find_by_id(id.to_owned()).one(db).await? else { return Ok(None) };
    let s = serde_json::from_str(&row.body).map_err(|e| DbErr::Custom(format!("stored return subscription: {e}")))?;
    Ok(Some((s, Read::At(row.revision))))
}

/// Writes `s` as read at `read` ([`Read::New`]: a new subscription); a [`Conflict`] when
/// another call changed it meanwhile (e.g. two cancellations at once) or the id is taken.
///
/// [`Conflict`]: govshare_runtime::revision::Conflict
pub async fn save_subscription(db: &impl ConnectionTrait, s: &Subscription, read: Read) -> Result<(), SaveError> {
    use subscription::{Column, Entity};
    let row = subscription::ActiveModel {
        id: Set(s.id.clone()),
        entry_id: Set(s.entry_id.clone()),
        provider: Set(s.provider.clone()),
        subscriber: Set(s.subscriber.clone()),
        region: Set(s.region.to_string()),
        schedule: Set(s.schedule.clone()),
        state: Set(s.life.state().name().to_owned()),
        created_at: Set(s.subscribed_at),
        body: Set(serde_json::to_string(s).expect("subscriptions serialize")),
        revision: NotSet,
    };
    revision::save::<Entity>(db, "return subscription", (&[Column::Id], Column::Revision), &s.id, row, read).await
}

pub async fn insert_delivery(
    db: &impl ConnectionTrait,
    id: String,
    delivered: &ReturnDelivered,
    by: &str,
) -> Result<(), DbErr> {
    delivery::ActiveModel {
        id: Set(id),
        subscription_id: Set(delivered.subscription_id.clone()),
        delivered_by: Set(by.to_owned()),
        content_hash: Set(delivered.content_hash.clone()),
        record_count: Set(i64::try_from(delivered.record_count).unwrap_or(i64::MAX)),
        at: Set(delivered.at),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// A subscription's deliveries, oldest first.
pub async fn deliveries(db: &impl ConnectionTrait, subscription_id: &str) -> Result<Vec<delivery::Model>, DbErr> {
    use delivery::{Column, Entity};
    Entity::find()
        .filter(Column::SubscriptionId.eq(subscription_id))
        .order_by_asc(Column::At)
        .order_by_asc(Column::Id)
        .all(db)
        .await
}

/// A page of the subscriptions `org` provides or subscribed to, by id (oldest first), after `after`.
pub async fn of(
    db: &impl ConnectionTrait,
    org: &str,
    after: Option<&str>,
    fetch: u64,
) -> Result<Vec<subscription::Model>, DbErr> {
    use subscription::{Column, Entity};
    let mut q = Entity::find().filter(Condition::any().add(Column::Provider.eq(org)).add(Column::Subscriber.eq(org)));
    if let Some(after) = after {
        q = q.filter(Column::Id.gt(after));
    }
    q.order_by_asc(Column::Id).limit(fetch).all(db).await
}
