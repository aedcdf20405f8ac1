//! Where issuing each recall's orders stands (issue 15): a recall of 100,000 holders is
//! 200,000 messages, published a stretch at a time; `issued` moves past a stretch once
//! JetStream has stored all of it, so an issue cut off by a crash goes on where it stopped.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RecallIssues {
    Table,
    RecallId,
    Issued,
    Total,
    ReceiptDays,
    Meta,
    LeaseUntil,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RecallIssues::Table)
                    .if_not_exists()
                    .col(string(RecallIssues::RecallId).primary_key())
                    .col(integer(RecallIssues::Issued))
                    .col(integer(RecallIssues::Total))
                    .col(integer(RecallIssues::ReceiptDays))
                    .col(text(RecallIssues::Meta))
                    .col(timestamp_with_time_zone(RecallIssues::LeaseUntil))
                    .to_owned(),
            )
            .await?;
        // Only unfinished issues are indexed: the sweep for stalled ones stays small.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS recall_issues_unfinished ON recall_issues (lease_until) \
                 WHERE issued < total",
            )
            .await?;
        Ok(())
    }
}
