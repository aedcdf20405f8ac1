//! The directory copy keeps each organisation's kind and region (to find the authorities an
//! escalation reaches) and all four role lists (to reach the sharing office and the head).
//! Rows recorded before this migration knew administrators only: they get no kind or region
//! and empty role lists, and are completed by the next `OrganisationRegistered` or
//! `RolesChanged` for them.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Directory {
    Table,
    Kind,
    Region,
    Head,
    SharingOffice,
    SharingOfficeHead,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite's ALTER TABLE adds one at a time.
        for column in [
            string_null(Directory::Kind),
            string_null(Directory::Region),
            text(Directory::Head).default("[]").to_owned(),
            text(Directory::SharingOffice).default("[]").to_owned(),
            text(Directory::SharingOfficeHead).default("[]").to_owned(),
        ] {
            manager.alter_table(Table::alter().table(Directory::Table).add_column(column).to_owned()).await?;
        }
        // An escalation looks up the authority of a region.
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("directory_kind_region")
                    .table(Directory::Table)
                    .col(Directory::Kind)
                    .col(Directory::Region)
                    .to_owned(),
            )
            .await
    }
}
