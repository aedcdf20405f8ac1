//! Clocks, and the partial index the scanner finds due clocks by.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Clocks {
    Table,
    DutyId,
    Article,
    Holder,
    AboutKind,
    AboutId,
    Title,
    State,
    OpenedAt,
    DueAt,
    RemainingDays,
    BreachedAt,
    ClosedAt,
    Closure,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Clocks::Table)
                    .if_not_exists()
                    .col(string(Clocks::DutyId).primary_key())
                    .col(integer(Clocks::Article))
                    .col(string(Clocks::Holder))
                    .col(string(Clocks::AboutKind))
                    .col(string(Clocks::AboutId))
                    .col(text(Clocks::Title))
                    .col(string(Clocks::State))
                    .col(timestamp_with_time_zone(Clocks::OpenedAt))
                    .col(timestamp_with_time_zone_null(Clocks::DueAt))
                    .col(integer_null(Clocks::RemainingDays))
                    .col(timestamp_with_time_zone_null(Clocks::BreachedAt))
                    .col(timestamp_with_time_zone_null(Clocks::ClosedAt))
                    .col(string_null(Clocks::Closure))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Only clocks that can still breach are indexed, by due time: the scanner reads the
        // head of this index, never the table (Zeebe's timer storms came from scanning).
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS clocks_pending_due ON clocks (due_at) \
             WHERE state = 'open' AND breached_at IS NULL",
        )
        .await?;
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS clocks_holder ON clocks (holder, state)").await?;
        Ok(())
    }
}
