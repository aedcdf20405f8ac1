//! The catalog read model.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Entries {
    Table,
    EntryId,
    Version,
    Name,
    Provider,
    PublishedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Entries::Table)
                    .if_not_exists()
                    .col(string(Entries::EntryId).primary_key())
                    .col(integer(Entries::Version))
                    .col(string(Entries::Name))
                    .col(string(Entries::Provider))
                    .col(timestamp_with_time_zone(Entries::PublishedAt))
                    .to_owned(),
            )
            .await
    }
}
