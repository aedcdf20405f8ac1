//! Who opened each duty (issue 12): only that service may change it afterwards. Nullable,
//! so that clocks and recurring duties opened before keep working: NULL accepts any opener.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clocks {
    Table,
    OpenedBy,
}

#[derive(DeriveIden)]
enum Recurrences {
    Table,
    OpenedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        manager
            .alter_table(Table::alter().table(Clocks::Table).add_column(string_null(Clocks::OpenedBy)).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter().table(Recurrences::Table).add_column(string_null(Recurrences::OpenedBy)).to_owned(),
            )
            .await
    }
}
