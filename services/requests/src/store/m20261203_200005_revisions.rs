//! Every aggregate row carries the revision it stands at (issue 13, STYLE.md §11): a save is
//! conditional on the revision its command read. Rows from before start at 0.
use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        govshare_runtime::revision::add_revision_columns(manager, &["requests", "disputes", "return_subscriptions"])
            .await
    }
}
