//! Each service's own database: PostgreSQL in production, SQLite on one machine, one code
//! path through sea-orm. Migrations run at start.
//!
//! SQLite is opened in WAL mode (readers never block the writer) with a single pooled
//! connection: SQLite allows one writer, and a second pooled connection would only queue on
//! its lock with `SQLITE_BUSY` surprises. A consequence every service respects: never query
//! the pool while holding a transaction from it.

use std::time::Duration;

use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};
use sea_orm_migration::{MigrationTrait, MigratorTrait};

/// Connects, applying the SQLite settings above when the URL is SQLite.
pub async fn connect(url: &str, max_connections: u32) -> Result<DatabaseConnection, DbErr> {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.sqlx_logging(false).acquire_timeout(Duration::from_secs(30));
    if url.starts_with("sqlite:") {
        opts.max_connections(1).min_connections(1).map_sqlx_sqlite_opts(|o| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            o.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Full)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true)
                .create_if_missing(true)
        });
    } else {
        opts.max_connections(max_connections);
        let tls_asked = url.contains("sslmode=");
        opts.map_sqlx_postgres_opts(move |o| {
            if !tls_asked && is_local(o.get_host()) {
                o.ssl_mode(sea_orm::sqlx::postgres::PgSslMode::Disable)
            } else {
                o
            }
        });
    }
    Database::connect(opts).await
}

/// Is `host` this machine? sqlx's default `sslmode=prefer` negotiates TLS with any server
/// that has it on, a local one too, and rustls then costs CPU on every round trip (issue 15's
/// intake profile). So a URL with no `sslmode` speaks plain to a loopback host or a Unix
/// socket, where TLS protects nothing; any other host, or any `sslmode` written in the URL,
/// keeps what sqlx and the URL say.
fn is_local(host: &str) -> bool {
    matches!(host, "localhost" | "127.0.0.1" | "::1" | "[::1]") || host.starts_with('/')
}

/// Connects and brings the schema up to date.
pub async fn connect_and_migrate<M: MigratorTrait>(
    url: &str,
    max_connections: u32,
) -> Result<DatabaseConnection, DbErr> {
    let db = connect(url, max_connections).await?;
    if url.starts_with("postgres") {
        // Replicas starting together must not run the same migration twice: hold a
        // session-level advisory lock on a connection of its own while migrating.
        let lock = connect(url, 1).await?;
        lock.execute_unprepared(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})")).await?;
        let result = M::up(&db, None).await;
        lock.execute_unprepared(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})")).await?;
        lock.close().await?;
        result?;
    } else {
        M::up(&db, None).await?;
    }
    Ok(db)
}

/// Advisory lock key taken while migrating ("govshare" in ASCII, as a number).
const MIGRATION_LOCK: i64 = 0x676f_7673_6861_7265;

/// The migrations every service carries (outbox and inbox), to list first in its migrator.
pub fn shared_migrations() -> Vec<Box<dyn MigrationTrait>> {
    vec![
        Box::new(crate::outbox::migration::Migration),
        Box::new(crate::inbox::migration::Migration),
        Box::new(crate::idempotency::migration::Migration),
    ]
}

/// Is this a PostgreSQL connection? (Only the outbox claim differs, by one lock clause.)
pub fn is_postgres(db: &impl sea_orm::ConnectionTrait) -> bool {
    db.get_database_backend() == DbBackend::Postgres
}

/// Serializes a column that holds JSON as text (a list, an object) as that JSON, so answers
/// show `["a","b"]`, never `"[\"a\",\"b\"]"` (issue 13 item 5). Text that is not JSON is
/// shown as it is. Use with `#[serde(serialize_with = "govshare_runtime::store::json_text")]`.
pub fn json_text<S: serde::Serializer>(text: &str, serializer: S) -> Result<S::Ok, S::Error> {
    use serde::Serialize;
    match serde_json::from_str::<serde_json::Value>(text) {
        Ok(value) => value.serialize(serializer),
        Err(_) => serializer.serialize_str(text),
    }
}

#[cfg(test)]
mod tests {
    use super::is_local;

    #[test]
    fn only_loopback_hosts_and_sockets_count_as_local() {
        for host in ["localhost", "127.0.0.1", "::1", "[::1]", "/var/run/postgresql"] {
            assert!(is_local(host), "{host}");
        }
        for host in ["db", "10.0.0.5", "postgres.govshare.svc", "127.0.0.2.example"] {
            assert!(!is_local(host), "{host}");
        }
    }
}
