//! `/healthz` (the process is alive) and `/readyz` (its database answers and its NATS
//! connection is up), for Kubernetes probes.

use std::net::SocketAddr;

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

#[derive(Clone)]
struct Probe {
    service: &'static str,
    db: DatabaseConnection,
    nats: async_nats::Client,
}

/// Binds `addr` and serves the probes until `stop`. Returns the bound address.
pub async fn serve(
    addr: &str,
    service: &'static str,
    db: DatabaseConnection,
    nats: async_nats::Client,
    stop: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let app = Router::new().route("/healthz", get(|| async { "ok" })).route("/readyz", get(ready)).with_state(Probe {
        service,
        db,
        nats,
    });
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, app).with_graceful_shutdown(async move { stop.cancelled().await }).await;
    });
    Ok((bound, handle))
}

async fn ready(State(p): State<Probe>) -> (StatusCode, Json<serde_json::Value>) {
    let db = p.db.ping().await.is_ok();
    let nats = matches!(p.nats.connection_state(), async_nats::connection::State::Connected);
    let status = if db && nats { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(serde_json::json!({"service": p.service, "database": db, "nats": nats})))
}
