//! `data_refreshes`: each data refresh a provider recorded for a published entry (Art. 13),
//! read newest first per entry.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum DataRefreshes {
    Table,
    RefreshId,
    EntryId,
    Version,
    RefreshedAt,
    Note,
    RecordedBy,
    RecordedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(DataRefreshes::Table)
                .if_not_exists()
                .col(string(DataRefreshes::RefreshId).primary_key())
                .col(string(DataRefreshes::EntryId))
                .col(integer(DataRefreshes::Version))
                .col(timestamp_with_time_zone(DataRefreshes::RefreshedAt))
                .col(text_null(DataRefreshes::Note))
                .col(string(DataRefreshes::RecordedBy))
                .col(timestamp_with_time_zone(DataRefreshes::RecordedAt))
                .to_owned(),
        )
        .await?;
        m.get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS data_refreshes_entry ON data_refreshes (entry_id, refreshed_at)",
            )
            .await?;
        Ok(())
    }
}
