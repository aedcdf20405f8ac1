//! The catalog read model and requests.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CatalogEntries {
    Table,
    EntryId,
    Version,
    Name,
    Provider,
    ShareType,
}

#[derive(DeriveIden)]
enum Requests {
    Table,
    Id,
    EntryId,
    Requester,
    Provider,
    ShareType,
    Purpose,
    Status,
    SubmittedAt,
    ReplyDutyId,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CatalogEntries::Table)
                    .if_not_exists()
                    .col(string(CatalogEntries::EntryId).primary_key())
                    .col(integer(CatalogEntries::Version))
                    .col(string(CatalogEntries::Name))
                    .col(string(CatalogEntries::Provider))
                    .col(string(CatalogEntries::ShareType))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Requests::Table)
                    .if_not_exists()
                    .col(string(Requests::Id).primary_key())
                    .col(string(Requests::EntryId))
                    .col(string(Requests::Requester))
                    .col(string(Requests::Provider))
                    .col(string(Requests::ShareType))
                    .col(text_null(Requests::Purpose))
                    .col(string(Requests::Status))
                    .col(timestamp_with_time_zone(Requests::SubmittedAt))
                    .col(string(Requests::ReplyDutyId))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("requests_requester")
                    .table(Requests::Table)
                    .col(Requests::Requester)
                    .to_owned(),
            )
            .await
    }
}
