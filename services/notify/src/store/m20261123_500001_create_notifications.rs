//! The directory copy and notifications.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Directory {
    Table,
    OrgId,
    Name,
    Administrators,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    Recipient,
    Org,
    Channel,
    SourceEvent,
    Message,
    CreatedAt,
    ReadAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Directory::Table)
                    .if_not_exists()
                    .col(string(Directory::OrgId).primary_key())
                    .col(string(Directory::Name))
                    .col(text(Directory::Administrators))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .if_not_exists()
                    .col(string(Notifications::Id).primary_key())
                    .col(string(Notifications::Recipient))
                    .col(string(Notifications::Org))
                    .col(string(Notifications::Channel))
                    .col(string(Notifications::SourceEvent))
                    .col(text(Notifications::Message))
                    .col(timestamp_with_time_zone(Notifications::CreatedAt))
                    .col(timestamp_with_time_zone_null(Notifications::ReadAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .unique()
                    .name("notifications_once")
                    .table(Notifications::Table)
                    .col(Notifications::Recipient)
                    .col(Notifications::Channel)
                    .col(Notifications::SourceEvent)
                    .to_owned(),
            )
            .await
    }
}
