//! Every aggregate row carries the revision it stands at (issue 13, STYLE.md §11): a save of
//! an entry or an organisation is conditional on the revision its command read. Rows from
//! before start at 0.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Entries {
    Table,
    Revision,
}

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Revision,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        manager
            .alter_table(
                Table::alter().table(Entries::Table).add_column(integer(Entries::Revision).default(0)).to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Organisations::Table)
                    .add_column(integer(Organisations::Revision).default(0))
                    .to_owned(),
            )
            .await
    }
}
