//! Channels beyond the inbox: each account's preferences, each organisation's webhook, the
//! per-organisation bus message (once per event), and the queue of email and webhook
//! deliveries with their retries.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Preferences {
    Table,
    Account,
    Org,
    Email,
    Channels,
    Digest,
    Lang,
}

#[derive(DeriveIden)]
enum Webhooks {
    Table,
    Org,
    Url,
    Secret,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OrgMessages {
    Table,
    Org,
    SourceEvent,
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    Channel,
    Org,
    Target,
    SourceEvent,
    Subject,
    Body,
    Attempts,
    NextAttemptAt,
    State,
    LastError,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Preferences::Table)
                    .if_not_exists()
                    .col(string(Preferences::Account))
                    .col(string(Preferences::Org))
                    .col(string_null(Preferences::Email))
                    .col(text(Preferences::Channels))
                    .col(boolean(Preferences::Digest))
                    .col(string(Preferences::Lang))
                    .primary_key(Index::create().col(Preferences::Org).col(Preferences::Account))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Webhooks::Table)
                    .if_not_exists()
                    .col(string(Webhooks::Org).primary_key())
                    .col(text(Webhooks::Url))
                    .col(string(Webhooks::Secret))
                    .col(timestamp_with_time_zone(Webhooks::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrgMessages::Table)
                    .if_not_exists()
                    .col(string(OrgMessages::Org))
                    .col(string(OrgMessages::SourceEvent))
                    .primary_key(Index::create().col(OrgMessages::Org).col(OrgMessages::SourceEvent))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .if_not_exists()
                    .col(string(Deliveries::Id).primary_key())
                    .col(string(Deliveries::Channel))
                    .col(string(Deliveries::Org))
                    .col(text(Deliveries::Target))
                    .col(string(Deliveries::SourceEvent))
                    .col(text(Deliveries::Subject))
                    .col(text(Deliveries::Body))
                    .col(integer(Deliveries::Attempts))
                    .col(timestamp_with_time_zone_null(Deliveries::NextAttemptAt))
                    .col(string(Deliveries::State))
                    .col(text_null(Deliveries::LastError))
                    .col(timestamp_with_time_zone(Deliveries::CreatedAt))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Once per channel, target and event, however often the event is delivered.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX IF NOT EXISTS deliveries_once ON deliveries (channel, target, source_event)",
        )
        .await?;
        // The worker reads the head of this index only: deliveries still to try, by time.
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (next_attempt_at) WHERE state = 'pending'",
        )
        .await?;
        Ok(())
    }
}
