//! Search without table scans, the same on PostgreSQL and SQLite: partial indexes over the
//! listed (published, not withdrawn) entries for the equality filters, and `entry_keys`, an
//! inverted index of classification paths and name/summary bigrams (Chinese text has no
//! spaces, so bigrams are the usual unit).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum EntryKeys {
    Table,
    Key,
    EntryId,
}

const LISTED: &str = "published_version IS NOT NULL AND status <> 'withdrawn'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(EntryKeys::Table)
                .if_not_exists()
                .col(string(EntryKeys::Key))
                .col(string(EntryKeys::EntryId))
                .primary_key(Index::create().col(EntryKeys::Key).col(EntryKeys::EntryId))
                .to_owned(),
        )
        .await?;
        let db = m.get_connection();
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS entry_keys_entry ON entry_keys (entry_id)").await?;
        for (name, cols) in [
            ("listed_code", "code"),
            ("listed_provider", "provider, code"),
            ("listed_region", "region, share_type, code"),
            ("listed_share_type", "share_type, code"),
        ] {
            db.execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS entries_{name} ON entries ({cols}) WHERE {LISTED}"
            ))
            .await?;
        }
        Ok(())
    }
}
