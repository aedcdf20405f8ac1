//! Disputes (Art. 28): one row per case, its state as a document.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Disputes {
    Table,
    Id,
    Claimant,
    Respondent,
    HandledBy,
    Step,
    Closed,
    OpenedAt,
    State,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Disputes::Table)
                    .if_not_exists()
                    .col(string(Disputes::Id).primary_key())
                    .col(string(Disputes::Claimant))
                    .col(string(Disputes::Respondent))
                    .col(string(Disputes::HandledBy))
                    .col(string(Disputes::Step))
                    .col(boolean(Disputes::Closed))
                    .col(timestamp_with_time_zone(Disputes::OpenedAt))
                    .col(text(Disputes::State))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS disputes_claimant ON disputes (claimant)").await?;
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS disputes_respondent ON disputes (respondent)").await?;
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS disputes_handled_by ON disputes (handled_by)").await?;
        Ok(())
    }
}
