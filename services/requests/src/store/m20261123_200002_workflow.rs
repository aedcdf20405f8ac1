//! The whole workflow: each request's state (reply, delivery, grant, verifications) as one
//! document beside its indexed columns; the catalog read model's full view; the directory
//! copy (sign-offs, the same-level authority); providers' settings; usage records (Art. 29).
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CatalogEntries {
    Table,
    View,
}

#[derive(DeriveIden)]
enum Requests {
    Table,
    State,
}

#[derive(DeriveIden)]
enum Orgs {
    Table,
    OrgId,
    Kind,
    Region,
    Roles,
}

#[derive(DeriveIden)]
enum ProviderSettings {
    Table,
    OrgId,
    AutoApproveUnconditional,
}

#[derive(DeriveIden)]
enum UsageRecords {
    Table,
    Id,
    RequestId,
    RecordedBy,
    At,
    KeepUntil,
    Body,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(CatalogEntries::Table).add_column(text_null(CatalogEntries::View)).to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table(Requests::Table).add_column(text_null(Requests::State)).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Orgs::Table)
                    .if_not_exists()
                    .col(string(Orgs::OrgId).primary_key())
                    .col(string(Orgs::Kind))
                    .col(string(Orgs::Region))
                    .col(text(Orgs::Roles))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS orgs_authority ON orgs (region) WHERE kind = 'authority'")
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProviderSettings::Table)
                    .if_not_exists()
                    .col(string(ProviderSettings::OrgId).primary_key())
                    .col(boolean(ProviderSettings::AutoApproveUnconditional))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UsageRecords::Table)
                    .if_not_exists()
                    .col(string(UsageRecords::Id).primary_key())
                    .col(string(UsageRecords::RequestId))
                    .col(string(UsageRecords::RecordedBy))
                    .col(timestamp_with_time_zone(UsageRecords::At))
                    .col(timestamp_with_time_zone(UsageRecords::KeepUntil))
                    .col(text(UsageRecords::Body))
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared("CREATE INDEX IF NOT EXISTS usage_records_request ON usage_records (request_id, at)")
            .await?;
        Ok(())
    }
}
