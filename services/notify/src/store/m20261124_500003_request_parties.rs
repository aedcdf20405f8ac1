//! Who the parties of each request are, recorded from `request.submitted`: several requests
//! events name only one party, or none, and notify must still tell the other.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum RequestParties {
    Table,
    RequestId,
    Requester,
    Provider,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RequestParties::Table)
                    .if_not_exists()
                    .col(string(RequestParties::RequestId).primary_key())
                    .col(string(RequestParties::Requester))
                    .col(string(RequestParties::Provider))
                    .to_owned(),
            )
            .await
    }
}
