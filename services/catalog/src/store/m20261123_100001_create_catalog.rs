//! Regions, organisations, entries, their history, and source designations.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Regions {
    Table,
    Code,
    Name,
    Level,
    Parent,
    RetiredIn,
    DatasetVersion,
}

#[derive(DeriveIden)]
enum Organisations {
    Table,
    Id,
    Name,
    Kind,
    Region,
    Roles,
}

#[derive(DeriveIden)]
enum Entries {
    Table,
    Id,
    Code,
    Provider,
    Region,
    Status,
    Name,
    Summary,
    ShareType,
    Classification,
    SearchText,
    PublishedVersion,
    PublishedAt,
    State,
}

#[derive(DeriveIden)]
enum EntryHistory {
    Table,
    EventId,
    EntryId,
    EventType,
    Data,
    At,
}

#[derive(DeriveIden)]
enum SourceDesignations {
    Table,
    Id,
    Region,
    Item,
    Department,
    DesignatedBy,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Regions::Table)
                .if_not_exists()
                .col(string(Regions::Code).primary_key())
                .col(string(Regions::Name))
                .col(string(Regions::Level))
                .col(string(Regions::Parent))
                .col(integer_null(Regions::RetiredIn))
                .col(string(Regions::DatasetVersion))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Organisations::Table)
                .if_not_exists()
                .col(string(Organisations::Id).primary_key())
                .col(string(Organisations::Name))
                .col(string(Organisations::Kind))
                .col(string(Organisations::Region))
                .col(text(Organisations::Roles))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(Entries::Table)
                .if_not_exists()
                .col(string(Entries::Id).primary_key())
                .col(string(Entries::Code))
                .col(string(Entries::Provider))
                .col(string(Entries::Region))
                .col(string(Entries::Status))
                .col(string(Entries::Name))
                .col(text(Entries::Summary))
                .col(string(Entries::ShareType))
                .col(string(Entries::Classification))
                .col(text(Entries::SearchText))
                .col(integer_null(Entries::PublishedVersion))
                .col(timestamp_with_time_zone_null(Entries::PublishedAt))
                .col(text(Entries::State))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(EntryHistory::Table)
                .if_not_exists()
                .col(string(EntryHistory::EventId).primary_key())
                .col(string(EntryHistory::EntryId))
                .col(string(EntryHistory::EventType))
                .col(text(EntryHistory::Data))
                .col(timestamp_with_time_zone(EntryHistory::At))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table(SourceDesignations::Table)
                .if_not_exists()
                .col(string(SourceDesignations::Id).primary_key())
                .col(string(SourceDesignations::Region))
                .col(string(SourceDesignations::Item))
                .col(string(SourceDesignations::Department))
                .col(string(SourceDesignations::DesignatedBy))
                .col(timestamp_with_time_zone(SourceDesignations::At))
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        for sql in [
            "CREATE UNIQUE INDEX IF NOT EXISTS organisations_one_authority ON organisations (region) WHERE kind = 'authority'",
            "CREATE UNIQUE INDEX IF NOT EXISTS entries_code ON entries (code)",
            "CREATE INDEX IF NOT EXISTS entries_provider ON entries (provider)",
            "CREATE INDEX IF NOT EXISTS entries_region ON entries (region)",
            "CREATE INDEX IF NOT EXISTS entries_share_type ON entries (share_type)",
            "CREATE INDEX IF NOT EXISTS entries_classification ON entries (classification)",
            "CREATE INDEX IF NOT EXISTS entry_history_entry ON entry_history (entry_id, at)",
            "CREATE UNIQUE INDEX IF NOT EXISTS source_designations_item ON source_designations (region, item)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
