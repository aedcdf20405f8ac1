//! A recall carries the revision it stands at (issue 13, STYLE.md §11): a save is conditional
//! on the revision its command read, so two receipts at once cannot overwrite each other.
//! Rows from before start at 0.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Recalls {
    Table,
    Revision,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Recalls::Table).add_column(integer(Recalls::Revision).default(0)).to_owned(),
            )
            .await
    }
}
