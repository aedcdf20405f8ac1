//! Idempotent commands. A department system that retries a command (its reply was lost, it
//! crashed before reading it) sends the same `Govshare-Idempotency-Key` header, and the
//! command takes effect once.
//!
//! The key is recorded **in the transaction of the command's effect** (by
//! [`crate::Context::commit`], which reads the key of the call in hand), so an effect and its
//! key commit together or not at all. The answer is stored right after; a retry gets the
//! stored answer. In the window between the two (a crash after the commit), a retry is told
//! `conflict: already applied` instead of applying again.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use crate::reply::{ApiError, ErrorCode};

/// Header carrying the key. Keys are per acting organisation.
pub const HEADER: &str = govshare_contract::bus::IDEMPOTENCY_HEADER;

/// The command in hand and its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallKey {
    pub org: String,
    pub key: String,
    pub call: String,
}

tokio::task_local! {
    /// The key of the command being answered on this task, if it carries one.
    pub static CURRENT: Option<CallKey>;
}

/// The key of the call in hand.
pub fn current() -> Option<CallKey> {
    CURRENT.try_with(Clone::clone).ok().flatten()
}

/// What an earlier command with the same key left.
pub async fn lookup(
    db: &impl ConnectionTrait,
    k: &CallKey,
) -> Result<Option<Result<serde_json::Value, ApiError>>, DbErr> {
    let Some(row) = entity::Entity::find_by_id((k.org.clone(), k.key.clone())).one(db).await? else { return Ok(None) };
    if row.call != k.call {
        return Ok(Some(Err(ApiError::with_text(
            ErrorCode::Conflict,
            format!("幂等键 {} 已用于 {}", k.key, row.call),
            format!("idempotency key {} was used for {}", k.key, row.call),
        ))));
    }
    Ok(Some(match row.response {
        Some(text) => Ok(serde_json::from_str(&text).unwrap_or_default()),
        None => Err(ApiError::with_text(
            ErrorCode::Conflict,
            format!("该命令（幂等键 {}）已执行", k.key),
            format!("the command with idempotency key {} was already applied", k.key),
        )),
    }))
}

/// Records the key inside the effect's transaction. A concurrent twin fails here and rolls
/// its effect back.
pub async fn record(tx: &impl ConnectionTrait, k: &CallKey, now: DateTime<Utc>) -> Result<(), DbErr> {
    entity::Entity::insert(entity::ActiveModel {
        org: Set(k.org.clone()),
        key: Set(k.key.clone()),
        call: Set(k.call.clone()),
        response: Set(None),
        created_at: Set(now),
    })
    .exec_without_returning(tx)
    .await?;
    Ok(())
}

/// Stores the answer after the commit.
pub async fn store_response(db: &impl ConnectionTrait, k: &CallKey, response: &serde_json::Value) -> Result<(), DbErr> {
    entity::Entity::update_many()
        .col_expr(entity::Column::Response, sea_orm::sea_query::Expr::value(response.to_string()))
        .filter(entity::Column::Org.eq(&k.org))
        .filter(entity::Column::Key.eq(&k.key))
        .exec(db)
        .await?;
    Ok(())
}

/// Deletes keys older than `cutoff`, a small batch at a time (a retry comes within minutes;
/// the table must not grow without end).
pub async fn trim(db: &impl ConnectionTrait, cutoff: DateTime<Utc>) -> Result<u64, DbErr> {
    use sea_orm::QuerySelect;
    let mut total = 0;
    loop {
        let keys: Vec<(String, String)> = entity::Entity::find()
            .select_only()
            .column(entity::Column::Org)
            .column(entity::Column::Key)
            .filter(entity::Column::CreatedAt.lt(cutoff))
            .limit(500)
            .into_tuple()
            .all(db)
            .await?;
        if keys.is_empty() {
            return Ok(total);
        }
        for (org, key) in keys {
            total += entity::Entity::delete_by_id((org, key)).exec(db).await?.rows_affected;
        }
    }
}

#[cfg(test)]
mod tests {
    use sea_orm_migration::{MigrationTrait, MigratorTrait};

    use super::*;

    struct Only;
    impl MigratorTrait for Only {
        fn migrations() -> Vec<Box<dyn MigrationTrait>> {
            vec![Box::new(migration::Migration)]
        }
    }

    fn key(k: &str) -> CallKey {
        CallKey { org: "gz-ga".into(), key: k.into(), call: "save_draft".into() }
    }

    #[tokio::test]
    async fn a_key_answers_its_retry_and_is_trimmed_after_the_retention() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let db = crate::store::connect_and_migrate::<Only>(&url, 1).await.unwrap();
        let old: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        record(&db, &key("a"), old).await.unwrap();
        assert!(lookup(&db, &key("a")).await.unwrap().unwrap().is_err(), "applied, answer not stored yet");
        store_response(&db, &key("a"), &serde_json::json!({"entry_id": "e1"})).await.unwrap();
        assert_eq!(lookup(&db, &key("a")).await.unwrap().unwrap().unwrap()["entry_id"], "e1");
        let other = CallKey { call: "submit_entry".into(), ..key("a") };
        assert_eq!(lookup(&db, &other).await.unwrap().unwrap().unwrap_err().code, ErrorCode::Conflict);
        record(&db, &key("b"), old + chrono::Duration::days(10)).await.unwrap();
        assert_eq!(trim(&db, old + chrono::Duration::days(1)).await.unwrap(), 1);
        assert!(lookup(&db, &key("a")).await.unwrap().is_none());
        assert!(lookup(&db, &key("b")).await.unwrap().is_some());
    }
}

pub mod entity {
    //! `idempotency`: keys of applied commands and their answers.
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub org: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub key: String,
        pub call: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub response: Option<String>,
        pub created_at: DateTimeUtc,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod migration {
    //! Creates `idempotency`.
    use sea_orm_migration::{prelude::*, schema::*};

    pub struct Migration;

    impl MigrationName for Migration {
        fn name(&self) -> &str {
            "m20261123_000003_create_idempotency"
        }
    }

    #[derive(DeriveIden)]
    enum Idempotency {
        Table,
        Org,
        Key,
        Call,
        Response,
        CreatedAt,
    }

    #[async_trait::async_trait]
    impl MigrationTrait for Migration {
        async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
            manager
                .create_table(
                    Table::create()
                        .table(Idempotency::Table)
                        .if_not_exists()
                        .col(string(Idempotency::Org))
                        .col(string(Idempotency::Key))
                        .col(string(Idempotency::Call))
                        .col(text_null(Idempotency::Response))
                        .col(timestamp_with_time_zone(Idempotency::CreatedAt))
                        .primary_key(Index::create().col(Idempotency::Org).col(Idempotency::Key))
                        .to_owned(),
                )
                .await
        }
    }
}
