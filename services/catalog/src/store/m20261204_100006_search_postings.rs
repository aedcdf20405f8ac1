//! Search finds a page from indexes alone, the same on PostgreSQL and SQLite (issue 15).
//!
//! `entry_keys (key, entry_id)` gave the entries holding a key in id order, so a page in code
//! order meant walking `entries` in code order and probing the keys for each (45,020 probes for
//! a classification held from the middle of the code range on), or fetching every match's row
//! to sort it. It is replaced by:
//! - `entry_postings (key, code, entry_id)`, keyed in that order: a key's entries in code
//!   order, a page being the first rows of one index range, and two keys joined on code;
//! - `search_key_counts (key, holders)`: how many entries hold each key, exactly, kept with the
//!   postings, so the rarest keys drive a search without counting at query time;
//! - the `entries_listed_*` partial indexes again, covering: after their columns `id` and the
//!   two columns of their predicate, so a page of field filters (provider, region, share type,
//!   none) is read from the index without the row and its ~1 KB `state` (SQLite reads an
//!   index as covering only if it holds every column the query names, the predicate's too;
//!   without them it walked `entries_code` and read every row up to the page).
//!
//! The keys are now the classification paths and the bigrams and trigrams of the text
//! ([`search_keys`]). Existing listed entries are filed here from their stored columns, as
//! `save_entry` files them, then `entry_keys` is dropped.
use sea_orm::{ActiveValue::Set, DbBackend, EntityTrait, Statement};
use sea_orm_migration::prelude::*;

use super::{entities::posting, search::search_keys};

#[derive(DeriveMigrationName)]
pub struct Migration;

const LISTED: &str = "published_version IS NOT NULL AND status <> 'withdrawn'";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let db = m.get_connection();
        // SQLite: WITHOUT ROWID makes the primary key the table itself, so a posting list is
        // one b-tree range (a rowid table would keep a second copy in its key index).
        // PostgreSQL has no clustered tables; its index-only scans read the same range from the
        // primary key.
        let clustered = match db.get_database_backend() {
            DbBackend::Sqlite => " WITHOUT ROWID",
            _ => "",
        };
        db.execute_unprepared(&format!(
            "CREATE TABLE IF NOT EXISTS entry_postings (
                key varchar NOT NULL,
                code varchar NOT NULL,
                entry_id varchar NOT NULL,
                PRIMARY KEY (key, code, entry_id)
            ){clustered}"
        ))
        .await?;
        for sql in [
            "CREATE INDEX IF NOT EXISTS entry_postings_entry ON entry_postings (entry_id)",
            "CREATE TABLE IF NOT EXISTS search_key_counts (key varchar NOT NULL PRIMARY KEY, holders integer NOT NULL)",
        ] {
            db.execute_unprepared(sql).await?;
        }
        let listed = db
            .query_all_raw(Statement::from_string(
                db.get_database_backend(),
                format!("SELECT id, code, classification, search_text FROM entries WHERE {LISTED}"),
            ))
            .await?;
        // Written 300 postings a statement, never all in memory at once.
        let mut rows = Vec::new();
        for r in listed {
            let (id, code): (String, String) = (r.try_get("", "id")?, r.try_get("", "code")?);
            let (classification, text): (String, String) =
                (r.try_get("", "classification")?, r.try_get("", "search_text")?);
            for key in search_keys(&classification, &text) {
                rows.push(posting::ActiveModel { key: Set(key), code: Set(code.clone()), entry_id: Set(id.clone()) });
                if rows.len() == 300 {
                    posting::Entity::insert_many(std::mem::take(&mut rows)).exec_without_returning(db).await?;
                }
            }
        }
        if !rows.is_empty() {
            posting::Entity::insert_many(rows).exec_without_returning(db).await?;
        }
        for sql in [
            "INSERT INTO search_key_counts (key, holders) SELECT key, COUNT(*) FROM entry_postings GROUP BY key",
            "DROP TABLE entry_keys",
        ] {
            db.execute_unprepared(sql).await?;
        }
        for (name, cols) in [
            ("listed_code", "code"),
            ("listed_provider", "provider, code"),
            ("listed_region", "region, share_type, code"),
            ("listed_share_type", "share_type, code"),
        ] {
            db.execute_unprepared(&format!("DROP INDEX IF EXISTS entries_{name}")).await?;
            db.execute_unprepared(&format!(
                "CREATE INDEX IF NOT EXISTS entries_{name}_id ON entries ({cols}, id, published_version, status) \
                 WHERE {LISTED}"
            ))
            .await?;
        }
        Ok(())
    }
}
