//! Organisations and catalog entries.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
    Name,
    Kind,
    Region,
    Administrators,
}

#[derive(DeriveIden)]
enum Entries {
    Table,
    Id,
    Version,
    Name,
    Provider,
    ShareType,
    Status,
    PublishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organisations::Table)
                    .if_not_exists()
                    .col(string(Organisations::Id).primary_key())
                    .col(string(Organisations::Name))
                    .col(string(Organisations::Kind))
                    .col(string(Organisations::Region))
                    .col(text(Organisations::Administrators))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Entries::Table)
                    .if_not_exists()
                    .col(string(Entries::Id).primary_key())
                    .col(integer(Entries::Version))
                    .col(string(Entries::Name))
                    .col(string(Entries::Provider))
                    .col(string(Entries::ShareType))
                    .col(string(Entries::Status))
                    .col(timestamp_with_time_zone_null(Entries::PublishedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("entries_provider")
                    .table(Entries::Table)
                    .col(Entries::Provider)
                    .to_owned(),
            )
            .await
    }
}
