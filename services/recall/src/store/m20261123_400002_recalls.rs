//! Lineage (each entry's `derived_from`), the grants that received data (from delivery
//! records), and recalls with their orders and receipts.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Entries {
    Table,
    DerivedFrom,
}

#[derive(DeriveIden)]
enum Grants {
    Table,
    RequestId,
    EntryId,
    Holder,
    Versions,
    Ended,
}

#[derive(DeriveIden)]
enum Recalls {
    Table,
    Id,
    EntryId,
    Provider,
    Completed,
    StartedAt,
    State,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Entries::Table).add_column(text(Entries::DerivedFrom).default("[]")).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Grants::Table)
                    .if_not_exists()
                    .col(string(Grants::RequestId).primary_key())
                    .col(string(Grants::EntryId))
                    .col(string(Grants::Holder))
                    .col(text(Grants::Versions))
                    .col(boolean(Grants::Ended))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS grants_entry ON grants (entry_id)").await?;
        manager
            .create_table(
                Table::create()
                    .table(Recalls::Table)
                    .if_not_exists()
                    .col(string(Recalls::Id).primary_key())
                    .col(string(Recalls::EntryId))
                    .col(string(Recalls::Provider))
                    .col(boolean(Recalls::Completed))
                    .col(timestamp_with_time_zone(Recalls::StartedAt))
                    .col(text(Recalls::State))
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS recalls_provider ON recalls (provider, started_at)").await?;
        Ok(())
    }
}
