//! Downward return (Art. 24): one row per subscription, its state as a document beside the
//! columns it is found by; one row per delivery, never changed.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReturnSubscriptions {
    Table,
    Id,
    EntryId,
    Provider,
    Subscriber,
    Region,
    Schedule,
    State,
    CreatedAt,
    Body,
}

#[derive(DeriveIden)]
enum ReturnDeliveries {
    Table,
    Id,
    SubscriptionId,
    DeliveredBy,
    ContentHash,
    RecordCount,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReturnSubscriptions::Table)
                    .if_not_exists()
                    .col(string(ReturnSubscriptions::Id).primary_key())
                    .col(string(ReturnSubscriptions::EntryId))
                    .col(string(ReturnSubscriptions::Provider))
                    .col(string(ReturnSubscriptions::Subscriber))
                    .col(string(ReturnSubscriptions::Region))
                    .col(string(ReturnSubscriptions::Schedule))
                    .col(string(ReturnSubscriptions::State))
                    .col(timestamp_with_time_zone(ReturnSubscriptions::CreatedAt))
                    .col(text(ReturnSubscriptions::Body))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReturnDeliveries::Table)
                    .if_not_exists()
                    .col(string(ReturnDeliveries::Id).primary_key())
                    .col(string(ReturnDeliveries::SubscriptionId))
                    .col(string(ReturnDeliveries::DeliveredBy))
                    .col(string(ReturnDeliveries::ContentHash))
                    .col(big_integer(ReturnDeliveries::RecordCount))
                    .col(timestamp_with_time_zone(ReturnDeliveries::At))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS return_subscriptions_provider ON return_subscriptions (provider)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS return_subscriptions_subscriber ON return_subscriptions (subscriber)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS return_deliveries_subscription ON return_deliveries (subscription_id, at)",
        )
        .await?;
        Ok(())
    }
}
