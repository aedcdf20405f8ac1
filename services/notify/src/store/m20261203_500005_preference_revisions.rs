//! A preference row carries the revision it stands at (issue 13, STYLE.md §11): a change is
//! conditional on the revision its command read. Rows from before start at 0.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Preferences {
    Table,
    Revision,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Preferences::Table)
                    .add_column(integer(Preferences::Revision).default(0))
                    .to_owned(),
            )
            .await
    }
}
