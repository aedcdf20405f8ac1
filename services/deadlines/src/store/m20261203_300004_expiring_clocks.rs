//! Which clocks are ends, not deadlines (`Term::Expires`, issue 13 item 5): an expiring clock
//! is reminded and announced once, never escalated, and is not listed as overdue. Default
//! false, so every clock opened before stays a deadline.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clocks {
    Table,
    Expires,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Clocks::Table).add_column(boolean(Clocks::Expires).default(false)).to_owned(),
            )
            .await
    }
}
