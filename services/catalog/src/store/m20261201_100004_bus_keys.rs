//! `bus_keys`: the public part of each organisation's NATS user nkeys (issue 12), kept after
//! revocation so that a revoked key is never accepted again and the record says who did what.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum BusKeys {
    Table,
    OrgId,
    PublicKey,
    AddedBy,
    AddedAt,
    RevokedBy,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(BusKeys::Table)
                .if_not_exists()
                .col(string(BusKeys::OrgId))
                .col(string(BusKeys::PublicKey))
                .col(string(BusKeys::AddedBy))
                .col(timestamp_with_time_zone(BusKeys::AddedAt))
                .col(string_null(BusKeys::RevokedBy))
                .col(timestamp_with_time_zone_null(BusKeys::RevokedAt))
                .primary_key(Index::create().col(BusKeys::OrgId).col(BusKeys::PublicKey))
                .to_owned(),
        )
        .await?;
        // A key is one identity: the same public key may not belong to two organisations.
        m.get_connection()
            .execute_unprepared("CREATE UNIQUE INDEX IF NOT EXISTS bus_keys_public_key ON bus_keys (public_key)")
            .await?;
        Ok(())
    }
}
